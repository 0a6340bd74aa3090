/**
 * Captured log output: a pino destination and a winston stream transport that keep every line,
 * and a parser that turns them into JSON records.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import winston from 'winston';
import { pinoCorrelation, pinoMixin, winstonFormat, type PinoCorrelationOptions, type PinoMixinOptions, type TraceFieldsOptions } from '@ctxprop/logging';

export type LogRecord = Record<string, unknown>;

/** Keeps each written chunk; `records()` parses one JSON object per line. */
export class LineSink {
  readonly chunks: string[] = [];

  write(chunk: string | Buffer): boolean {
    this.chunks.push(chunk.toString());
    return true;
  }

  records(): LogRecord[] {
    return this.chunks
      .join('')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as LogRecord);
  }
}

/** A real pino logger with the ctxprop mixin, writing synchronously to a {@link LineSink}. */
export function capturedPino(options?: PinoMixinOptions): { logger: pino.Logger; sink: LineSink } {
  const sink = new LineSink();
  const logger = pino({ mixin: pinoMixin(options) }, sink);
  return { logger, sink };
}

/** A real pino logger with `pinoCorrelation()` (the fields in pino's timestamp), writing to a {@link LineSink}. */
export function capturedPinoCorrelation(options?: PinoCorrelationOptions): { logger: pino.Logger; sink: LineSink } {
  const sink = new LineSink();
  const logger = pino({ ...pinoCorrelation(options) }, sink);
  return { logger, sink };
}

/** A real winston logger with the ctxprop format, writing through a Stream transport to a {@link LineSink}. */
export function capturedWinston(options?: TraceFieldsOptions): { logger: winston.Logger; sink: LineSink } {
  const sink = new LineSink();
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sink.write(chunk);
      callback();
    },
  });
  const logger = winston.createLogger({
    format: winston.format.combine(winstonFormat(options), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, sink };
}

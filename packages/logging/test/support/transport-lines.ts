/**
 * The lines a pino transport worker wrote (fixtures/line-file-transport.mjs writes each line to a
 * file), read once the worker has ended and closed.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type pino from 'pino';
import type { LogRecord } from './capture';

/** Ends `transport`, waits for its worker to close, and parses every line of `destination`. */
export async function endAndReadLines(transport: ReturnType<typeof pino.transport>, destination: string): Promise<LogRecord[]> {
  const closed = once(transport, 'close');
  transport.end();
  await closed;
  return readFileSync(destination, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as LogRecord);
}

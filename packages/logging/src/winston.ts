/**
 * winston: a format that adds the trace fields to each entry, usable in `format.combine(...)`.
 *
 * winston runs the logger's formats inside the log call, in the caller's context, as long as its
 * transports keep up. When a transport is slow, winston (a readable-stream Transform) buffers
 * entries and runs the formats later, from the transport's callback, in another request's
 * context. {@link captureWinstonContext} pins the caller's context to each entry inside the log
 * call, and the format uses it, so the fields are right either way.
 */
import { context, propagation, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { InvalidOptionError } from '@ctxprop/core';
import { resolveOptions, WINSTON_KEYS, type TraceFieldsOptions } from './options.js';
import { createFieldsFactory } from './trace-fields.js';

// Shared by every copy of the package (the ESM and the CJS build loaded side by side), so a
// logger patched by one copy serves the format of another: the key of the holder on an entry, the
// mark of a patched write, and the brand a holder made by any copy carries (`instanceof` would
// only know the holders of its own copy).
const CAPTURED_CONTEXT = Symbol.for('ctxprop.logging.winston.context');
const PATCHED = Symbol.for('ctxprop.logging.winston.patched');
const CAPTURED_CONTEXT_BRAND = Symbol.for('ctxprop.logging.winston.captured-context');

/**
 * What an entry carries from the log call to a format that runs later. winston copies an entry's
 * own enumerable properties, symbols included, to each transport, so the captured context must be
 * one of them to reach a transport's format; a transport without the format prints whatever it is
 * given (`format.prettyPrint()` prints symbol keys). So the entry holds this opaque holder, which
 * prints as a label and serializes to nothing, and never the context itself, whose baggage may
 * hold values the sensitive-data guard keeps out of logs. Formats leave it on the entry, for the
 * formats after them (a second `winstonFormat()`, a transport's); each log call through a
 * captured logger replaces it.
 */
class CapturedContext {
  readonly #context: Context;

  /**
   * Keeps the span and the baggage of `active` as they are now: a request's context made by
   * ctxprop's adapters stays the same object when `req.setBaggage()` changes its baggage, which
   * may happen before winston formats a buffered entry.
   */
  constructor(active: Context) {
    const span = trace.getSpan(active);
    const baggage = propagation.getBaggage(active);
    let captured = ROOT_CONTEXT;
    if (span !== undefined) captured = trace.setSpan(captured, span);
    if (baggage !== undefined) captured = propagation.setBaggage(captured, baggage);
    this.#context = captured;
  }

  get context(): Context {
    return this.#context;
  }

  get [CAPTURED_CONTEXT_BRAND](): true {
    return true;
  }

  toJSON(): undefined {
    return undefined;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return '[the log call\'s context]';
  }
}

/** A holder pinned by any copy of the package. */
function isCapturedContext(value: unknown): value is { readonly context: Context } {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CAPTURED_CONTEXT_BRAND] === true;
}

/**
 * A winston (logform) format: an object with `transform(info)`, accepted by `format.combine()`,
 * `createLogger({ format })` and a transport's `format`.
 *
 * @example
 * ```ts
 * const correlation: WinstonTraceFormat = winstonFormat({ preset: 'datadog' });
 * ```
 */
export interface WinstonTraceFormat {
  /** The options the format was created with. */
  readonly options: TraceFieldsOptions;
  /** Adds the trace fields to `info` (keys already in `info` are kept) and returns it. */
  transform<T extends object>(info: T): T;
}

/**
 * The part of a winston logger that {@link captureWinstonContext} needs.
 *
 * @example
 * ```ts
 * const target: WinstonLoggerLike = winston.createLogger();
 * ```
 */
export interface WinstonLoggerLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  write(chunk: any, ...rest: any[]): boolean;
}

/**
 * Creates a winston format that adds the trace fields of the log call's context to each entry.
 * Fields the entry already has (from the call's meta) are kept. Options are validated here, once.
 * Several formats may be combined (other presets or baggage keys, on the logger or a transport);
 * each writes its own fields.
 *
 * @example
 * ```ts
 * import winston from 'winston';
 * import { winstonFormat } from '@ctxprop/logging';
 *
 * const logger = winston.createLogger({
 *   format: winston.format.combine(winstonFormat({ preset: 'ecs' }), winston.format.json()),
 *   transports: [new winston.transports.Console()],
 * });
 * logger.info('order created'); // {"level":"info","message":"order created","span.id":"00f0…","trace.id":"4bf9…"} (json sorts the keys)
 * ```
 */
export function winstonFormat(options?: TraceFieldsOptions): WinstonTraceFormat {
  const fieldsOf = createFieldsFactory(resolveOptions(options, [], WINSTON_KEYS));
  // The fields this format last wrote into an entry: a caller that logs the same object again
  // (`logger.log(heartbeat)`) gets this call's fields, not the ones left from the last call. Per
  // format, so that a second format on the entry does not take the first one's fields for its own.
  const written = new WeakMap<object, Record<string, unknown>>();
  return {
    options: options ?? {},
    transform<T extends object>(info: T): T {
      const entry = info as Record<string | symbol, unknown>;
      const captured = entry[CAPTURED_CONTEXT];
      const fields = fieldsOf(isCapturedContext(captured) ? captured.context : context.active());
      const previous = written.get(entry);
      if (previous !== undefined) {
        // Fields a previous call wrote and nobody changed since are this format's, not the caller's.
        for (const key in previous) if (entry[key] === previous[key] && !(key in fields)) delete entry[key];
      }
      for (const key in fields) {
        if (entry[key] === undefined || (previous !== undefined && entry[key] === previous[key])) entry[key] = fields[key];
      }
      written.set(entry, fields);
      return info;
    },
  };
}

/**
 * Makes `logger` remember the caller's context on each entry at the moment of the log call (its
 * children too), so that {@link winstonFormat} writes the right ids even when a slow transport
 * makes winston run the formats later. Call it once per logger; returns the logger.
 *
 * @example
 * ```ts
 * const logger = captureWinstonContext(
 *   winston.createLogger({ format: winston.format.combine(winstonFormat(), winston.format.json()), transports }),
 * );
 * ```
 */
export function captureWinstonContext<L extends WinstonLoggerLike>(logger: L): L {
  if (logger === null || typeof logger !== 'object' || typeof logger.write !== 'function') {
    throw new InvalidOptionError('logger', 'a winston logger', logger, 'Pass the object returned by winston.createLogger().');
  }
  const original = logger.write;
  if ((original as unknown as Record<symbol, unknown>)[PATCHED] === true) return logger;
  const write = function ctxpropCaptureContext(this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
    // Always this call's context: an entry logged again still holds the last call's (a child
    // logger's write calls its parent's within the same call).
    if (chunk !== null && typeof chunk === 'object') {
      (chunk as Record<symbol, unknown>)[CAPTURED_CONTEXT] = new CapturedContext(context.active());
    }
    return original.call(this, chunk, ...rest);
  };
  (write as unknown as Record<symbol, unknown>)[PATCHED] = true;
  logger.write = write;
  return logger;
}

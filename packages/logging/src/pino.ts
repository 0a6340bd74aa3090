/**
 * pino: a `mixin` that adds the trace fields to every line. pino calls the mixin synchronously
 * inside the log call, before the line is serialized, so the fields are those of the caller's
 * context even when a transport writes the line later in a worker thread.
 */
import { createActiveContextReader, InvalidOptionError } from '@ctxprop/core';
import { PINO_KEYS, resolveOptions, type TraceFieldsOptions } from './options.js';
import { createFieldsFactory } from './trace-fields.js';

/**
 * pino's mixin signature. (`logger` is `any` because pino is an optional peer whose types this
 * package does not import; any pino `MixinFn` fits.)
 *
 * @example
 * ```ts
 * const requestMixin: PinoMixinFunction = () => ({ pid: process.pid });
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PinoMixinFunction = (mergeObject: object, level: number, logger: any) => object;

/**
 * Options of {@link pinoMixin}: the {@link TraceFieldsOptions} plus your own mixin.
 *
 * @example
 * ```ts
 * const options: PinoMixinOptions = { preset: 'ecs', mixin: () => ({ region: 'eu-west-1' }) };
 * ```
 */
export interface PinoMixinOptions extends TraceFieldsOptions {
  /**
   * Your own mixin, called on every line after ours. Its fields are merged on top of the trace
   * fields: on a key clash yours win (as the log call's own object wins over any mixin in pino).
   * @default none
   * @example { mixin: (mergeObject, level) => ({ levelName: pino.levels.labels[level] }) }
   */
  mixin?: PinoMixinFunction;
}

/**
 * Creates a pino `mixin` that adds the trace fields of the active context to every line: a fresh
 * object on each call (pino merges the call's object into it). Options are validated here, once.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { pinoMixin } from '@ctxprop/logging';
 *
 * const logger = pino({ mixin: pinoMixin({ preset: 'otel' }) });
 * logger.info('order created');
 * // {"level":30,…,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01","msg":"order created"}
 * ```
 */
export function pinoMixin(options?: PinoMixinOptions): (mergeObject: object, level: number, logger: unknown) => Record<string, unknown> {
  const fieldsOf = createFieldsFactory(resolveOptions(options, ['mixin'], PINO_KEYS));
  const theirs = options?.mixin;
  const activeContext = createActiveContextReader();
  if (theirs === undefined) {
    return function ctxpropPinoMixin(): Record<string, unknown> {
      return fieldsOf(activeContext());
    };
  }
  if (typeof theirs !== 'function') {
    throw new InvalidOptionError('mixin', 'a function (mergeObject, level, logger) => object', theirs, 'Pass your pino mixin function, or leave the option out.');
  }
  return function ctxpropPinoMixin(mergeObject: object, level: number, logger: unknown): Record<string, unknown> {
    const fields = fieldsOf(activeContext());
    const extra = theirs(mergeObject, level, logger);
    // Copied, never returned: pino assigns into the mixin's result, and theirs may be shared.
    if (extra !== null && typeof extra === 'object') Object.assign(fields, extra);
    return fields;
  };
}

/**
 * @ctxprop/logging: log-trace correlation. Every line logged while a request is handled carries
 * the ids of its trace, so "all logs of this trace" is one filter in any log backend. A pino
 * mixin, a winston format and plain trace fields, with OpenTelemetry, ECS, Datadog and Google
 * Cloud presets. Reads the context through `@opentelemetry/api` only: works with no SDK (the
 * inbound context's ids) and with one (the active span's ids).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * import { pinoCorrelation, pinoMixin } from '@ctxprop/logging';
 *
 * const logger = pino({ mixin: pinoMixin() });
 * // or, fastest (the fields ride on pino's timestamp option):
 * const fast = pino({ ...pinoCorrelation() });
 * ```
 *
 * @packageDocumentation
 */

// Plain fields: console, bunyan, anything (see each declaration for its @example).
export { createTraceFields, traceFields } from './trace-fields.js';
export type { TraceFieldRecord, TraceFieldsFunction } from './trace-fields.js';

// pino
export { pinoMixin } from './pino.js';
export type { PinoMixinFunction, PinoMixinOptions } from './pino.js';
export { pinoCorrelation } from './pino-correlation.js';
export type { PinoCorrelation, PinoCorrelationOptions, PinoTimestampFunction } from './pino-correlation.js';

// winston
export { captureWinstonContext, winstonFormat } from './winston.js';
export type { WinstonLoggerLike, WinstonTraceFormat } from './winston.js';

// Options and presets
export { FIELD_PRESETS } from './presets.js';
export type { FieldNames, FieldPreset, FieldRole } from './presets.js';
export type { TraceFieldsOptions, WhenNoContext } from './options.js';

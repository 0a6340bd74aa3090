/**
 * Every error ctxprop throws, in one place. Errors are thrown only for bad *configuration*, at
 * start-up, never for bad wire input. Each carries a stable `code` and a brand, so that
 * `isCtxpropError(err)` holds even when two copies of the package are loaded.
 */

const BRAND = Symbol.for('ctxprop.error');

/**
 * The stable codes of {@link CtxpropError}.
 *
 * @example
 * ```ts
 * const code: CtxpropErrorCode | undefined = isCtxpropError(err) ? err.code : undefined;
 * if (code === 'CTXPROP_UNKNOWN_PROPAGATOR') console.error('check OTEL_PROPAGATORS');
 * ```
 */
export type CtxpropErrorCode =
  | 'CTXPROP_INVALID_OPTION'
  | 'CTXPROP_UNKNOWN_PROPAGATOR'
  | 'CTXPROP_INVALID_ARGUMENT';

/**
 * Base class of ctxprop's errors. The message starts with `ctxprop:` and names the option and
 * the fix.
 *
 * @example
 * ```ts
 * try { createPropagator('w3c'); } catch (err) {
 *   if (isCtxpropError(err)) console.error(err.code); // 'CTXPROP_UNKNOWN_PROPAGATOR'
 * }
 * ```
 */
export class CtxpropError extends Error {
  readonly code: CtxpropErrorCode;
  readonly [BRAND] = true;

  constructor(code: CtxpropErrorCode, message: string) {
    super(message.startsWith('ctxprop') ? message : `ctxprop: ${message}`);
    this.name = 'CtxpropError';
    this.code = code;
  }
}

/**
 * A configuration option has a value ctxprop cannot use.
 *
 * @example
 * ```ts
 * throw new InvalidOptionError('maxMembers', 'a whole number from 1 to 180', -1);
 * // ctxprop: option "maxMembers" must be a whole number from 1 to 180 (got -1).
 * ```
 */
export class InvalidOptionError extends CtxpropError {
  readonly option: string;

  constructor(option: string, expected: string, received: unknown, fix?: string) {
    super(
      'CTXPROP_INVALID_OPTION',
      `ctxprop: option "${option}" must be ${expected} (got ${describe(received)}).${fix ? ` ${fix}` : ''}`,
    );
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

/**
 * True for any error thrown by any copy of ctxprop.
 *
 * @example
 * ```ts
 * if (isCtxpropError(err) && err.code === 'CTXPROP_INVALID_OPTION') process.exit(1);
 * ```
 */
export function isCtxpropError(value: unknown): value is CtxpropError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

/** A short, safe description of a received option value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}

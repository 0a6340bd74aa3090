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

/**
 * Throws {@link InvalidOptionError} for the first key of `options` that is not in `known`, naming
 * it by its full path (`sensitiveData.allowkeys`) and suggesting the known name it is closest to
 * (`Did you mean "allowKeys"?`), so that a misspelt option fails at start-up instead of being
 * ignored. `path` is where `options` sits (empty at the top level); `owner` names it in the
 * message (the adapter, `createSensitiveDataGuard()`, ...), `path` when not given.
 *
 * @example
 * ```ts
 * rejectUnknownOptions({ allowkeys: [] }, ['enabled', 'allowKeys'], 'sensitiveData');
 * // throws: ctxprop: option "sensitiveData.allowkeys" must be a known option of sensitiveData
 * // (enabled, allowKeys) (got "allowkeys"). Did you mean "allowKeys"?
 * ```
 */
export function rejectUnknownOptions(options: object, known: readonly string[], path: string, owner: string = path): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const closest = closestName(key, known);
    throw new InvalidOptionError(
      path === '' ? key : `${path}.${key}`,
      `a known option of ${owner} (${known.join(', ')})`,
      key,
      closest === undefined ? 'Remove it or fix its spelling.' : `Did you mean "${closest}"?`,
    );
  }
}

/**
 * The known name a misspelt one most likely meant: the same name in another case, else the
 * nearest by edit distance (a swap of two neighbouring letters counts as one edit), when it is
 * within a third of the name's length.
 */
function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  // Three rolling rows (two back, for swaps) instead of the full table: option names are short.
  let previous2: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, previous2[j - 2] + 1);
      current.push(distance);
    }
    previous2 = previous;
    previous = current;
  }
  return previous[b.length];
}

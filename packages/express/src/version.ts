/**
 * This package's name: the instrumentation scope of its spans and metrics.
 *
 * @example
 * ```ts
 * spans.filter((span) => span.instrumentationScope.name === PACKAGE_NAME);
 * ```
 */
export const PACKAGE_NAME = '@ctxprop/express';

/**
 * This package's version (exported as `VERSION`).
 *
 * @example
 * ```ts
 * import { VERSION } from '@ctxprop/express';
 * ```
 */
export const PACKAGE_VERSION = '0.1.0';

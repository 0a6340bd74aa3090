/**
 * This package's name: the instrumentation scope name of its spans and metrics.
 *
 * @example
 * ```ts
 * spans.filter((span) => span.instrumentationScope.name === PACKAGE_NAME);
 * ```
 */
export const PACKAGE_NAME = '@ctxprop/fastify';
/**
 * This package's version, exported as `VERSION`: the instrumentation scope version of its spans
 * and metrics.
 *
 * @example
 * ```ts
 * import { VERSION } from '@ctxprop/fastify';
 * app.log.info(`@ctxprop/fastify ${VERSION}`);
 * ```
 */
export const PACKAGE_VERSION = '0.1.0';

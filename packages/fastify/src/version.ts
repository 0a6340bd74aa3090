/**
 * This package's name and version: the instrumentation scope of its spans and metrics.
 *
 * @example
 * ```ts
 * import { VERSION } from '@ctxprop/fastify';
 * console.log(`@ctxprop/fastify ${VERSION}`);
 * ```
 */
export const PACKAGE_NAME = '@ctxprop/fastify';
/** @see PACKAGE_NAME */
export const PACKAGE_VERSION = '0.1.0';

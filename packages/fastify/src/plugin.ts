/**
 * The Fastify plugin. Per request it asks core's inbound handler for the request's scope
 * (extraction, trust policy, server span, baggage), keeps it on the request, and runs every later
 * hook and the handler in the request's context (restore-context.ts keeps them there).
 */
import { context } from '@opentelemetry/api';
import {
  countDiagnostic,
  CtxpropError,
  createInboundHandler,
  finishWithResponse,
  resolveInboundOptions,
  runEmitterInContext,
  type InboundHandler,
  type InboundOptions,
  type InboundScope,
} from '@ctxprop/core';
import type {
  FastifyError,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import fp from 'fastify-plugin';
import { fastifyAccessors, fastifyRoute } from './request-accessors.js';
import { attachScope, decorateRequests, scopeOf } from './request-properties.js';
import { contextToRestore, createRouteContextRestorer, ERROR_HANDLER_STEP } from './restore-context.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/**
 * Options of the plugin: the inbound options of `@ctxprop/core`, with the `baggage` function
 * taking a Fastify request.
 *
 * @example
 * ```ts
 * const options: CtxpropOptions = {
 *   trust: { trustedAddresses: ['private'] },
 *   spanAttributesFromBaggage: ['customer.tier'],
 * };
 * await app.register(ctxprop, options);
 * ```
 */
export interface CtxpropOptions extends InboundOptions<FastifyRequest> {}

// Options Fastify itself reads from any plugin's register options; they are not ours to reject.
const FASTIFY_REGISTER_OPTIONS: readonly string[] = ['prefix', 'logLevel', 'logSerializers'];

const ADAPTER = Object.freeze({ name: PACKAGE_NAME, version: PACKAGE_VERSION, extraOptions: FASTIFY_REGISTER_OPTIONS });

function setUp(handler: InboundHandler<FastifyRequest>, request: FastifyRequest, reply: FastifyReply): InboundScope<FastifyRequest> | undefined {
  const scope = handler.start(request, undefined, reply.raw);
  if (scope === undefined) return undefined;
  try {
    attachScope(request, scope);
    if (scope.needsResponse) {
      // Fastify routes before the first hook. A span ctxprop started has the route already
      // (accessors.routeAtStart); instrumentation-http's span and the histogram get it here.
      if (scope.route === undefined) scope.setRoute(fastifyRoute(request));
      finishWithResponse(scope, reply.raw);
    }
    // The request's and response's events ('data', 'end', 'close', 'finish') come from the socket's
    // context, not this request's: run their listeners in the request's latest context, or in the
    // one derived from it (a child span) they were added in. That covers onResponse and
    // onRequestAbort hooks (Fastify runs them from 'finish' and 'close') without a hook of our own
    // there, which would make Fastify add response listeners to every request.
    runEmitterInContext(request.raw, scope.context);
    runEmitterInContext(reply.raw, scope.context);
  } catch {
    countDiagnostic('internal.error');
  }
  return scope;
}

/**
 * Records the error on the server span, and calls `done` in the request's latest context even when
 * the step that failed passed the error on from another one: the onError hooks after it and the
 * error handler, which Fastify calls from the last onError hook's `done`, start from there. The
 * app's onError hooks after this one put the context back for the error handler themselves
 * (restore-context.ts); without the route context (CTXPROP_FASTIFY_ROUTE_CONTEXT), this is all.
 */
function ctxpropOnError(request: FastifyRequest, _reply: FastifyReply, error: FastifyError, done: () => void): void {
  scopeOf(request)?.recordException(error);
  const restore = contextToRestore(request, ERROR_HANDLER_STEP);
  if (restore === undefined) return done();
  context.with(restore, done);
}

const ctxpropFastify: FastifyPluginCallback<CtxpropOptions> = function ctxpropFastify(fastify, options, done) {
  if (fastify.hasRequestDecorator('baggage')) {
    done(
      new CtxpropError(
        'CTXPROP_INVALID_ARGUMENT',
        `ctxprop: ${PACKAGE_NAME} is already registered on this Fastify instance (or request.baggage is taken by another plugin). Register it once, at the root.`,
      ),
    );
    return;
  }
  let handler: InboundHandler<FastifyRequest>;
  try {
    handler = createInboundHandler(resolveInboundOptions<FastifyRequest>(options, ADAPTER), fastifyAccessors);
  } catch (error) {
    done(error as Error);
    return;
  }

  const restoreContext = handler.options.restoreContext;
  const restoreRouteContext = createRouteContextRestorer();

  function ctxpropOnRequest(request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void {
    const scope = setUp(handler, request, reply);
    if (scope === undefined) return next();
    if (restoreContext) restoreRouteContext(request);
    context.with(scope.context, next);
  }

  function ctxpropOnClose(_instance: FastifyInstance, closed: HookHandlerDoneFunction): void {
    handler.close();
    closed();
  }

  decorateRequests(fastify);
  fastify.addHook('onRequest', ctxpropOnRequest);
  fastify.addHook('onError', ctxpropOnError);
  fastify.addHook('onClose', ctxpropOnClose);
  done();
};

/**
 * The plugin: `await app.register(ctxprop, options)`. Works with no options. Options are
 * validated at registration: a wrong one makes `register` (and `ready`/`listen`) fail with an
 * `InvalidOptionError` naming it. Turns on outbound propagation unless `outbound: false`, and
 * turns it off again when the app closes.
 *
 * Register it first, before your routes and the plugins whose hooks should see the request's
 * context: like every Fastify hook, its hooks apply to what is registered after it.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { ctxprop } from '@ctxprop/fastify';
 *
 * const app = Fastify();
 * await app.register(ctxprop);
 * app.get('/orders/:id', async (request) => {
 *   const tier = request.baggage.get('customer.tier');
 *   return fetch(`http://billing/orders/${(request.params as { id: string }).id}`).then((r) => r.json());
 * });
 * ```
 */
export const ctxprop = fp(ctxpropFastify, { fastify: '>=4.7.0 <6', name: PACKAGE_NAME });

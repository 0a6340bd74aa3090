/**
 * `ctxprop(options)`: the Express middleware. Per request it asks core's inbound handler for the
 * request's scope (extraction, trust policy, server span, baggage), exposes it on `req`, and runs
 * everything after it in the request's context.
 */
import { context } from '@opentelemetry/api';
import {
  countDiagnostic,
  createActiveContextReader,
  createInboundHandler,
  endScopeOnClose,
  responseClosed,
  inboundScopeOf,
  resolveInboundOptions,
  type InboundOptions,
} from '@ctxprop/core';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { holdLayerContext, noteScopeOnNext, type LayerContextHold } from './layer-context.js';
import { expressAccessors } from './request-accessors.js';
import { ensureRequestProperties, scopeOf } from './request-properties.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/**
 * Options of {@link ctxprop}: the inbound options of `@ctxprop/core`, with the `baggage` function
 * taking an Express request.
 *
 * @example
 * ```ts
 * const options: CtxpropOptions = {
 *   trust: { trustedAddresses: ['private'] },
 *   spanAttributesFromBaggage: ['customer.tier'],
 * };
 * ```
 */
export interface CtxpropOptions extends InboundOptions<Request> {}

/**
 * The middleware {@link ctxprop} returns: an Express `RequestHandler` named `ctxpropMiddleware`,
 * plus `close()`.
 *
 * @example
 * ```ts
 * const middleware = ctxprop();
 * app.use(middleware);
 * process.on('SIGTERM', () => server.close(() => middleware.close()));
 * ```
 */
export interface CtxpropMiddleware extends RequestHandler {
  /**
   * Releases what the middleware turned on at start-up: its hold on outbound propagation (the
   * hooks go when no holder is left). Requests keep working, without outbound injection. For
   * shutdown and tests.
   */
  close(): void;
}

const activeContext = createActiveContextReader();

const ADAPTER = Object.freeze({ name: PACKAGE_NAME, version: PACKAGE_VERSION });

/**
 * Creates the middleware. Register it before your routes and body parsers. Options are validated
 * now: a wrong one throws `InvalidOptionError` naming it. Turns on outbound propagation unless
 * `outbound: false`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { ctxprop } from '@ctxprop/express';
 *
 * const app = express();
 * app.use(ctxprop());
 * app.get('/orders/:id', async (req, res) => {
 *   const tier = req.baggage.get('customer.tier');
 *   res.json(await fetch(`http://billing/orders/${req.params.id}`).then((r) => r.json()));
 * });
 * ```
 */
export function ctxprop(options?: CtxpropOptions): CtxpropMiddleware {
  const handler = createInboundHandler(resolveInboundOptions<Request>(options, ADAPTER), expressAccessors);
  // Taken at the first request, when the app's router (and so its Layer class) is known. Held
  // with restoreContext: false too: the wrapped layers are also where the route is learnt.
  let layers: LayerContextHold | undefined;
  let layersChecked = false;
  function ctxpropMiddleware(req: Request, res: Response, next: NextFunction): void {
    const active = activeContext();
    const scope = handler.start(req, active, res);
    if (scope === undefined) {
      // ctxprop failed (counted, warned once): the request goes on without context, but with
      // req.baggage (empty), req.traceContext (undefined) and req.setBaggage (does nothing), as
      // the handlers written for ctxprop expect them.
      try {
        ensureRequestProperties(req, res);
      } catch {
        countDiagnostic('internal.error');
      }
      return next();
    }
    // Another instance up the chain (an app and its mounted sub-app) set this request up.
    if (scope === inboundScopeOf(active)) {
      noteScopeOnNext(next, scope);
      return next();
    }
    try {
      if (scope.needsResponse) {
        // Closures on purpose: a shared listener would need the scope stored on the response,
        // and adding a property to an Express response costs far more. Registered before the
        // request's context is entered, so they are not wrapped for it.
        if (scope.spanOrigin === 'enriched') {
          // instrumentation-http ends its span on 'close' (and sets its status itself): the route
          // must reach it before, on 'finish'.
          res.on('finish', () => scope.finish(res.statusCode));
          res.on('close', () => scope.abort());
        } else {
          // 'close' follows a complete response, a client that went away, or a connection the
          // server closed itself: core tells which.
          res.on('close', () => endScopeOnClose(scope, res));
          // Closed already: the client left while a middleware before this one waited.
          if (responseClosed(res)) endScopeOnClose(scope, res);
        }
      }
      ensureRequestProperties(req, res);
      // The param callbacks run before the next layer is entered: a layer they reach from another
      // context finds the request on this next.
      noteScopeOnNext(next, scope);
      if (!layersChecked) {
        layersChecked = true;
        layers = holdLayerContext(req.app);
      }
    } catch {
      countDiagnostic('internal.error');
    }
    // Everything after this middleware runs inside this call (Express calls the next layer
    // synchronously from next()); async continuations, timers and the stream listeners added
    // from here on inherit the context.
    context.with(scope.context, next);
  }
  function close(): void {
    layers?.release();
    handler.close();
  }
  return Object.assign(ctxpropMiddleware, { close });
}

/**
 * Creates an error middleware that records the error on the request's server span (an exception
 * event, and `error.type` if the response is a 5xx), then passes it on. Register it after your
 * routes and before your own error handlers.
 *
 * @example
 * ```ts
 * app.use(routes);
 * app.use(recordErrors());
 * const onError: express.ErrorRequestHandler = (err, req, res, next) => {
 *   res.status(500).json({ error: 'internal' });
 * };
 * app.use(onError);
 * ```
 */
export function recordErrors(): ErrorRequestHandler {
  return function ctxpropErrorMiddleware(err: unknown, req: Request, _res: Response, next: NextFunction): void {
    scopeOf(req)?.recordException(err);
    next(err);
  };
}

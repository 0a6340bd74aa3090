/**
 * `req.baggage`, `req.traceContext` and `req.setBaggage()`, and the request's stream listeners.
 *
 * Nothing is stored on the request: Express swaps every request's prototype (`app.request`), and
 * after that a property added to the request object costs over a microsecond (V8 caches no
 * transition for it), more than everything else ctxprop does. The request's scope is found from
 * the active context instead (core's `inboundScopeOf`), which ctxprop keeps for the whole request:
 * middleware, handlers, callbacks, stream events, error handlers. Where code runs in another
 * context (a pooled client's callback), from the scope noted on the router's `next`, which Express
 * keeps as `req.next` (layer-context.ts); with neither, the properties see no baggage and no trace
 * context.
 *
 * The three properties, and core's listener binding (so that `req.on('end')` and
 * `res.on('finish')` listeners run in the request's context), are defined once on Express's shared
 * `request` and `response` objects, which every app's `app.request` / `app.response` inherit from,
 * sub-apps included.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@opentelemetry/api';
import {
  bindListenersToContext,
  createActiveContextReader,
  EMPTY_BAGGAGE_VIEW,
  inboundScopeOf,
  warnOnce,
  type BaggageEntries,
  type BaggageView,
  type InboundScope,
  type TraceContextInfo,
} from '@ctxprop/core';
import { notedScope } from './layer-context.js';

const activeContext = createActiveContextReader();

declare global {
  // Express's own typings (express-serve-static-core 4 and 5) declare `Express.Request` for
  // augmentation; their `Request` extends it.
  namespace Express {
    interface Request {
      /**
       * The request's baggage, read-only: `get(key)`, `getEntry(key)` (with properties), `has`,
       * `size`, iteration, `toJSON()`. Empty (never undefined) when the request carried none, or
       * when ctxprop could not set the request up. Reflects `req.setBaggage()`.
       */
      readonly baggage: BaggageView;
      /**
       * The request's trace context (trace id, span id, flags, sampled, and the `traceparent`
       * string to hand to code ctxprop does not instrument); undefined when there is none (no
       * SDK and no inbound trace context).
       */
      readonly traceContext: TraceContextInfo | undefined;
      /**
       * Adds or replaces baggage entries for the rest of this request: later middleware,
       * handlers after `await`, callbacks and outbound calls all see them. Entries that look like
       * secrets or personal data are refused (and counted). Where ctxprop has no context for the
       * request (it could not set it up), it sets nothing and warns once; it never throws.
       *
       * @example
       * ```ts
       * req.setBaggage({ 'customer.tier': user.tier });
       * ```
       */
      setBaggage(entries: BaggageEntries): void;
    }
  }
}

/** The scope ctxprop made for `req`: the active context's when it is `req`'s, else the one noted for it. */
export function scopeOf(req: object | undefined): InboundScope<unknown> | undefined {
  const scope = inboundScopeOf(activeContext());
  if (scope !== undefined && scope.request === req) return scope;
  return req === undefined ? undefined : notedScope(req);
}

function getBaggage(this: object): BaggageView {
  const scope = scopeOf(this);
  return scope === undefined ? EMPTY_BAGGAGE_VIEW : scope.baggageView;
}

function getTraceContext(this: object): TraceContextInfo | undefined {
  return scopeOf(this)?.traceContext;
}

// Without a scope there is no baggage to add to: the entries are dropped and the request goes on
// (as README "API" says), never a throw in the handler that called it.
function setBaggage(this: object, entries: BaggageEntries): void {
  const scope = scopeOf(this);
  if (scope === undefined) {
    warnOnce(
      'CTXPROP_EXPRESS_NO_SCOPE',
      'ctxprop: req.setBaggage() found no ctxprop context for its request; nothing was set. Either it was called outside the ' +
        "request's handling, or on a request the ctxprop middleware did not see (register app.use(ctxprop()) before your routes), " +
        'or ctxprop could not set the request up (see the CTXPROP_INBOUND_FAILED warning).',
    );
    return;
  }
  scope.setBaggage(entries);
}

// Another library may assign these names; let it, on that request only.
function ownValueSetter(name: string): (this: object, value: unknown) => void {
  return function (this: object, value: unknown): void {
    Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
  };
}

const DESCRIPTORS: PropertyDescriptorMap = {
  baggage: { get: getBaggage, set: ownValueSetter('baggage'), configurable: true, enumerable: false },
  traceContext: { get: getTraceContext, set: ownValueSetter('traceContext'), configurable: true, enumerable: false },
  setBaggage: { value: setBaggage, writable: true, configurable: true, enumerable: false },
};

/**
 * The topmost prototype above Node's `nodePrototype` in `target`'s chain: Express's `request` (or
 * `response`) object, which every app's `app.request` inherits from. Undefined when the chain does
 * not lead to `nodePrototype` through such an object.
 */
function sharedPrototype(target: object, nodePrototype: object): object | undefined {
  let candidate: object | undefined;
  let proto: object | null = Object.getPrototypeOf(target) as object | null;
  while (proto !== null && proto !== Object.prototype && proto !== nodePrototype) {
    candidate = proto;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return proto === nodePrototype ? candidate : undefined;
}

// Listeners bind to the active context when it is the request's own (possibly a child of it:
// a span started in the handler), as AsyncResource would.
function requestListenerContext(req: object): Context | undefined {
  const active = activeContext();
  const scope = inboundScopeOf(active);
  return scope !== undefined && scope.request === req ? active : undefined;
}

function responseListenerContext(res: object): Context | undefined {
  // Express (and Node since 15) keep the request on the response.
  const req = (res as { req?: object }).req;
  return req === undefined ? undefined : requestListenerContext(req);
}

// The `app.request` of the last request that found everything in place.
let lastPrototype: object | null = null;

/**
 * Makes sure `req.baggage`, `req.traceContext` and `req.setBaggage` exist, and that listeners
 * added to `req` and `res` in the request's context run in it. Once per Express copy; per
 * request only a prototype comparison.
 */
export function ensureRequestProperties(req: object, res: object): void {
  // The app's `app.request`, the same object for all its requests: a cheap first test (a lookup
  // on the request itself is slow, see above).
  const prototype = Object.getPrototypeOf(req) as object | null;
  if (prototype === lastPrototype) return;
  if ((req as { setBaggage?: unknown }).setBaggage === setBaggage) {
    lastPrototype = prototype;
    return;
  }
  const sharedRequest = sharedPrototype(req, IncomingMessage.prototype);
  const sharedResponse = sharedPrototype(res, ServerResponse.prototype);
  const target = sharedRequest !== undefined && !Object.prototype.hasOwnProperty.call(sharedRequest, 'setBaggage') ? sharedRequest : req;
  // Not an Express request (or another copy of ctxprop installed first): on the instance.
  Object.defineProperties(target, DESCRIPTORS);
  bindListenersToContext(target, requestListenerContext);
  bindListenersToContext(sharedResponse !== undefined && target !== req ? sharedResponse : res, responseListenerContext);
}

/**
 * Puts a request's context back between middleware when one of them lost it.
 *
 * Express runs the next middleware from inside `next()`, so the rest of a request runs in whatever
 * context `next()` was called from. A middleware that calls it from the callback of a client whose
 * connection was opened elsewhere (a session store, a callback-style database or cache client)
 * hands the rest of the request the context that connection was opened in: none, or the request
 * that happened to open it. The handler would then see that other request's baggage, and forward
 * its trace and baggage downstream.
 *
 * Every middleware, route handler and error handler is run by a method of Express's `Layer`
 * (`handle_request` / `handle_error` in Express 4, `handleRequest` / `handleError` in the `router`
 * package of Express 5), with the `next` of the router (or route) that dispatches the request.
 * Those methods are wrapped, once per `Layer` class (found from the app's router, so any copy of
 * Express works). A layer entered in its request's context notes the request's scope on that
 * `next` (a closure made per request and per router, so it goes with the request; nothing is
 * stored on the request, see request-properties.ts for why). A layer entered from another context
 * (its `next` called from a pooled client's callback, or a param callback's) finds the scope on its
 * `next` and runs in the request's latest context (`InboundScope.contextToRestore`), unless the
 * middleware's `restoreContext` option is off.
 *
 * The same wrappers learn the request's route: the layer of a route (`app.get(path, ...)`) is
 * entered with `req.baseUrl` still the mount path of the router it sits in, which Express resets
 * as soon as the request leaves that router (`next(err)`, a throw, `next()`). The template is
 * noted on the scope then (`InboundScope.noteRoute`, applied when the response ends); a later
 * route the request enters replaces it (`next('route')`, or a route that calls `next()`), also
 * with none when that route has no single template.
 */
import { context, type Context } from '@opentelemetry/api';
import { countDiagnostic, createActiveContextReader, inboundScopeOf, warnContextRestored, type InboundScope } from '@ctxprop/core';
import { mountTemplateOf, noteMount, type MountLayer } from './mount-templates.js';
import { routeTemplateOf } from './request-accessors.js';

type LayerMethod = (this: unknown, ...args: unknown[]) => unknown;

/** The Layer methods that run a layer's function, and where their request argument is. */
const LAYER_METHODS: ReadonlyArray<readonly [name: string, requestIndex: 0 | 1]> = [
  ['handleRequest', 0],
  ['handleError', 1],
  ['handle_request', 0],
  ['handle_error', 1],
];

interface Wrapped {
  readonly name: string;
  readonly original: LayerMethod;
  readonly wrapper: LayerMethod;
}

interface PrototypeState {
  holders: number;
  /** Read by the wrappers on every call: false once released. */
  readonly control: { active: boolean };
  readonly wrapped: Wrapped[];
}

const STATE_KEY = Symbol.for('ctxprop.express.layer-context.v1');
/** Where a router's `next` keeps the scope of the request it dispatches (shared by every copy). */
const SCOPE_SLOT = Symbol.for('ctxprop.express.next-scope.v1');

// Shared by every copy of this package, so that a Layer class is wrapped once.
const states: Map<object, PrototypeState> = ((globalThis as unknown as { [STATE_KEY]?: Map<object, PrototypeState> })[STATE_KEY] ??= new Map());

const activeContext = createActiveContextReader();

type ScopedNext = { [SCOPE_SLOT]?: InboundScope<unknown> };

interface LayerLike {
  readonly name?: unknown;
  /** Set on the layer of a route (`app.get(path, …)`), which dispatches to the route's handlers. */
  readonly route?: { readonly path?: unknown };
  /** Set on the layers inside a route, one per handler. */
  readonly method?: unknown;
}

/** The scope of the request a layer was last entered for, when it was found: read back by {@link leaveLayer}. */
let enteredScope: InboundScope<unknown> | undefined;
/**
 * The scope of the layer call in progress: a layer entered synchronously inside it (a mounted
 * router's, reached from a param callback that calls `next()` from another context before the
 * router's own `next` was noted) finds its request's scope here.
 */
let scopeInProgress: InboundScope<unknown> | undefined;

/**
 * Called as `layer` is entered for `req`: notes the request's scope on `next`, hands the scope the
 * route when `layer` is a route's, and returns the context to run the layer in when `req`'s must
 * be put back (else undefined). Leaves the scope found in `enteredScope`.
 */
function enterLayer(layer: LayerLike | undefined, req: unknown, next: unknown): Context | undefined {
  enteredScope = undefined;
  if (typeof next !== 'function') return undefined;
  try {
    const active = activeContext();
    let scope = inboundScopeOf(active);
    if (scope !== undefined && scope.request === req) {
      noteScopeOnNext(next, scope);
    } else {
      scope = (next as ScopedNext)[SCOPE_SLOT];
      if (scope === undefined || scope.request !== req) {
        scope = scopeInProgress;
        if (scope === undefined || scope.request !== req) return undefined;
        noteScopeOnNext(next, scope);
      }
    }
    enteredScope = scope;
    // Only a recorded span or the histogram reads the route: without them no string is built.
    if (layer !== undefined && scope.needsResponse) {
      const route = layer.route;
      const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
      if (route === undefined || route === null) {
        noteMount(scope, layer as MountLayer, req as object);
      } else {
        const base = mountTemplateOf(scope, baseUrl);
        scope.noteRoute(base === null ? undefined : routeTemplateOf(base, route.path));
      }
    }
    return scope.contextToRestore(active);
  } catch {
    countDiagnostic('internal.error');
    return undefined;
  }
}

/**
 * Called once the function of a layer entered for `req` with `scope` returned: a mounted router
 * (or sub-app) has by then made its own `next` for the request (`req.next`), and may have handed
 * it to a param callback that calls it from another context before any of its layers is entered.
 * The scope is noted on that `next` too.
 */
function leaveLayer(scope: InboundScope<unknown>, req: unknown, next: unknown): void {
  try {
    const current = (req as { next?: unknown }).next;
    if (current !== next && typeof current === 'function') noteScopeOnNext(current, scope);
  } catch {
    countDiagnostic('internal.error');
  }
}

/**
 * Notes `scope` on a router's `next` for its request: a layer that `next` enters from another
 * context finds the request there. ctxprop's middleware notes it on the `next` it is given, for
 * the param callbacks that run before the next layer is entered.
 *
 * @example
 * ```ts
 * noteScopeOnNext(next, scope);
 * next();
 * ```
 */
export function noteScopeOnNext<Request>(next: unknown, scope: InboundScope<Request>): void {
  const slot = next as ScopedNext;
  const noted = scope as unknown as InboundScope<unknown>;
  if (slot[SCOPE_SLOT] !== noted) slot[SCOPE_SLOT] = noted;
}

/**
 * The scope noted for `req` on the `next` of the router dispatching it (Express keeps that `next`
 * as `req.next`): how `req.baggage` finds its request where the active context is another's.
 */
export function notedScope(req: object): InboundScope<unknown> | undefined {
  const next = (req as { next?: unknown }).next;
  if (typeof next !== 'function') return undefined;
  const scope = (next as ScopedNext)[SCOPE_SLOT];
  return scope !== undefined && scope.request === req ? scope : undefined;
}

/**
 * The place a request came back to, for the warning, from the app's structure only (names and
 * route paths, never what the client sent), so the places are few.
 */
function placeOf(layer: LayerLike, req: unknown, error: boolean): string {
  const raw = typeof layer.name === 'string' ? layer.name : '';
  const name = raw === '<anonymous>' ? '' : raw.startsWith('bound ') ? raw.slice('bound '.length) : raw;
  const named = (kind: string, article: string) => (name === '' ? `${article} Express ${kind}` : `the Express ${kind} ${JSON.stringify(name)}`);
  if (error) return named('error handler', 'an');
  if (layer.route !== undefined && layer.route !== null) return `the Express route ${String(layer.route.path)}`;
  if (typeof layer.method === 'string') return `${named('route handler', 'an')} of ${String((req as { route?: { path?: unknown } }).route?.path)}`;
  return named('middleware', 'an');
}

/** Warns, once per place, that a request reached `layer` from another context. */
function reportRestored(layer: unknown, req: unknown, error: boolean): void {
  try {
    warnContextRestored(placeOf((layer ?? {}) as LayerLike, req, error));
  } catch {
    countDiagnostic('internal.error');
  }
}

// Two shapes, no rest arguments: these run for every middleware of every request.
function wrapRequestMethod(original: LayerMethod, control: { active: boolean }): LayerMethod {
  return function (this: unknown, req: unknown, res: unknown, next: unknown): unknown {
    if (!control.active) return original.call(this, req, res, next);
    const restore = enterLayer(this as LayerLike | undefined, req, next);
    const scope = enteredScope;
    if (scope === undefined) return original.call(this, req, res, next);
    const outer = scopeInProgress;
    scopeInProgress = scope;
    let result: unknown;
    try {
      if (restore === undefined) {
        result = original.call(this, req, res, next);
      } else {
        reportRestored(this, req, false);
        result = context.with(restore, original, this, req, res, next);
      }
    } finally {
      scopeInProgress = outer;
    }
    leaveLayer(scope, req, next);
    return result;
  };
}

function wrapErrorMethod(original: LayerMethod, control: { active: boolean }): LayerMethod {
  return function (this: unknown, error: unknown, req: unknown, res: unknown, next: unknown): unknown {
    // Express never enters a route's layer with an error: no route to learn here.
    const restore = control.active ? enterLayer(undefined, req, next) : undefined;
    if (restore === undefined) return original.call(this, error, req, res, next);
    reportRestored(this, req, true);
    return context.with(restore, original, this, error, req, res, next);
  };
}

/** The `Layer` prototype of the app's router: Express 4 keeps the router as `_router`, Express 5 as `router`. */
function layerPrototypeOf(app: unknown): Record<string, unknown> | undefined {
  if (typeof app !== 'function' && (typeof app !== 'object' || app === null)) return undefined;
  const holder = app as { _router?: { stack?: unknown }; router?: { stack?: unknown } };
  const router = holder._router ?? holder.router;
  const stack = router?.stack;
  if (!Array.isArray(stack)) return undefined;
  for (const layer of stack) {
    const prototype = layer === null || typeof layer !== 'object' ? null : (Object.getPrototypeOf(layer) as Record<string, unknown> | null);
    if (prototype !== null && LAYER_METHODS.some(([name]) => Object.prototype.hasOwnProperty.call(prototype, name))) return prototype;
  }
  return undefined;
}

function install(prototype: Record<string, unknown>): PrototypeState {
  const control = { active: true };
  const wrapped: Wrapped[] = [];
  for (const [name, requestIndex] of LAYER_METHODS) {
    const original = prototype[name];
    if (typeof original !== 'function' || !Object.prototype.hasOwnProperty.call(prototype, name)) continue;
    const method = original as LayerMethod;
    const wrapper = requestIndex === 0 ? wrapRequestMethod(method, control) : wrapErrorMethod(method, control);
    Object.defineProperty(wrapper, 'name', { value: method.name });
    prototype[name] = wrapper;
    wrapped.push({ name, original: method, wrapper });
  }
  return { holders: 0, control, wrapped };
}

function uninstall(prototype: Record<string, unknown>, state: PrototypeState): void {
  // A wrapper someone else wrapped over cannot be taken out: it passes through.
  state.control.active = false;
  for (const { name, original, wrapper } of state.wrapped) {
    if (prototype[name] === wrapper) prototype[name] = original;
  }
}

/**
 * A hold on the wrapping of one `Layer` class, from {@link holdLayerContext}.
 *
 * @example
 * ```ts
 * const hold = holdLayerContext(req.app);
 * hold?.release();
 * ```
 */
export interface LayerContextHold {
  /** Releases the hold; the methods are given back their originals when no hold is left. Twice does nothing. */
  release(): void;
}

/** How deep {@link layerPrototypesOf} follows routers mounted in routers. */
const MAX_ROUTER_DEPTH = 16;

function isLayerPrototype(prototype: unknown): prototype is Record<string, unknown> {
  return typeof prototype === 'object' && prototype !== null && LAYER_METHODS.some(([name]) => Object.prototype.hasOwnProperty.call(prototype, name));
}

/**
 * The `Layer` prototypes of `app`'s router and of the routers mounted in it, however deep: a
 * library's router made by its own copy of Express (an Express 4 router in an Express 5 app) has
 * a `Layer` class of its own, whose methods must be wrapped too.
 */
function layerPrototypesOf(app: unknown): Set<Record<string, unknown>> {
  const found = new Set<Record<string, unknown>>();
  const first = layerPrototypeOf(app);
  if (first === undefined) return found;
  found.add(first);
  const holder = app as { _router?: { stack?: unknown }; router?: { stack?: unknown } };
  const seen = new Set<unknown>();
  const visit = (stack: unknown, depth: number): void => {
    if (!Array.isArray(stack) || depth > MAX_ROUTER_DEPTH || seen.has(stack)) return;
    seen.add(stack);
    for (const layer of stack as unknown[]) {
      if (layer === null || typeof layer !== 'object') continue;
      const prototype: unknown = Object.getPrototypeOf(layer);
      if (isLayerPrototype(prototype)) found.add(prototype);
      // A mounted router (Express 4: a function with a stack; Express 5: the router package's).
      const handle = (layer as { handle?: { stack?: unknown } | null }).handle;
      if (handle !== undefined && handle !== null) visit(handle.stack, depth + 1);
    }
  };
  visit((holder._router ?? holder.router)?.stack, 0);
  return found;
}

function holdPrototype(prototype: Record<string, unknown>): () => void {
  let state = states.get(prototype);
  if (state === undefined) {
    state = install(prototype);
    states.set(prototype, state);
  }
  state.holders += 1;
  const held = state;
  return () => {
    held.holders -= 1;
    if (held.holders === 0 && states.get(prototype) === held) {
      states.delete(prototype);
      uninstall(prototype, held);
    }
  };
}

/**
 * Wraps the `Layer` methods of `app`'s router, and of the routers mounted in it when the app is
 * first seen (those a library made with its own copy of Express included): once per `Layer` class;
 * holds are counted. Undefined when `app` has no Express router ctxprop recognises: nothing is
 * wrapped then. A sub-app of another copy is not reached (Express keeps it in a closure).
 */
export function holdLayerContext(app: unknown): LayerContextHold | undefined {
  const prototypes = layerPrototypesOf(app);
  if (prototypes.size === 0) return undefined;
  const releases = [...prototypes].map(holdPrototype);
  let released = false;
  return {
    release(): void {
      if (released) return;
      released = true;
      for (const release of releases) release();
    },
  };
}

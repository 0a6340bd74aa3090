/**
 * Context restoration for Fastify: every step of a request that runs user code (each later hook,
 * a content-type parser, the error handler after the onError hooks, the route or not-found
 * handler) runs in the request's latest context, even when the step before it handed the request
 * on from another one: a hook that called `done` from a pooled client's callback, or a body parser
 * that finished in one. Without this, AsyncLocalStorage gives the rest of the request the context
 * of whoever opened that client's connection (none, or another request).
 *
 * Fastify keeps each route's hooks (the instance's and the route's own, bound, copied when the app
 * is ready) and its handler in a route context, shared by the route's requests and kept on each
 * request; not-found handlers have route contexts too. The first request of a route context
 * wraps its hooks and handler in place: the hook runner reading a hook array may be part-way
 * through it, and the hooks after ours are wrapped before it reaches them. Fastify reads the
 * handler from the route context when it calls it. The error handler is not a step of its own:
 * Fastify calls it from the onError hooks' runner (reply.js `onErrorHook` → `handleError`), so
 * the onError hooks' `done` puts the context back for it.
 */
import { context, type Context } from '@opentelemetry/api';
import { countDiagnostic, createActiveContextReader, warnContextRestored, warnOnce } from '@ctxprop/core';
import type { FastifyRequest } from 'fastify';
import { fastifyRoute } from './request-accessors.js';
import { scopeOf } from './request-properties.js';

const activeContext = createActiveContextReader();

/** The route's handler (or the not-found handler, where no route matched). */
const HANDLER_STEP = 'the handler';

/**
 * Where `request` came back to its context, for the warning: `step` of the route by its method and
 * template, or of the not-found handler. Made of the app's structure only, never of what the
 * client sent (a not-found request's method could be anything), so the places are few.
 */
function placeOf(step: string, request: FastifyRequest): string {
  const route = fastifyRoute(request);
  if (route !== undefined) return `${step} of ${request.method} ${route}`;
  return step === HANDLER_STEP ? 'the not-found handler' : `${step} of the not-found handler`;
}

/**
 * The context to run `step` of `request` in, when the step before handed the request on from
 * another context: counted, and warned about once per place. Undefined when the active context is
 * the request's, or derived from it (a hook added a span or baggage with `context.with`: that is
 * kept, and is what a later restore goes back to). `step` undefined: a step run from an event that
 * never had the request's context (onTimeout, from the socket's timeout), put back without a count
 * or a warning.
 */
export function contextToRestore(request: FastifyRequest, step: string | undefined): Context | undefined {
  const scope = scopeOf(request);
  if (scope === null) return undefined;
  try {
    const restore = scope.contextToRestore(activeContext(), step !== undefined);
    if (restore !== undefined && step !== undefined) warnContextRestored(placeOf(step, request));
    return restore;
  } catch {
    countDiagnostic('internal.error');
    return undefined;
  }
}

/** How the warning names a hook: `the preHandler hook "auditHook"`, or `a preHandler hook` for an anonymous one. */
function hookStep(stage: string, hook: { readonly name: string }): string {
  const name = hook.name.startsWith('bound ') ? hook.name.slice('bound '.length) : hook.name;
  // Every stage name but preX starts with a vowel sound: onRequest, onSend, onError...
  return name === '' ? `${/^[aeiou]/i.test(stage) ? 'an' : 'a'} ${stage} hook` : `the ${stage} hook ${JSON.stringify(name)}`;
}

/** The step Fastify runs after the onError hooks, whatever error handler it picks (the route's, an encapsulated plugin's, the default one). */
export const ERROR_HANDLER_STEP = 'the error handler';

const RESTORING = Symbol('ctxprop.fastify.restoring');

type LifecycleHook = ((this: unknown, request: FastifyRequest, a?: unknown, b?: unknown, c?: unknown) => unknown) & { [RESTORING]?: true };

/**
 * A lifecycle hook or handler, run in its request's latest context. Every request hook and
 * handler takes the request first; the rest are `(reply)`, `(reply, done)`,
 * `(reply, payload, done)` or `(reply, error, done)`, and are passed on as they came.
 */
function restoringHook(hook: LifecycleHook, step: string | undefined): LifecycleHook {
  const restoring = function (this: unknown, request: FastifyRequest, a?: unknown, b?: unknown, c?: unknown): unknown {
    const restore = contextToRestore(request, step);
    if (restore === undefined) return hook.call(this, request, a, b, c);
    return context.with(restore, hook, this, request, a, b, c);
  };
  // Fastify names hooks in its errors and logs, and a hook marked restoring is never wrapped twice.
  Object.defineProperty(restoring, 'name', { value: hook.name });
  Object.defineProperty(restoring, RESTORING, { value: true });
  return restoring;
}

type HookDone = (this: unknown, error?: unknown, payload?: unknown) => unknown;

/**
 * An onError hook, run in its request's latest context like the others, whose `done` also puts
 * that context back for what Fastify runs from it: `nextStep` (the next onError hook, or the error
 * handler after the last one), or the error handler when the hook passes an error on, as Fastify
 * then skips the hooks left (hooks.js `onSendHookRunner`, which runs the onError hooks). Fastify
 * calls the error handler from the last hook's `done`, in the context that `done` is called in;
 * a parent's error handler that a child's rethrows to, the default handler's log and the
 * response's serialization follow in that context. An async hook's promise is waited on from the
 * context Fastify called the hook in, which the `done` before it put back; the plugin's own
 * onError hook, before the app's, puts it back for the first. Error path only: a request without
 * an error never calls these.
 */
function restoringOnErrorHook(hook: LifecycleHook, step: string, nextStep: string): LifecycleHook {
  const restoring = function (this: unknown, request: FastifyRequest, reply?: unknown, error?: unknown, done?: unknown): unknown {
    const restoringDone = typeof done === 'function' ? contextRestoringDone(request, done as HookDone, nextStep) : done;
    const restore = contextToRestore(request, step);
    if (restore === undefined) return hook.call(this, request, reply, error, restoringDone);
    return context.with(restore, hook, this, request, reply, error, restoringDone);
  };
  Object.defineProperty(restoring, 'name', { value: hook.name });
  Object.defineProperty(restoring, RESTORING, { value: true });
  return restoring;
}

function contextRestoringDone(request: FastifyRequest, done: HookDone, nextStep: string): HookDone {
  return function restoringDone(this: unknown, error?: unknown, payload?: unknown): unknown {
    const restore = contextToRestore(request, error ? ERROR_HANDLER_STEP : nextStep);
    if (restore === undefined) return done.call(this, error, payload);
    return context.with(restore, done, this, error, payload);
  };
}

/**
 * The hooks that can run after a step that lost the context. onResponse and onRequestAbort are
 * not among them: Fastify runs them from the response's and request's events, which the plugin
 * binds to the request's context already.
 */
const RESTORED_HOOKS = ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'preSerialization', 'onSend', 'onError', 'onTimeout'] as const;

/**
 * The plugin's own hooks, by the names Fastify's binding gives them: they need no wrapper (the
 * onRequest hook runs before the request has a scope; the onError hook restores by itself, and
 * calls `done` in the request's context). Only a saving: under a minifier that renames them, they
 * are wrapped, and the wrappers find nothing to restore.
 */
const OWN_HOOK_NAMES: ReadonlySet<string> = new Set(['bound ctxpropOnRequest', 'bound ctxpropOnError']);

const WRAPPED = Symbol('ctxprop.fastify.hooks-restoring');

/** Fastify's content-type parser of an encapsulation context: `run` parses a request's body, then calls `handler`. */
interface ContentTypeParser {
  run?: ParserRun;
}

type ParserRun = ((this: unknown, contentType: unknown, handler: unknown, request: FastifyRequest, reply: unknown) => unknown) & { [RESTORING]?: true };

/**
 * The app's content-type parsers run in the request's latest context: `run` calls a parser of the
 * user's at once, and binds the rest of the request to the context it was called in.
 */
function restoringParserRun(run: ParserRun): ParserRun {
  const restoring = function (this: unknown, contentType: unknown, handler: unknown, request: FastifyRequest, reply: unknown): unknown {
    const restore = contextToRestore(request, 'the content-type parser');
    if (restore === undefined) return run.call(this, contentType, handler, request, reply);
    return context.with(restore, run, this, contentType, handler, request, reply);
  };
  Object.defineProperty(restoring, RESTORING, { value: true });
  return restoring;
}

type RouteContext = { [WRAPPED]?: true; handler?: LifecycleHook; contentTypeParser?: ContentTypeParser | null } & Partial<
  Record<(typeof RESTORED_HOOKS)[number], LifecycleHook[] | null>
>;

/**
 * The route context `reply.callNotFound()` switches a request of `routeContext` to, which Fastify
 * keeps on it under `Symbol('fastify.404ContextKey')` (Fastify 4 and 5): the not-found handler of
 * the route's encapsulation context, with the route's onSend hooks. Null on a not-found route
 * context itself.
 */
function notFoundContextOf(routeContext: RouteContext): RouteContext | null {
  for (const key of Object.getOwnPropertySymbols(routeContext)) {
    if (key.description !== 'fastify.404ContextKey') continue;
    const notFound = (routeContext as Record<symbol, unknown>)[key];
    return typeof notFound === 'object' && notFound !== null ? (notFound as RouteContext) : null;
  }
  return null;
}

/**
 * Wraps the hooks and handler of one route context, once, and the `run` of its content-type
 * parser (shared by the routes of an encapsulation context: an own property of that parser,
 * wrapped once); then those of the not-found route context the route's requests can be switched
 * to (`reply.callNotFound()`), which they reach without passing onRequest again. That one is the
 * route's own (a copy of the not-found handler's on Fastify 4, an object inheriting from it on
 * Fastify 5), hence the own-property test: the not-found handler's may be wrapped already.
 */
function wrapRouteContext(routeContext: RouteContext): void {
  routeContext[WRAPPED] = true;
  wrapSteps(routeContext);
  const notFound = notFoundContextOf(routeContext);
  if (notFound !== null && !Object.prototype.hasOwnProperty.call(notFound, WRAPPED)) wrapRouteContext(notFound);
}

function wrapSteps(routeContext: RouteContext): void {
  if (typeof routeContext.handler === 'function' && !routeContext.handler[RESTORING]) routeContext.handler = restoringHook(routeContext.handler, HANDLER_STEP);
  const parser = routeContext.contentTypeParser;
  if (typeof parser === 'object' && parser !== null && typeof parser.run === 'function' && !parser.run[RESTORING]) parser.run = restoringParserRun(parser.run);
  for (const name of RESTORED_HOOKS) {
    const hooks = routeContext[name];
    if (!Array.isArray(hooks)) continue;
    for (let i = 0; i < hooks.length; i++) {
      const hook = hooks[i];
      if (typeof hook !== 'function' || hook[RESTORING] || OWN_HOOK_NAMES.has(hook.name)) continue;
      if (name === 'onError') {
        const next = hooks[i + 1];
        hooks[i] = restoringOnErrorHook(hook, hookStep(name, hook), typeof next === 'function' ? hookStep(name, next) : ERROR_HANDLER_STEP);
        continue;
      }
      // onTimeout hooks run from the socket's timeout, which never had the request's context:
      // put it back, but nothing lost it, so nothing to count or warn about.
      hooks[i] = restoringHook(hook, name === 'onTimeout' ? undefined : hookStep(name, hook));
    }
  }
}

/**
 * Finds the key under which Fastify keeps a request's route context (`Symbol('fastify.context')`
 * on Fastify 4 and 5), from the first request an app serves. Null, with a warning, when this
 * Fastify keeps it elsewhere.
 */
function findRouteContextKey(request: FastifyRequest): symbol | null {
  for (const key of Object.getOwnPropertySymbols(request)) {
    if (key.description === 'fastify.context') return key;
  }
  warnOnce(
    'CTXPROP_FASTIFY_ROUTE_CONTEXT',
    'ctxprop: this version of Fastify does not keep its route context where @ctxprop/fastify looks for it; hooks and handlers that run after a hook that lost the request\'s context (done() called from a pooled client\'s callback) are not put back in it. Report this with your Fastify version.',
  );
  return null;
}

/**
 * Per app: wraps the hooks and handler of the route `request` is for, the first time that route
 * is requested. Called from the plugin's onRequest hook, after the request has its scope.
 */
export function createRouteContextRestorer(): (request: FastifyRequest) => void {
  let key: symbol | null | undefined;
  return function restoreRouteContext(request) {
    try {
      if (key === undefined) key = findRouteContextKey(request);
      if (key === null) return;
      const routeContext = (request as unknown as Record<symbol, RouteContext | undefined>)[key];
      if (routeContext !== undefined && routeContext !== null && routeContext[WRAPPED] !== true) wrapRouteContext(routeContext);
    } catch {
      countDiagnostic('internal.error');
    }
  };
}

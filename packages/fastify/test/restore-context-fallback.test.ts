/**
 * The plugin finds each route's hooks and handler through the route context Fastify keeps on the
 * request (Symbol('fastify.context') on Fastify 4 and 5; restore-context.test.ts shows it found
 * there on both). A Fastify that keeps it elsewhere must not fail a request: the plugin warns once,
 * naming what it cannot do, and leaves the route as it was.
 */
import { configureDiagnostics, diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import type { FastifyRequest } from 'fastify';
import { createRouteContextRestorer } from '../src/restore-context';

const warnings: Array<{ message: string; code: string }> = [];

beforeAll(() => configureDiagnostics({ warn: (message, code) => warnings.push({ message, code }) }));
afterAll(() => configureDiagnostics({ warn: (message, code) => process.emitWarning(message, { type: 'CtxpropWarning', code }) }));
beforeEach(() => {
  warnings.length = 0;
  resetDiagnostics();
});

test('a request with no route context where Fastify 4 and 5 keep it: one warning for the app, the request goes on', () => {
  const restore = createRouteContextRestorer();
  const handler = () => 'handled';
  const routeContext = { handler, preHandler: [handler] };
  // The route context under a key the plugin does not know.
  const request = { [Symbol('fastify.route-context')]: routeContext } as unknown as FastifyRequest;
  expect(() => {
    restore(request);
    restore(request);
  }).not.toThrow();
  expect(warnings).toEqual([{ code: 'CTXPROP_FASTIFY_ROUTE_CONTEXT', message: expect.stringContaining('Report this with your Fastify version') }]);
  expect(routeContext).toEqual({ handler, preHandler: [handler] });
  expect(diagnosticsSnapshot()['internal.error']).toBeUndefined();
});

test("the route context found: its hooks, handler and parser are wrapped once, keeping their names, and the plugin's own hooks are not", () => {
  const restore = createRouteContextRestorer();
  const key = Symbol('fastify.context');
  const userHook = function auditHook() {};
  const ownHook = function ctxpropOnRequest() {}.bind(null);
  const ownErrorHook = function ctxpropOnError() {}.bind(null);
  const userErrorHook = function reportError() {};
  const handler = function getUser() {};
  const run = function run() {};
  const contentTypeParser = { run };
  const routeContext = { handler, onRequest: [ownHook, userHook], onError: [ownErrorHook, userErrorHook], preHandler: null, contentTypeParser };
  const request = { [key]: routeContext } as unknown as FastifyRequest;
  restore(request);
  const wrappedHandler = routeContext.handler;
  const wrappedHook = routeContext.onRequest[1];
  expect(wrappedHandler).not.toBe(handler);
  expect([wrappedHandler.name, wrappedHook.name]).toEqual(['getUser', 'auditHook']);
  expect(wrappedHook).not.toBe(userHook);
  expect(routeContext.onRequest[0]).toBe(ownHook);
  expect(routeContext.onError[0]).toBe(ownErrorHook);
  expect(routeContext.onError[1]).not.toBe(userErrorHook);
  expect(routeContext.onError[1]!.name).toBe('reportError');
  expect(routeContext.preHandler).toBeNull();
  const wrappedRun = contentTypeParser.run;
  expect(wrappedRun).not.toBe(run);
  // A second request of the same route leaves it as the first left it; another route of the same
  // encapsulation context shares its content-type parser, wrapped once.
  restore({ [key]: routeContext } as unknown as FastifyRequest);
  expect(routeContext.handler).toBe(wrappedHandler);
  expect(routeContext.onRequest[1]).toBe(wrappedHook);
  restore({ [key]: { handler: function other() {}, contentTypeParser } } as unknown as FastifyRequest);
  expect(contentTypeParser.run).toBe(wrappedRun);
  expect(warnings).toEqual([]);
});

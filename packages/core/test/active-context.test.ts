/**
 * The hot-path reader of the active context (logging's lines, the inbound path): whatever the global
 * context manager situation, it answers exactly what `context.active()` of @opentelemetry/api
 * answers (the reference here is the API itself), including when the manager is replaced,
 * disabled, or registered by an API copy this one refuses.
 */
import { context, createContextKey, ROOT_CONTEXT, type ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createActiveContextReader, ensureContextManager } from '@ctxprop/core';

const KEY = createContextKey('active-context-test');
const API_GLOBALS_KEY = Symbol.for('opentelemetry.js.api.1');

function globals(): { version: string; context?: ContextManager } {
  return (globalThis as unknown as Record<symbol, { version: string; context?: ContextManager }>)[API_GLOBALS_KEY]!;
}

/** Reads with `read` and with the API inside `context.with(ctx)`, and outside it. */
function bothInsideAndOutside(read: () => unknown, ctx = ROOT_CONTEXT.setValue(KEY, Math.random())): unknown[][] {
  const inside = context.with(ctx, () => [read(), context.active()]);
  return [inside, [read(), context.active()]];
}

afterEach(() => {
  context.disable();
});

it('answers what context.active() answers with ctxprop embedded manager, inside and outside context.with', () => {
  ensureContextManager();
  const read = createActiveContextReader();
  const ctx = ROOT_CONTEXT.setValue(KEY, 'request');
  const [inside, outside] = bothInsideAndOutside(read, ctx);
  expect(inside![0]).toBe(ctx);
  expect(inside![1]).toBe(ctx);
  expect(outside![0]).toBe(outside![1]);
});

it('follows a manager registered after its first call, and a replaced one', () => {
  const read = createActiveContextReader();
  expect(read()).toBe(ROOT_CONTEXT); // no manager yet: the API no-op manager's answer
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const [inside] = bothInsideAndOutside(read);
  expect(inside![0]).toBe(inside![1]);
  expect((inside![0] as typeof ROOT_CONTEXT).getValue(KEY)).toBeDefined();
  context.disable();
  expect(context.with(ROOT_CONTEXT.setValue(KEY, 1), read)).toBe(ROOT_CONTEXT);
  ensureContextManager();
  const [again] = bothInsideAndOutside(read);
  expect(again![0]).toBe(again![1]);
  expect((again![0] as typeof ROOT_CONTEXT).getValue(KEY)).toBeDefined();
});

it('ignores a manager the API refuses (registered by an older API 1.x, which it rejects), as context.active() does', () => {
  ensureContextManager();
  const read = createActiveContextReader();
  const registry = globals();
  const manager = registry.context!;
  const saved = registry.version;
  registry.version = '1.0.0';
  try {
    // The manager itself holds a context, but the API does not use that manager: ROOT for both.
    const ctx = ROOT_CONTEXT.setValue(KEY, 'request');
    const [viaReader, viaApi] = manager.with(ctx, () => [read(), context.active()]);
    expect(viaApi).toBe(ROOT_CONTEXT);
    expect(viaReader).toBe(ROOT_CONTEXT);
  } finally {
    registry.version = saved;
  }
});

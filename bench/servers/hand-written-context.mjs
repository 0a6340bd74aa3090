// The reference the inbound targets of issue 3 are set against: a hand-written minimal request
// context (one AsyncLocalStorage, a traceparent regex, a baggage split), with none of ctxprop's
// validation, limits, trust policy, diagnostics or OpenTelemetry interop. Shared by
// express-hand-written.mjs and fastify-hand-written.mjs.
import { AsyncLocalStorage } from 'node:async_hooks';

export const storage = new AsyncLocalStorage();

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function parseBaggage(header) {
  const entries = new Map();
  if (typeof header !== 'string') return entries;
  for (const member of header.split(',')) {
    const eq = member.indexOf('=');
    if (eq > 0) entries.set(decodeURIComponent(member.slice(0, eq).trim()), decodeURIComponent(member.slice(eq + 1).trim()));
  }
  return entries;
}

/** The store for one request: the caller's ids and the baggage entries. */
export function requestStore(headers) {
  const match = TRACEPARENT.exec(headers.traceparent ?? '');
  return {
    traceId: match?.[1],
    parentId: match?.[2],
    flags: match?.[3],
    baggage: parseBaggage(headers.baggage),
  };
}

// Shared by the inbound-*.test.ts files: a framework-free request and its accessors.
import { AggregationTemporality, MetricReader } from '@opentelemetry/sdk-metrics';
import { createInboundHandler, resolveInboundOptions, type InboundOptions, type InboundRequestAccessors } from '@ctxprop/core';

export interface FakeRequest {
  headers: Record<string, string | string[]>;
  method: string;
  url: string;
  ip?: string;
  route?: string;
  scheme?: string;
  httpVersion?: string;
  socket?: { remoteAddress?: string; remotePort?: number };
}

export const fakeAccessors: InboundRequestAccessors<FakeRequest> = {
  headers: (request) => request.headers,
  method: (request) => request.method,
  target: (request) => request.url,
  scheme: (request) => request.scheme ?? 'http',
  clientAddress: (request) => request.ip,
  route: (request) => request.route,
  protocolVersion: (request) => request.httpVersion,
  connection: (request) => request.socket,
};

export function fakeRequest(headers: Record<string, string | string[]> = {}, extra: Partial<FakeRequest> = {}): FakeRequest {
  return { headers, method: 'GET', url: '/users/7?expand=1', ip: '10.0.0.5', ...extra };
}

/** A handler over fake requests; outbound hooks and interval detachment off unless asked for (they are process-wide). */
export function handlerFor(options: InboundOptions<FakeRequest> = {}, accessors: InboundRequestAccessors<FakeRequest> = fakeAccessors) {
  return createInboundHandler(resolveInboundOptions({ outbound: false, detachIntervals: false, ...options }, { name: 'test-adapter', version: '1.2.3' }), accessors);
}

// W3C Trace Context §3.2 example values.
export const INBOUND_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const INBOUND_SPAN_ID = '00f067aa0ba902b7';
export const INBOUND_TRACEPARENT = `00-${INBOUND_TRACE_ID}-${INBOUND_SPAN_ID}-01`;

/** A metric reader the test collects from on demand (cumulative). */
export class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

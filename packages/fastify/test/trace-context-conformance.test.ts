// W3C Trace Context conformance of a Fastify service with @ctxprop/fastify and the OpenTelemetry
// SDK (2.x), end to end over real sockets: the scenarios of the W3C Trace Context test suite
// (core/test/trace-context-service-conformance.ts) and W3C Baggage's rules
// (core/test/baggage-service-conformance.ts).
import fastify from 'fastify';
import { ctxprop } from '@ctxprop/fastify';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { baggageConformance } from '../../core/test/baggage-service-conformance';
import { useServiceUnderTest } from '../../core/test/service-under-test';
import { traceContextConformance } from '../../core/test/trace-context-service-conformance';
import { listen } from './support/frameworks';

useRecordingTracer();

describe('a Fastify 5 service with @ctxprop/fastify and the SDK', () => {
  const send = useServiceUnderTest(async (callbackUrl) => {
    const app = fastify();
    await app.register(ctxprop);
    app.get('/call/:count', async (request) => {
      const count = Number((request.params as { count: string }).count);
      for (let i = 0; i < count; i++) await (await fetch(`${callbackUrl}/${i}`, { method: 'POST' })).text();
      return 'done';
    });
    return { url: await listen(app), close: () => app.close() };
  });
  describe('W3C Trace Context', () => traceContextConformance(send));
  describe('W3C Baggage', () => baggageConformance(send));
});

// W3C Trace Context conformance of Fastify 4 and 5 services with @ctxprop/fastify and the
// OpenTelemetry SDK (2.x), end to end over real sockets: the scenarios of the W3C Trace Context
// test suite (core/test/trace-context-service-conformance.ts) and W3C Baggage's rules
// (core/test/baggage-service-conformance.ts).
import { ctxprop } from '@ctxprop/fastify';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { baggageConformance } from '../../core/test/baggage-service-conformance';
import { useServiceUnderTest } from '../../core/test/service-under-test';
import { traceContextConformance } from '../../core/test/trace-context-service-conformance';
import { FRAMEWORKS, listen } from './support/frameworks';

useRecordingTracer();

describe.each(FRAMEWORKS)('a %s service with @ctxprop/fastify and the SDK', (_name, createApp) => {
  const send = useServiceUnderTest(async (callbackUrl) => {
    const app = createApp();
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

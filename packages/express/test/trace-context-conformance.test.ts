// W3C Trace Context conformance of an Express service with @ctxprop/express and the OpenTelemetry
// SDK (2.x), end to end over real sockets: the scenarios of the W3C Trace Context test suite
// (core/test/trace-context-service-conformance.ts) and W3C Baggage's rules
// (core/test/baggage-service-conformance.ts).
import express from 'express';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ctxprop } from '@ctxprop/express';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { baggageConformance } from '../../core/test/baggage-service-conformance';
import { useServiceUnderTest } from '../../core/test/service-under-test';
import { traceContextConformance } from '../../core/test/trace-context-service-conformance';

useRecordingTracer();

describe('an Express 5 service with @ctxprop/express and the SDK', () => {
  const send = useServiceUnderTest(async (callbackUrl) => {
    const app = express();
    const middleware = ctxprop();
    app.use(middleware);
    app.get('/call/:count', async (req, res) => {
      for (let i = 0; i < Number(req.params.count); i++) await (await fetch(`${callbackUrl}/${i}`, { method: 'POST' })).text();
      res.send('done');
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        middleware.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  });
  describe('W3C Trace Context', () => traceContextConformance(send));
  describe('W3C Baggage', () => baggageConformance(send));
});

// W3C Trace Context conformance of an Express service with @ctxprop/express and the OpenTelemetry
// SDK (2.x), end to end over real sockets: the scenarios of the W3C Trace Context test suite
// (core/test/trace-context-service-conformance.ts) and W3C Baggage's rules
// (core/test/baggage-service-conformance.ts).
import express from 'express';
import { ctxprop, type CtxpropMiddleware } from '@ctxprop/express';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { baggageConformance } from '../../core/test/baggage-service-conformance';
import { useServiceUnderTest } from '../../core/test/service-under-test';
import { traceContextConformance } from '../../core/test/trace-context-service-conformance';
import { listen } from './support/apps';

useRecordingTracer();

describe('an Express 5 service with @ctxprop/express and the SDK', () => {
  const send = useServiceUnderTest(async (callbackUrl) => {
    const app = express();
    // support/apps' listen() closes the middleware it finds here.
    app.locals['ctxprop'] = ctxprop();
    app.use(app.locals['ctxprop'] as CtxpropMiddleware);
    app.get('/call/:count', async (req, res) => {
      for (let i = 0; i < Number(req.params.count); i++) await (await fetch(`${callbackUrl}/${i}`, { method: 'POST' })).text();
      res.send('done');
    });
    return listen(app);
  });
  describe('W3C Trace Context', () => traceContextConformance(send));
  describe('W3C Baggage', () => baggageConformance(send));
});

// W3C Trace Context conformance of Express 4 and 5 services with @ctxprop/express and the
// OpenTelemetry SDK (2.x), end to end over real sockets: the scenarios of the W3C Trace Context
// test suite (core/test/trace-context-service-conformance.ts) and W3C Baggage's rules
// (core/test/baggage-service-conformance.ts).
import { ctxprop, type CtxpropMiddleware } from '@ctxprop/express';
import { useRecordingTracer } from '../../core/test/recording-tracer';
import { baggageConformance } from '../../core/test/baggage-service-conformance';
import { useServiceUnderTest } from '../../core/test/service-under-test';
import { traceContextConformance } from '../../core/test/trace-context-service-conformance';
import { EXPRESS_VERSIONS, listen } from './support/apps';

useRecordingTracer();

describe.each(EXPRESS_VERSIONS)('an %s service with @ctxprop/express and the SDK', (_name, express) => {
  const send = useServiceUnderTest(async (callbackUrl) => {
    const app = express();
    // support/apps' listen() closes the middleware it finds here.
    app.locals['ctxprop'] = ctxprop();
    app.use(app.locals['ctxprop'] as CtxpropMiddleware);
    // Express 4 does not pass a rejected handler's error on: the handler passes it itself.
    app.get('/call/:count', (req, res, next) => {
      (async () => {
        for (let i = 0; i < Number(req.params['count']); i++) await (await fetch(`${callbackUrl}/${i}`, { method: 'POST' })).text();
        res.send('done');
      })().catch(next);
    });
    return listen(app);
  });
  describe('W3C Trace Context', () => traceContextConformance(send));
  describe('W3C Baggage', () => baggageConformance(send));
});

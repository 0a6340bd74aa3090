// When ctxprop cannot set a request up (a propagator or an SDK span processor that throws), the
// request goes on without context: req.baggage is the empty view (never undefined), req.traceContext
// undefined, req.setBaggage() does nothing, and the handler's own code does not fail. Each test runs
// on a fresh copy of Express, whose shared request object has no ctxprop property yet: an app that
// ctxprop did set up would otherwise have installed them already.
import request from 'supertest';
import { context, trace, type TextMapPropagator } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { diagnosticsSnapshot, resetDiagnostics } from '@ctxprop/core';
import { ctxprop, type CtxpropOptions } from '@ctxprop/express';
import type { Express } from 'express';
import { listen, observe, type ExpressFactory } from './support/apps';

const MODULES: ReadonlyArray<[string, string]> = [
  ['Express 5', 'express'],
  ['Express 4', 'express4'],
];

/** A copy of Express no other test of this file has used. */
function freshExpress(name: string): ExpressFactory {
  let loaded: ExpressFactory | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(name) as ExpressFactory;
  });
  return loaded!;
}

const throwingPropagator: TextMapPropagator = {
  inject() {},
  extract() {
    throw new Error('propagator bug');
  },
  fields: () => [],
};

function failingApp(express: ExpressFactory, options: CtxpropOptions): Express {
  // Nothing installed yet on this copy: the test proves the properties come from the failure path.
  expect(Object.prototype.hasOwnProperty.call(express.request, 'baggage')).toBe(false);
  const app = express();
  const middleware = ctxprop({ outbound: false, ...options });
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  // The README's own example.
  app.get('/orders/:id', (req, res) => {
    res.json({ tier: req.baggage.get('customer.tier') ?? 'free' });
  });
  app.get('/properties', (req, res) => {
    req.setBaggage({ added: 'yes' });
    res.json({
      baggageType: typeof req.baggage,
      size: req.baggage.size,
      view: req.baggage.toJSON(),
      has: req.baggage.has('customer.tier'),
      traceContext: req.traceContext === undefined ? 'undefined' : req.traceContext,
      active: observe(),
    });
  });
  return app;
}

async function expectRequestsGoOn(app: Express): Promise<void> {
  const server = await listen(app);
  try {
    const get = (path: string) => request(server.url).get(path).set('baggage', 'customer.tier=gold').set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    expect((await get('/orders/7').expect(200)).body).toEqual({ tier: 'free' });
    expect((await get('/properties').expect(200)).body).toEqual({
      baggageType: 'object',
      size: 0,
      view: {},
      has: false,
      traceContext: 'undefined',
      active: {},
    });
    expect(diagnosticsSnapshot()['internal.error']).toBe(2);
  } finally {
    await server.close();
  }
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});

afterAll(() => {
  context.disable();
});

beforeEach(() => {
  resetDiagnostics();
});

describe.each(MODULES)('%s, when ctxprop cannot set a request up', (_name, moduleName) => {
  it("gives an empty req.baggage, no req.traceContext and a req.setBaggage() that does nothing (a propagator's extract throws)", async () => {
    await expectRequestsGoOn(failingApp(freshExpress(moduleName), { propagators: throwingPropagator }));
  });

  describe('with an SDK span processor whose onStart throws', () => {
    const processor: SpanProcessor = {
      onStart() {
        throw new Error('processor bug');
      },
      onEnd() {},
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });

    beforeAll(() => {
      trace.setGlobalTracerProvider(provider);
    });

    afterAll(() => {
      trace.disable();
    });

    it('gives an empty req.baggage, no req.traceContext and a req.setBaggage() that does nothing', async () => {
      await expectRequestsGoOn(failingApp(freshExpress(moduleName), {}));
    });
  });
});

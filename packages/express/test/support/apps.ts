// Test apps for Express 5 (`express`) and Express 4 (`express4`): one route per way a handler can
// run (sync, async, callback, timers, streams, body parsers, errors), each reporting what the
// active context says, so the tests can compare it with what the request carried.
import { once } from 'node:events';
import { stat } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Express, NextFunction, Request, Response } from 'express';
import { ctxprop, recordErrors, type CtxpropMiddleware, type CtxpropOptions } from '@ctxprop/express';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const express5 = require('express') as typeof import('express');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const express4 = require('express4') as typeof import('express');

export type ExpressFactory = typeof import('express');

/** Both major versions, for `describe.each`. */
export const EXPRESS_VERSIONS: [string, ExpressFactory][] = [
  ['Express 5', express5],
  ['Express 4', express4],
];

/** What the active context says at one point of a request. */
export interface Observation {
  tier: string | undefined;
  added: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
}

/** Reads the active context the way any library would: through @opentelemetry/api only. */
export function observe(): Observation {
  const baggage = propagation.getActiveBaggage();
  const spanContext = trace.getSpanContext(context.active());
  return {
    tier: baggage?.getEntry('customer.tier')?.value,
    added: baggage?.getEntry('added')?.value,
    traceId: spanContext?.traceId,
    spanId: spanContext?.spanId,
  };
}

export interface TestAppOptions {
  /** Another local server the /outbound route calls with fetch. */
  downstreamUrl?: () => string;
}

/** Builds the test app with `ctxprop(options)` first and an error handler last. */
export function buildApp(express: ExpressFactory, options?: CtxpropOptions, extra: TestAppOptions = {}): Express {
  const app = express();
  const middleware = ctxprop(options);
  app.locals['ctxprop'] = middleware;
  app.use(middleware);

  app.get('/sync', (req, res) => {
    res.json({ handler: observe(), view: req.baggage.toJSON(), size: req.baggage.size, traceContext: req.traceContext ?? null });
  });

  app.get('/async', async (_req, res) => {
    const before = observe();
    await sleep(2);
    await Promise.resolve();
    res.json({ before, after: observe() });
  });

  app.get('/callback', (_req, res) => {
    setTimeout(() => {
      stat(__filename, () => res.json({ handler: observe() }));
    }, 1);
  });

  app.post('/json', express.json(), (req, _res, next) => {
    (req as Request & { afterParser?: Observation }).afterParser = observe();
    next();
  }, async (req, res) => {
    await sleep(Number((req.body as { delay?: number }).delay ?? 0));
    res.json({ body: req.body, afterParser: (req as Request & { afterParser?: Observation }).afterParser, handler: observe() });
  });

  app.post('/form', express.urlencoded({ extended: false }), (req, res) => {
    res.json({ body: req.body, handler: observe() });
  });

  // A multipart upload read from the request stream by hand: the listeners run from the socket.
  app.post('/multipart', (req, res) => {
    const chunks: Buffer[] = [];
    let onData: Observation | undefined;
    req.on('data', (chunk: Buffer) => {
      onData ??= observe();
      chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const boundary = /boundary=([^;]+)/.exec(req.headers['content-type'] ?? '')?.[1] ?? '';
      const parts = text.split(`--${boundary}`).filter((part) => part.includes('name="'));
      const names = parts.map((part) => /name="([^"]+)"/.exec(part)?.[1]);
      res.json({ names, onData, onEnd: observe() });
    });
  });

  app.get('/stream', (_req, res) => {
    const seen: Observation[] = [];
    const source = Readable.from(['a', 'b', 'c']);
    source.on('data', () => seen.push(observe()));
    source.on('end', () => {
      seen.push(observe());
      res.json({ seen });
    });
  });

  app.get('/finish-listener', (req, res) => {
    res.on('finish', () => {
      (req.app.locals as { finished?: Observation }).finished = observe();
    });
    res.json({ handler: observe() });
  });

  // Listener bookkeeping on the request-bound emitters: removal by the original function, once.
  app.get('/listeners', (req, res) => {
    const calls: string[] = [];
    const removed = () => calls.push('removed listener called');
    req.on('custom', removed);
    const listedBeforeRemoval = req.listeners('custom').includes(removed);
    req.removeListener('custom', removed);
    const onceSeen: Observation[] = [];
    res.once('custom', () => onceSeen.push(observe()));
    const off = () => calls.push('off listener called');
    res.prependOnceListener('other', off);
    res.off('other', off);
    // Emitted from outside the request's context, as the socket would.
    context.with(ROOT_CONTEXT, () => {
      req.emit('custom');
      res.emit('custom');
      res.emit('custom');
      res.emit('other');
    });
    res.json({ calls, listedBeforeRemoval, onceSeen, left: [req.listenerCount('custom'), res.listenerCount('custom'), res.listenerCount('other')] });
  });

  app.get('/outside', (req, res) => {
    const inside = req.baggage.get('customer.tier');
    const outside = context.with(ROOT_CONTEXT, () => req.baggage.get('customer.tier'));
    res.json({ inside, outside: outside ?? null });
  });

  app.get(
    '/set-baggage',
    (req, _res, next) => {
      req.setBaggage({ added: 'yes' });
      next();
    },
    async (req, _res, next) => {
      await sleep(1);
      (req as Request & { middle?: Observation }).middle = observe();
      next();
    },
    (req, res) => {
      setTimeout(() => res.json({ middle: (req as Request & { middle?: Observation }).middle, handler: observe(), view: req.baggage.toJSON() }), 1);
    },
  );

  const router = express.Router();
  router.get('/users/:id', (req, res) => res.json({ id: req.params['id'], handler: observe() }));
  router.get('/', (_req, res) => res.json({ handler: observe() }));
  app.use('/api', router);

  app.get('/status/:code', (req, res) => {
    res.status(Number(req.params['code'])).json({ handler: observe() });
  });

  app.get('/throw', () => {
    throw new TypeError('sync boom');
  });

  app.get('/reject', (_req, _res, next) => {
    // Express 4 does not catch rejected promises: hand the error on explicitly, as apps do there.
    Promise.reject(new RangeError('async boom')).catch(next);
  });

  app.get('/outbound', async (req, res) => {
    if (extra.downstreamUrl === undefined) throw new Error('no downstream');
    const response = await fetch(`${extra.downstreamUrl()}/echo`);
    res.json({ downstream: await response.json(), handler: observe(), traceContext: req.traceContext ?? null });
  });

  app.use(recordErrors());
  // 4-argument error handler.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.message, handler: observe() });
  });
  return app;
}

/** A server that answers with the headers it received (a downstream service). */
export function echoApp(express: ExpressFactory): Express {
  const app = express();
  app.get('/echo', (req, res) => {
    res.json({ traceparent: req.headers['traceparent'] ?? null, baggage: req.headers['baggage'] ?? null });
  });
  return app;
}

export interface Running {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 on a free port. */
export async function listen(app: Express): Promise<Running> {
  const server = createServer(app);
  server.keepAliveTimeout = 1_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        // Releases the middleware's hold on outbound propagation, so that no hook outlives the test file.
        (app.locals['ctxprop'] as CtxpropMiddleware | undefined)?.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// W3C Trace Context §3.2 example values.
export const INBOUND_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const INBOUND_SPAN_ID = '00f067aa0ba902b7';
export const INBOUND_TRACEPARENT = `00-${INBOUND_TRACE_ID}-${INBOUND_SPAN_ID}-01`;

/** A multipart/form-data body with two text fields (RFC 7578). */
export function multipartBody(boundary: string): string {
  return [
    `--${boundary}`,
    'Content-Disposition: form-data; name="title"',
    '',
    'hello',
    `--${boundary}`,
    'Content-Disposition: form-data; name="file"; filename="a.txt"',
    'Content-Type: text/plain',
    '',
    'x'.repeat(200_000),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

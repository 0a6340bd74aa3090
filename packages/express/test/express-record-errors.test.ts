// recordErrors() at more than one level of an app (a mounted sub-app and its parent, or the same
// error middleware registered twice): an error that passes through several of them is one
// exception, one 'exception' event on the server span; different errors are still one event each.
import request from 'supertest';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Express, NextFunction, Request, Response } from 'express';
import { ctxprop, recordErrors } from '@ctxprop/express';
import { EXPRESS_VERSIONS, listen, type ExpressFactory, type Running } from './support/apps';
import { useSdk } from './support/sdk';

const sdk = useSdk();

/** `sub` mounted at /sub with recordErrors() at both levels, and an error handler last. */
function nestedApp(express: ExpressFactory, sub: Express): Express {
  const app = express();
  const middleware = ctxprop({ outbound: false });
  app.locals['ctxprop'] = middleware;
  app.use(middleware);
  sub.use(recordErrors());
  app.use('/sub', sub);
  app.use(recordErrors());
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  return app;
}

describe.each(EXPRESS_VERSIONS)('%s: recordErrors() at several levels', (_name, express) => {
  let running: Running | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('records an error that passes through the sub-app and the parent once', async () => {
    const sub = express();
    sub.get('/boom', () => {
      throw new RangeError('out of range');
    });
    running = await listen(nestedApp(express, sub));

    await request(running.url).get('/sub/boom').expect(500, { error: 'out of range' });

    const [span] = await sdk.finishedSpans(1);
    expect(span!.events.map((event) => `${event.name}:${String(event.attributes?.['exception.type'])}`)).toEqual(['exception:RangeError']);
    expect(span!.attributes['error.type']).toBe('RangeError');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records the same error once when recordErrors() is registered twice in one app', async () => {
    const app = express();
    const middleware = ctxprop({ outbound: false });
    app.locals['ctxprop'] = middleware;
    app.use(middleware);
    app.get('/boom', () => {
      throw new TypeError('not a function');
    });
    app.use(recordErrors());
    app.use(recordErrors());
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).json({ error: err.message });
    });
    running = await listen(app);

    await request(running.url).get('/boom').expect(500);

    const [span] = await sdk.finishedSpans(1);
    expect(span!.events.map((event) => event.attributes?.['exception.type'])).toEqual(['TypeError']);
  });

  it('still records two different errors as two events, error.type from the later one', async () => {
    const sub = express();
    sub.get('/boom', () => {
      throw new RangeError('first');
    });
    // Between the two recordErrors(): a handler that replaces the error with another one.
    sub.use(recordErrors());
    sub.use((_err: Error, _req: Request, _res: Response, next: NextFunction) => {
      next(new TypeError('second'));
    });
    const app = express();
    const middleware = ctxprop({ outbound: false });
    app.locals['ctxprop'] = middleware;
    app.use(middleware);
    app.use('/sub', sub);
    app.use(recordErrors());
    app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).json({ error: err.message });
    });
    running = await listen(app);

    await request(running.url).get('/sub/boom').expect(500, { error: 'second' });

    const [span] = await sdk.finishedSpans(1);
    expect(span!.events.map((event) => [event.attributes?.['exception.type'], event.attributes?.['exception.message']])).toEqual([
      ['RangeError', 'first'],
      ['TypeError', 'second'],
    ]);
    expect(span!.attributes['error.type']).toBe('TypeError');
  });
});

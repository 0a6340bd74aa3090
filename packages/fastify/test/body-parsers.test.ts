/**
 * Body parsers other than Fastify's own JSON one (issue #3: "body parsers (json, urlencoded,
 * multipart)"): @fastify/formbody for urlencoded forms, and @fastify/multipart, both read in the
 * handler (`request.parts()`, the file streamed) and parsed before it (`attachFieldsToBody`, with
 * an `onFile` function of the user's). Their streams are fed by the request's 'data' events: every
 * callback, the handler after the body, and concurrent uploads each see their own request's trace
 * and baggage. Real listening servers, real fetch with FormData; each Fastify major with the plugin
 * majors made for it.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import formbody5 from '@fastify/formbody';
import multipart5, { type MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import formbody4 from 'fastify4-formbody';
import multipart4 from 'fastify4-multipart';
import { Readable } from 'node:stream';
import { ctxprop } from '@ctxprop/fastify';
import { FRAMEWORKS, listen, PARENT_ID, TRACE_ID, TRACEPARENT } from './support/frameworks';

/** What the active context holds: `traceId/user`. */
function seen(): string {
  const active = context.active();
  return `${trace.getSpanContext(active)?.traceId ?? '-'}/${propagation.getBaggage(active)?.getEntry('user.id')?.value ?? '-'}`;
}

const EXPECTED = `${TRACE_ID}/alice`;
const headers = (user = 'alice', traceparent = TRACEPARENT) => ({ traceparent, baggage: `user.id=${user},tenant=acme` });

// The plugins' two majors under one (the newer) type: their surface used here is the same.
const PLUGINS: Record<string, { formbody: FastifyPluginCallback; multipart: typeof multipart5 }> = {
  'Fastify 5': { formbody: formbody5 as unknown as FastifyPluginCallback, multipart: multipart5 },
  'Fastify 4': { formbody: formbody4 as unknown as FastifyPluginCallback, multipart: multipart4 as unknown as typeof multipart5 },
};

/** A form with a text field and a file of `size` bytes: large enough to arrive in many chunks. */
function uploadForm(size: number): FormData {
  const form = new FormData();
  form.append('title', 'quarterly report');
  form.append('file', new Blob([Buffer.alloc(size, 'x')]), 'report.txt');
  return form;
}

/** A urlencoded body sent in two parts, the second from a timer of the test's, not the request's. */
function slowForm(): ReadableStream<Uint8Array> {
  const chunks = ['order=7&note=', 'slow%20client'];
  let next = 0;
  const stream = new Readable({
    read() {
      setTimeout(() => this.push(next < chunks.length ? chunks[next++] : null), 10);
    },
  });
  return Readable.toWeb(stream) as ReadableStream<Uint8Array>;
}

describe.each(FRAMEWORKS)('%s', (name, createApp) => {
  const plugins = PLUGINS[name]!;
  let app: FastifyInstance;
  let base: string;

  afterEach(() => app.close());

  test("a urlencoded form (@fastify/formbody) that arrives slowly: preValidation and the handler see the request's context", async () => {
    app = createApp();
    await app.register(ctxprop);
    await app.register(plugins.formbody);
    const points: Record<string, string> = {};
    app.addHook('preValidation', async () => void (points.preValidation = seen()));
    app.post('/form', async (request) => {
      points.handler = seen();
      return { body: request.body, points };
    });
    base = await listen(app);
    const response = await fetch(`${base}/form`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/x-www-form-urlencoded' },
      body: slowForm(),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ body: { order: '7', note: 'slow client' }, points: { preValidation: EXPECTED, handler: EXPECTED } });
  });

  describe('@fastify/multipart, read in the handler', () => {
    beforeEach(async () => {
      app = createApp();
      await app.register(ctxprop);
      await app.register(plugins.multipart);
      app.post('/upload', async (request) => {
        const fields: Record<string, unknown> = {};
        const points: Record<string, string> = {};
        let bytes = 0;
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            part.file.on('data', () => void (points.fileData ??= seen()));
            for await (const chunk of part.file) bytes += (chunk as Buffer).length;
            points.fileRead = seen();
          } else {
            fields[part.fieldname] = part.value;
            points.field = seen();
          }
        }
        points.afterParts = seen();
        return { fields, bytes, points, user: request.baggage.get('user.id') };
      });
      base = await listen(app);
    });

    test("the field, the file's stream and the code after it see the request's context", async () => {
      const response = await fetch(`${base}/upload`, { method: 'POST', headers: headers(), body: uploadForm(300_000) });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        fields: { title: 'quarterly report' },
        bytes: 300_000,
        points: { field: EXPECTED, fileData: EXPECTED, fileRead: EXPECTED, afterParts: EXPECTED },
        user: 'alice',
      });
    });

    test('100 concurrent uploads each see their own trace and baggage', async () => {
      const traceIdOf = (n: number) => (n + 1).toString(16).padStart(32, 'a');
      const answers = await Promise.all(
        Array.from({ length: 100 }, async (_, n) => {
          const response = await fetch(`${base}/upload`, {
            method: 'POST',
            headers: headers(`user-${n}`, `00-${traceIdOf(n)}-${PARENT_ID}-01`),
            body: uploadForm(40_000 + n),
          });
          return (await response.json()) as { bytes: number; points: Record<string, string>; user: string };
        }),
      );
      answers.forEach((answer, n) => {
        const mine = `${traceIdOf(n)}/user-${n}`;
        expect(answer).toEqual({
          fields: { title: 'quarterly report' },
          bytes: 40_000 + n,
          points: { field: mine, fileData: mine, fileRead: mine, afterParts: mine },
          user: `user-${n}`,
        });
      });
    });
  });

  test("@fastify/multipart parsing before the handler (attachFieldsToBody): the user's onFile and the handler see the request's context", async () => {
    const onFileSaw = new WeakMap<FastifyRequest, string>();
    app = createApp();
    await app.register(ctxprop);
    await app.register(plugins.multipart, {
      attachFieldsToBody: true,
      async onFile(this: FastifyRequest, part: MultipartFile) {
        let bytes = 0;
        for await (const chunk of part.file) bytes += (chunk as Buffer).length;
        onFileSaw.set(this, `${seen()}:${bytes}`);
      },
    });
    app.post('/upload', async (request) => {
      const body = request.body as { title: { value: string } };
      return { title: body.title.value, onFile: onFileSaw.get(request), handler: seen() };
    });
    base = await listen(app);
    const response = await fetch(`${base}/upload`, { method: 'POST', headers: headers(), body: uploadForm(200_000) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ title: 'quarterly report', onFile: `${EXPECTED}:200000`, handler: EXPECTED });
  });
});

// The simplest baseline: node:http answering a small JSON body.
import http from 'node:http';
import { ready } from '../lib/server-ipc.mjs';

const body = JSON.stringify({ ok: true });
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(body);
});
server.listen(0, '127.0.0.1', () => ready(server));

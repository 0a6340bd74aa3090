// Quick start: two services on 127.0.0.1, an Express "shop" that calls a Fastify "pricing"
// service with fetch. The client sends a traceparent and baggage; both services log with pino and
// ctxprop's mixin, and pricing answers with what it received. One request, one trace id, in every
// log line of both services. No OpenTelemetry SDK is needed for this: the trace is forwarded.
import express from 'express';
import Fastify from 'fastify';
import pino from 'pino';
import { ctxprop as ctxpropExpress } from '@ctxprop/express';
import ctxpropFastify from '@ctxprop/fastify';
import { pinoMixin } from '@ctxprop/logging';

const lines = [];
const logger = (service) =>
  pino({ base: { service }, mixin: pinoMixin({ baggageKeys: ['customer.tier'] }) }, { write: (line) => lines.push(JSON.parse(line)) });

// pricing (Fastify)
const pricingLog = logger('pricing');
const pricing = Fastify();
await pricing.register(ctxpropFastify);
pricing.get('/price', async (request) => {
  pricingLog.info('pricing a basket');
  return {
    receivedTraceparent: request.headers.traceparent,
    receivedBaggage: request.headers.baggage,
    tier: request.baggage.get('customer.tier') ?? 'standard',
  };
});
await pricing.listen({ port: 0, host: '127.0.0.1' });
const pricingUrl = `http://127.0.0.1:${pricing.server.address().port}`;

// shop (Express)
const shopLog = logger('shop');
const shop = express();
shop.use(ctxpropExpress());
shop.get('/checkout', async (req, res) => {
  shopLog.info({ tier: req.baggage.get('customer.tier') }, 'checkout started');
  const price = await (await fetch(`${pricingUrl}/price`)).json(); // headers added by ctxprop
  shopLog.info('checkout priced');
  res.json({ shopSaw: req.traceContext, pricingSaw: price });
});
const shopServer = await new Promise((resolve) => {
  const server = shop.listen(0, '127.0.0.1', () => resolve(server));
});

const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const response = await fetch(`http://127.0.0.1:${shopServer.address().port}/checkout`, {
  headers: { traceparent, baggage: 'customer.tier=gold' },
});
const body = await response.json();

console.log(`client sent        traceparent: ${traceparent}, baggage: customer.tier=gold`);
console.log(`shop saw           trace id ${body.shopSaw?.traceId}, tier ${body.pricingSaw.tier}`);
console.log(`pricing received   traceparent: ${body.pricingSaw.receivedTraceparent}, baggage: ${body.pricingSaw.receivedBaggage}`);
console.log('log lines of both services:');
for (const line of lines) console.log(`  [${line.service}] ${line.msg.padEnd(18)} trace_id=${line.trace_id} span_id=${line.span_id} customer.tier=${line['customer.tier'] ?? '-'}`);

const sameTrace = lines.length === 3 && lines.every((line) => line.trace_id === '4bf92f3577b34da6a3ce929d0e0e4736');
console.log(sameTrace ? '\nOne request, one trace: every line carries the client\'s trace id.' : '\nUnexpected: the trace did not carry through.');
shopServer.close();
await pricing.close();
process.exitCode = sameTrace ? 0 : 1;

// Runs one autocannon load in its own process (so the load generator's CPU is not the server's)
// and prints the result as one JSON line. Called by http-load.mjs.
import autocannon from 'autocannon';

const config = JSON.parse(process.argv[2]);
const result = await autocannon({
  url: config.url,
  connections: config.connections,
  pipelining: config.pipelining ?? 1,
  duration: config.seconds,
  headers: config.headers,
  method: config.method ?? 'GET',
  body: config.body,
  ...(config.rate ? { overallRate: config.rate } : {}),
});
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  })}\n`,
);

// Fastify with nothing added: the baseline.
import { serve } from './fastify-app.mjs';

await serve();

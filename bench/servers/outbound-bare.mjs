// Baseline: the route with no context propagation at all.
import { serve } from './outbound-route.mjs';

serve();

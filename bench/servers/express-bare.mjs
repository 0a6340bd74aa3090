// Express with nothing else: the baseline.
import { serve } from './express-app.mjs';

serve();

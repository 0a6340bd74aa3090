// Quick start: load the built @ctxprop/core from ESM and show what is there. Replaced by the
// multi-service demo when its issue lands.
import * as core from '@ctxprop/core';

const exported = Object.keys(core).sort();
console.log(`@ctxprop/core loaded from ESM: ${exported.length} exports`);
console.log(exported.join(', '));

// Test support: the InvalidOptionError a call throws, for tests of option checks.
import { InvalidOptionError } from '@ctxprop/core';

/** Runs `make` and returns the InvalidOptionError it throws; fails the test when it throws nothing or anything else. */
export function invalidOptionOf(make: () => unknown): InvalidOptionError {
  try {
    make();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError; nothing was thrown');
}

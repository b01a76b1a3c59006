import { expect } from 'chai';
import { UsageError } from '../../src/app/flags.js';

/** The UsageError message `action` throws (fails the test when it throws nothing or something else). */
export function usageErrorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(UsageError);
    return (error as UsageError).message;
  }
  expect.fail('expected a UsageError');
}

import { expect } from 'chai';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../../src/app/config.js';
import { parseFlags } from '../../../src/app/flags.js';
import { usageErrorOf } from '../../support/usage-error.js';

const config = (argv: readonly string[]): DriverConfig => driverConfig(parseFlags(DRIVER_FLAGS, ['--nodeid=node-1', ...argv]));

describe('app/config --rotation-call-timeout and --payload-memory-budget', () => {
  it('default to a 10 s rotation call deadline and a budget derived at start (0)', () => {
    const defaults = config([]);
    expect(defaults.rotation.callTimeoutMs).to.equal(10_000);
    expect(defaults.payloadMemoryBudget).to.equal(0);
  });

  it('accept a deadline and a budget of at least twice --max-call-recv-msg-size', () => {
    const given = config(['--rotation-call-timeout=3s', '--max-call-recv-msg-size=1048576', '--payload-memory-budget=2097152']);
    expect(given.rotation.callTimeoutMs).to.equal(3_000);
    expect(given.payloadMemoryBudget).to.equal(2_097_152);
  });

  const refused: ReadonlyArray<[string[], string]> = [
    [['--rotation-call-timeout=0s'], 'invalid value "0s" for flag "--rotation-call-timeout": expected a duration greater than zero'],
    [
      ['--payload-memory-budget=8388607'],
      'invalid value "8388607" for flag "--payload-memory-budget": must be 0 (derived) or at least 8388608 (twice --max-call-recv-msg-size)',
    ],
    [
      ['--payload-memory-budget=-1'],
      'invalid value "-1" for flag "--payload-memory-budget": expected a size in bytes of 0 or more',
    ],
  ];
  for (const [argv, message] of refused) {
    it(`refuses ${argv.join(' ')}, naming the flag`, () => {
      expect(usageErrorOf(() => config(argv))).to.equal(message);
    });
  }
});

import { expect } from 'chai';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../../src/app/config.js';
import { parseFlags } from '../../../src/app/flags.js';
import { usageErrorOf } from '../../support/usage-error.js';

function configFor(argv: readonly string[]): DriverConfig {
  return driverConfig(parseFlags(DRIVER_FLAGS, ['--nodeid=node-1', ...argv]));
}


describe('app/config --provider-qps and --provider-burst', () => {
  it('default to no limit (qps 0) and a burst of 1', () => {
    expect(configFor([]).rotation).to.deep.include({ providerQps: 0, providerBurst: 1 });
  });

  it('accept a fractional qps and a burst', () => {
    expect(configFor(['--provider-qps=2.5', '--provider-burst', '5']).rotation).to.deep.include({ providerQps: 2.5, providerBurst: 5 });
  });

  for (const [argv, flag] of [
    [['--provider-qps=-1'], '--provider-qps'],
    [['--provider-qps=fast'], '--provider-qps'],
    [['--provider-burst=0'], '--provider-burst'],
    [['--provider-burst=1.5'], '--provider-burst'],
  ] as const) {
    it(`refuses ${argv.join(' ')}, naming the flag`, () => {
      expect(usageErrorOf(() => configFor(argv))).to.contain(`"${flag}"`);
    });
  }
});

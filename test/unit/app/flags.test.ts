import { expect } from 'chai';
import fc from 'fast-check';
import { formatDuration } from '../../../src/domain/duration.js';
import { ignoredFlagWarnings, parseFlags, shortDuration, usage, wasGiven, type FlagDefinition, type FlagValue } from '../../../src/app/flags.js';
import { usageErrorOf } from '../../support/usage-error.js';

/** One flag of each kind, with the env fallbacks the driver uses. */
const FLAGS: readonly FlagDefinition[] = [
  { name: 'endpoint', kind: 'string', default: 'unix:///tmp/csi.sock', env: 'CSI_ENDPOINT', help: 'CSI endpoint' },
  { name: 'nodeid', kind: 'string', default: '', env: 'KUBE_NODE_NAME', help: 'node name' },
  { name: 'enable-secret-rotation', kind: 'bool', default: false, help: 'rotate' },
  { name: 'interval', kind: 'duration', default: 120_000, help: 'poll interval' },
  { name: 'v', kind: 'int', default: 0, help: 'verbosity' },
  { name: 'jitter', kind: 'float', default: 0.1, help: 'jitter' },
  { name: 'paths', kind: 'list', default: ['/etc/default'], help: 'directories' },
];

function parse(argv: readonly string[], env: Record<string, string | undefined> = {}): Record<string, FlagValue> {
  return parseFlags(FLAGS, argv, env);
}


describe('app/flags parseFlags', () => {
  it('gives every flag its default when nothing is given', () => {
    expect(parse([])).to.deep.equal({
      endpoint: 'unix:///tmp/csi.sock',
      nodeid: '',
      'enable-secret-rotation': false,
      interval: 120_000,
      v: 0,
      jitter: 0.1,
      paths: ['/etc/default'],
    });
  });

  describe('accepts the spellings Go flag accepts', () => {
    const cases: Array<[string, string[], string, FlagValue]> = [
      ['--name=value', ['--nodeid=node-1'], 'nodeid', 'node-1'],
      ['--name value', ['--nodeid', 'node-1'], 'nodeid', 'node-1'],
      ['-name=value', ['-nodeid=node-1'], 'nodeid', 'node-1'],
      ['-name value', ['-nodeid', 'node-1'], 'nodeid', 'node-1'],
      ['a value holding "="', ['--nodeid=a=b'], 'nodeid', 'a=b'],
      ['an empty value after "="', ['--nodeid='], 'nodeid', ''],
      ['a separate value starting with "-"', ['--nodeid', '-odd'], 'nodeid', '-odd'],
      ['-v=5', ['-v=5'], 'v', 5],
      ['-v 5', ['-v', '5'], 'v', 5],
      ['--v=-1', ['--v=-1'], 'v', -1],
      ['a float', ['--jitter=0.25'], 'jitter', 0.25],
      ['a float without fraction', ['--jitter', '1'], 'jitter', 1],
    ];
    for (const [title, argv, name, expected] of cases) {
      it(title, () => {
        expect(parse(argv)[name]).to.deep.equal(expected);
      });
    }
  });

  describe('booleans', () => {
    const cases: Array<[string[], boolean]> = [
      [['--enable-secret-rotation'], true],
      [['-enable-secret-rotation'], true],
      [['--enable-secret-rotation=true'], true],
      [['--enable-secret-rotation=false'], false],
      ...['1', 't', 'T', 'TRUE', 'True'].map((raw): [string[], boolean] => [[`--enable-secret-rotation=${raw}`], true]),
      ...['0', 'f', 'F', 'FALSE', 'False'].map((raw): [string[], boolean] => [[`--enable-secret-rotation=${raw}`], false]),
    ];
    for (const [argv, expected] of cases) {
      it(`reads ${argv.join(' ')} as ${expected}`, () => {
        expect(parse(argv)['enable-secret-rotation']).to.equal(expected);
      });
    }

    it('never takes the next argument as its value (as Go flag): "--bool false" leaves "false" stray', () => {
      expect(usageErrorOf(() => parse(['--enable-secret-rotation', 'false']))).to.equal('unexpected argument "false"');
    });

    it('lets a later occurrence win', () => {
      expect(parse(['--enable-secret-rotation', '--enable-secret-rotation=false'])['enable-secret-rotation']).to.equal(false);
    });
  });

  describe('durations in Go syntax (milliseconds here)', () => {
    const cases: Array<[string, number]> = [
      ['2m', 120_000],
      ['30s', 30_000],
      ['1h30m', 5_400_000],
      ['1.5s', 1_500],
      ['250ms', 250],
      ['2m0s', 120_000],
      ['0', 0],
    ];
    for (const [raw, ms] of cases) {
      it(`reads --interval=${raw} as ${ms} ms`, () => {
        expect(parse([`--interval=${raw}`])['interval']).to.equal(ms);
        expect(parse(['--interval', raw])['interval']).to.equal(ms);
      });
    }
  });

  describe('lists', () => {
    it('splits a comma-separated value, trimming items and dropping empty ones', () => {
      expect(parse(['--paths=/a, /b,,/c'])['paths']).to.deep.equal(['/a', '/b', '/c']);
    });

    it('appends repeated occurrences instead of keeping the last', () => {
      expect(parse(['--paths=/a,/b', '--paths', '/c', '-paths=/d'])['paths']).to.deep.equal(['/a', '/b', '/c', '/d']);
    });

    it('replaces the default when given, and an empty value means an empty list', () => {
      expect(parse(['--paths=/x'])['paths']).to.deep.equal(['/x']);
      expect(parse(['--paths='])['paths']).to.deep.equal([]);
    });

    it('does not share the default array with the result', () => {
      const first = parse([]);
      (first['paths'] as string[]).push('/mutated');
      expect(FLAGS.find((f) => f.name === 'paths')!.default).to.deep.equal(['/etc/default']);
    });
  });

  describe('environment fallback', () => {
    it('reads CSI_ENDPOINT when --endpoint is not given', () => {
      expect(parse([], { CSI_ENDPOINT: 'unix:///csi/csi.sock' })['endpoint']).to.equal('unix:///csi/csi.sock');
    });

    it('prefers the flag over the environment', () => {
      expect(parse(['--endpoint=unix:///flag.sock'], { CSI_ENDPOINT: 'unix:///env.sock' })['endpoint']).to.equal('unix:///flag.sock');
    });

    it('ignores an empty environment variable', () => {
      expect(parse([], { CSI_ENDPOINT: '' })['endpoint']).to.equal('unix:///tmp/csi.sock');
    });

    it('reads KUBE_NODE_NAME for --nodeid', () => {
      expect(parse([], { KUBE_NODE_NAME: 'node-7' })['nodeid']).to.equal('node-7');
    });

    it('reads nothing from variables no flag names', () => {
      expect(parse([], { NODEID: 'x', V: '9' })).to.deep.equal(parse([]));
    });

    it('validates an environment value like a flag value, naming the flag', () => {
      const flags: FlagDefinition[] = [{ name: 'interval', kind: 'duration', default: 1000, env: 'POLL', help: '' }];
      expect(usageErrorOf(() => parseFlags(flags, [], { POLL: 'soon' }))).to.contain('"--interval"').and.contain('"soon"');
    });
  });

  describe('bad command lines (each message names the flag)', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['an unknown flag', ['--nope=1'], /unknown flag "--nope"/],
      ['an unknown single-dash flag', ['-x'], /unknown flag "--x"/],
      ['a missing value at the end', ['--nodeid'], /flag "--nodeid" needs a value/],
      ['a missing duration value', ['--v=1', '--interval'], /flag "--interval" needs a value/],
      ['a bad int', ['--v=high'], /invalid value "high" for flag "--v": expected an integer/],
      ['a fractional int', ['--v=1.5'], /invalid value "1.5" for flag "--v"/],
      ['an int beyond 2^53', ['--v=99999999999999999999'], /invalid value "99999999999999999999" for flag "--v"/],
      ['a bad float', ['--jitter=lots'], /invalid value "lots" for flag "--jitter": expected a number/],
      ['an empty float', ['--jitter='], /invalid value "" for flag "--jitter"/],
      ['a duration without unit', ['--interval=5'], /invalid value "5" for flag "--interval": expected a duration/],
      ['a duration in days', ['--interval=1d'], /invalid value "1d" for flag "--interval"/],
      ['a bad bool', ['--enable-secret-rotation=yes'], /invalid value "yes" for flag "--enable-secret-rotation": expected true or false/],
      ['a positional argument', ['node-1'], /unexpected argument "node-1"/],
      ['a lone dash', ['-'], /unexpected argument "-"/],
      ['a lone double dash', ['--'], /unexpected argument "--"/],
    ];
    for (const [title, argv, message] of cases) {
      it(`refuses ${title}: ${argv.join(' ')}`, () => {
        expect(usageErrorOf(() => parse(argv))).to.match(message);
      });
    }
  });

  describe('properties', () => {
    const durationFlags: FlagDefinition[] = [{ name: 'interval', kind: 'duration', default: 0, help: '' }];

    it('reads back any whole-millisecond duration that formatDuration prints, in both spellings', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 9_000_000_000_000 }), fc.boolean(), (ms, separate) => {
          const text = formatDuration(ms);
          const argv = separate ? ['--interval', text] : [`--interval=${text}`];
          expect(parseFlags(durationFlags, argv)['interval']).to.equal(ms);
        }),
      );
    });

    it('reads back any list of plain items, joined by commas or given one by one', () => {
      const item = fc.stringMatching(/^[A-Za-z0-9/._-]{1,12}$/);
      const listFlags: FlagDefinition[] = [{ name: 'paths', kind: 'list', default: [], help: '' }];
      fc.assert(
        fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), (items) => {
          expect(parseFlags(listFlags, [`--paths=${items.join(',')}`])['paths']).to.deep.equal(items);
          expect(parseFlags(listFlags, items.flatMap((value) => ['--paths', value]))['paths']).to.deep.equal(items);
        }),
      );
    });

    it('refuses any name it does not define, naming it', () => {
      const known = new Set(FLAGS.map((f) => f.name));
      const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((n) => !known.has(n));
      fc.assert(
        fc.property(name, fc.boolean(), (unknown, single) => {
          const message = usageErrorOf(() => parse([`${single ? '-' : '--'}${unknown}=1`]));
          expect(message).to.equal(`unknown flag "--${unknown}"`);
        }),
      );
    });

    it('reads back any safe integer', () => {
      fc.assert(
        fc.property(fc.maxSafeInteger(), (n) => {
          expect(parse([`--v=${n}`])['v']).to.equal(n);
        }),
      );
    });
  });
});

describe('app/flags usage', () => {
  const text = usage('driver', 'The node agent.', FLAGS);

  /** The description line under `--name <kind>`. */
  const descriptionOf = (help: string, flag: FlagDefinition): string => {
    const at = help.indexOf(`  --${flag.name} ${flag.kind}\n`);
    expect(at, flag.name).to.be.greaterThan(-1);
    return help.slice(at).split('\n')[1]!;
  };

  it('starts with the command line shape and the summary', () => {
    expect(text.split('\n').slice(0, 3)).to.deep.equal(['Usage: secrets-store-csi driver [flags]', '', 'The node agent.']);
  });

  it('lists every flag with its kind, its help, one default and its environment variable', () => {
    for (const flag of FLAGS) {
      const description = descriptionOf(text, flag);
      expect(description).to.contain(flag.help);
      expect(description.match(/\(default /g), flag.name).to.have.length(1);
      if (flag.env) expect(description).to.contain(`(env ${flag.env})`);
    }
  });

  it('shows defaults in the documented form: durations as 2m, bools bare, strings quoted', () => {
    const defaults = Object.fromEntries(FLAGS.map((flag) => [flag.name, /\(default (.*?)\)(?: \(env|$)/.exec(descriptionOf(text, flag))![1]]));
    expect(defaults).to.deep.equal({
      endpoint: '"unix:///tmp/csi.sock"',
      nodeid: '""',
      'enable-secret-rotation': 'false',
      interval: '2m',
      v: '0',
      jitter: '0.1',
      paths: '"/etc/default"',
    });
  });

  it('shows each default so that giving it back as the value yields the default', () => {
    for (const flag of FLAGS) {
      const shown = /\(default (.*?)\)(?: \(env|$)/.exec(descriptionOf(text, flag))![1]!;
      const typed = shown.startsWith('"') ? (JSON.parse(shown) as string) : shown;
      expect(parseFlags(FLAGS, [`--${flag.name}=${typed}`])[flag.name], flag.name).to.deep.equal(flag.default);
    }
  });

  it('shows a default given as text instead of the value, once', () => {
    const flags: FlagDefinition[] = [{ name: 'root', kind: 'string', default: '', shownDefault: 'a new temporary directory', help: 'where' }];
    expect(usage('simulate', '', flags)).to.contain('  --root string\n        where (default a new temporary directory)');
  });

  it('leaves hidden flags out', () => {
    const flags: FlagDefinition[] = [...FLAGS, { name: 'test.hook', kind: 'string', default: '', hidden: true, help: 'hook' }];
    expect(usage('driver', '', flags)).not.to.contain('test.hook');
    expect(parseFlags(flags, ['--test.hook=x'])['test.hook']).to.equal('x');
  });
});

describe('app/flags shortDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [250, '250ms'],
    [5_000, '5s'],
    [120_000, '2m'],
    [5_400_000, '1h30m'],
    [3_600_500, '1h500ms'],
  ];
  for (const [ms, text] of cases) {
    it(`writes ${ms} ms as ${text}, which reads back as ${ms} ms`, () => {
      expect(shortDuration(ms)).to.equal(text);
      expect(parseFlags([{ name: 'd', kind: 'duration', default: 0, help: '' }], [`--d=${text}`])['d']).to.equal(ms);
    });
  }
});

describe('app/flags checks, -h and what was given', () => {
  const checked: FlagDefinition[] = [
    { name: 'workers', kind: 'int', default: 4, env: 'WORKERS', check: (value) => ((value as number) > 0 ? undefined : 'a number greater than zero'), help: '' },
    { name: 'help', kind: 'bool', default: false, help: '' },
    { name: 'log_dir', kind: 'string', default: '', ignored: 'logs go to stderr', help: '' },
  ];

  it('refuses a value its check refuses, naming the flag and the expected form', () => {
    expect(usageErrorOf(() => parseFlags(checked, ['--workers=0']))).to.equal('invalid value "0" for flag "--workers": expected a number greater than zero');
  });

  it('checks a value from the environment the same way', () => {
    expect(usageErrorOf(() => parseFlags(checked, [], { WORKERS: '-2' }))).to.contain('"--workers"');
  });

  it('reads -h and --h as --help, as Go flag does', () => {
    expect(parseFlags(checked, ['-h'])['help']).to.equal(true);
    expect(parseFlags(checked, ['--h'])['help']).to.equal(true);
  });

  it('tells which flags were given, on the command line or in the environment', () => {
    const values = parseFlags(checked, ['--help'], { WORKERS: '2' });
    expect(['workers', 'help', 'log_dir'].map((name) => wasGiven(values, name))).to.deep.equal([true, true, false]);
    expect(Object.keys(values)).to.deep.equal(['help', 'workers', 'log_dir']);
  });

  it('warns about an ignored flag only when it differs from its default', () => {
    expect(ignoredFlagWarnings(checked, parseFlags(checked, ['--log_dir=']))).to.deep.equal([]);
    expect(ignoredFlagWarnings(checked, parseFlags(checked, ['--log_dir=/var/log/x']))).to.deep.equal(['flag --log_dir="/var/log/x" has no effect: logs go to stderr']);
  });
});

import { expect } from 'chai';
import { ConsoleLogger, type ConsoleLoggerOptions } from '../../../../src/adapters/console-log/console-logger.js';
import fc from 'fast-check';
import { LogRecordLimit, REDACTED } from '../../../../src/adapters/console-log/redact.js';
import { truncationMarker } from '../../../../src/domain/bounded-text.js';

const NOW = new Date('2026-11-27T18:30:00.123Z');

/** A logger writing into an array, at a fixed time. */
function aLogger(options: Partial<Omit<ConsoleLoggerOptions, 'write'>> = {}): { logger: ConsoleLogger; lines: string[] } {
  const lines: string[] = [];
  const logger = new ConsoleLogger({ json: false, verbosity: 0, now: () => NOW, ...options, write: (line) => lines.push(line) });
  return { logger, lines };
}

describe('ConsoleLogger', () => {
  describe('text format', () => {
    it('writes time, padded level, message and key=value pairs on one line', () => {
      const { logger, lines } = aLogger();
      logger.info('volume mounted', { pod: 'default/app-0', objects: 2, ok: true });
      expect(lines).to.deep.equal(['2026-11-27T18:30:00.123Z INFO  volume mounted pod=default/app-0 objects=2 ok=true']);
    });

    it('names each level in capitals', () => {
      const { logger, lines } = aLogger({ verbosity: 4 });
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e');
      expect(lines.map((line) => line.slice(NOW.toISOString().length + 1))).to.deep.equal(['DEBUG d', 'INFO  i', 'WARN  w', 'ERROR e']);
    });

    it('quotes values holding spaces, quotes or "=" so a line splits back into its pairs', () => {
      const { logger, lines } = aLogger();
      logger.warn('odd values', { target: '/a b/mount', quote: 'say "hi"', eq: 'k=v', empty: '' });
      expect(lines[0]).to.equal(
        '2026-11-27T18:30:00.123Z WARN  odd values target="/a b/mount" quote="say \\"hi\\"" eq="k=v" empty=',
      );
    });

    it('writes objects and arrays as JSON', () => {
      const { logger, lines } = aLogger();
      logger.info('applied', { created: ['a', 'b'], counts: { n: 1 } });
      expect(lines[0]).to.equal('2026-11-27T18:30:00.123Z INFO  applied created="[\\"a\\",\\"b\\"]" counts="{\\"n\\":1}"');
    });

    it('writes an error as its name and message, never its stack', () => {
      const { logger, lines } = aLogger();
      logger.error('failed', { error: new RangeError('out of range') });
      expect(lines[0]).to.contain('error="{\\"name\\":\\"RangeError\\",\\"message\\":\\"out of range\\"}"').and.not.contain(' at ');
    });

    it('writes just the message when there are no fields', () => {
      const { logger, lines } = aLogger();
      logger.info('stopping');
      expect(lines).to.deep.equal(['2026-11-27T18:30:00.123Z INFO  stopping']);
    });
  });

  describe('JSON format (--log-format-json)', () => {
    it('writes one JSON object per line with time, level, msg and the fields', () => {
      const { logger, lines } = aLogger({ json: true });
      logger.info('volume mounted', { pod: 'default/app-0', objects: 2, nested: { a: [1, 2] } });
      expect(lines).to.have.length(1);
      expect(JSON.parse(lines[0]!)).to.deep.equal({
        time: '2026-11-27T18:30:00.123Z',
        level: 'info',
        msg: 'volume mounted',
        pod: 'default/app-0',
        objects: 2,
        nested: { a: [1, 2] },
      });
    });

    it('writes lowercase levels', () => {
      const { logger, lines } = aLogger({ json: true, verbosity: 9 });
      logger.debug('d');
      logger.warn('w');
      logger.error('e');
      expect(lines.map((line) => (JSON.parse(line) as { level: string }).level)).to.deep.equal(['debug', 'warn', 'error']);
    });

    it('keeps a message with newlines on one line', () => {
      const { logger, lines } = aLogger({ json: true });
      logger.error('first\nsecond', { detail: 'x\ny' });
      expect(lines).to.have.length(1);
      expect(lines[0]).not.to.contain('\n');
    });
  });

  describe('verbosity (-v)', () => {
    for (const verbosity of [0, 1, 2, 3]) {
      it(`drops debug lines at -v=${verbosity} and keeps the others`, () => {
        const { logger, lines } = aLogger({ verbosity });
        logger.debug('noisy');
        logger.info('i');
        logger.warn('w');
        logger.error('e');
        expect(lines.map((line) => line.split(' ').at(-1))).to.deep.equal(['i', 'w', 'e']);
      });
    }

    for (const verbosity of [4, 5, 10]) {
      it(`writes debug lines at -v=${verbosity}`, () => {
        const { logger, lines } = aLogger({ verbosity });
        logger.debug('noisy', { step: 1 });
        expect(lines).to.deep.equal(['2026-11-27T18:30:00.123Z DEBUG noisy step=1']);
      });
    }

    it('gates debug the same way in JSON format', () => {
      const quiet = aLogger({ json: true, verbosity: 3 });
      quiet.logger.debug('noisy');
      const loud = aLogger({ json: true, verbosity: 4 });
      loud.logger.debug('noisy');
      expect(quiet.lines).to.deep.equal([]);
      expect(loud.lines).to.have.length(1);
    });
  });

  describe('redaction on the way out', () => {
    for (const json of [false, true]) {
      it(`redacts secret fields in ${json ? 'JSON' : 'text'} lines`, () => {
        const { logger, lines } = aLogger({ json });
        logger.info('publish', {
          volumeId: 'csi-1',
          request: { secrets: { password: 'hunter2' }, volumeContext: { 'csi.storage.k8s.io/serviceAccount.tokens': '{"a":{"token":"jwt"}}' } },
          files: [{ path: 'db/password', contents: new TextEncoder().encode('s3cr3t') }],
        });
        expect(lines[0]).to.contain('csi-1').and.contain('db/password').and.contain(REDACTED);
        for (const secret of ['hunter2', 'jwt', 's3cr3t', '115,51']) expect(lines[0]).not.to.contain(secret);
      });
    }

    it('does not change the fields the caller passed', () => {
      const { logger } = aLogger();
      const fields = { secrets: { password: 'hunter2' } };
      logger.info('x', fields);
      expect(fields).to.deep.equal({ secrets: { password: 'hunter2' } });
    });
  });

  describe('values JSON cannot represent', () => {
    it('never throws for a cyclic record', () => {
      const { logger, lines } = aLogger();
      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic['self'] = cyclic;
      expect(() => logger.info('cyclic', { cyclic })).not.to.throw();
      expect(lines[0]).to.contain('[TRUNCATED]');
    });

    for (const json of [false, true]) {
      it(`never throws for a bigint (${json ? 'JSON' : 'text'})`, () => {
        const { logger, lines } = aLogger({ json });
        expect(() => logger.info('big', { size: 12345678901234567890n, nested: { n: 1n } })).not.to.throw();
        expect(lines[0]).to.contain('12345678901234567890');
      });
    }

    it('writes a Date as its ISO time', () => {
      const { logger, lines } = aLogger({ json: true });
      logger.info('due', { at: new Date('2026-01-02T03:04:05.000Z') });
      expect((JSON.parse(lines[0]!) as { at: unknown }).at).to.equal('2026-01-02T03:04:05.000Z');
    });
  });

  describe('bounds on what a line carries', () => {
    const huge = 'v'.repeat(3_500_000);

    for (const json of [false, true]) {
      it(`cuts a 3.5 MB value to ${LogRecordLimit.valueBytes} bytes with the marker (${json ? 'JSON' : 'text'})`, () => {
        const { logger, lines } = aLogger({ json });
        logger.info('csi call', { method: 'NodePublishVolume', volumeContext: { huge } });
        expect(Buffer.byteLength(lines[0]!)).to.be.below(1024);
        expect(lines[0]).to.contain(truncationMarker(3_500_000)).and.contain('NodePublishVolume');
      });
    }

    it('cuts an overlong message the same way', () => {
      const { logger, lines } = aLogger({ json: true });
      logger.warn(huge);
      expect(Buffer.byteLength(lines[0]!)).to.be.below(1024);
    });

    it(`writes at most ${LogRecordLimit.entries} entries of an object or array and counts the rest`, () => {
      const { logger, lines } = aLogger({ json: true });
      const keys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`key-${i}`, i]));
      logger.info('wide', { keys, list: Array.from({ length: 10_000 }, (_, i) => i) });
      const record = JSON.parse(lines[0]!) as { keys: Record<string, unknown>; list: unknown[] };
      expect(Object.keys(record.keys)).to.have.length(LogRecordLimit.entries + 1);
      expect(record.keys['…']).to.equal(`${10_000 - LogRecordLimit.entries} more`);
      expect(record.list).to.have.length(LogRecordLimit.entries + 1);
      expect(record.list.at(-1)).to.equal(`… ${10_000 - LogRecordLimit.entries} more`);
    });

    it(`stops at ${LogRecordLimit.recordBytes} bytes of text per record, counting what is left out`, () => {
      const { logger, lines } = aLogger({ json: true });
      const wide = Array.from({ length: 32 }, () => Array.from({ length: 32 }, () => 'w'.repeat(400)));
      logger.info('nested', { wide });
      expect(Buffer.byteLength(lines[0]!)).to.be.below(LogRecordLimit.recordBytes + 2048);
      expect(lines[0]).to.match(/… \d+ more/);
    });

    it('keeps every line bounded whatever the record holds (property)', () => {
      const leaf = fc.oneof(fc.string({ maxLength: 2000 }), fc.integer(), fc.constant('x'.repeat(100_000)));
      const record = fc.letrec((tie) => ({
        node: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('node'), { maxLength: 40 }), fc.dictionary(fc.string({ maxLength: 600 }), tie('node'), { maxKeys: 40 })),
      })).node;
      fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 20 }), record, { maxKeys: 40 }), fc.boolean(), (fields, json) => {
        const { logger, lines } = aLogger({ json });
        logger.info('any', fields);
        // Every byte of text is counted once; escaping (twice for a nested value in a text line) writes a byte in up to 7.
        expect(Buffer.byteLength(lines[0]!)).to.be.below(8 * (LogRecordLimit.recordBytes + 2048));
      }), { numRuns: 200 });
    });
  });
});

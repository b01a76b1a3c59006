import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { CommandShell, quote } from '../../../../src/adapters/tmpfs/command-shell.js';

describe('CommandShell', () => {
  let shell: CommandShell;
  beforeEach(() => (shell = new CommandShell()));

  it('resolves when the command exits 0', async () => {
    await shell.run('test', ['a', '=', 'a']);
  });

  it('rejects with the command line and its output when the command fails', async () => {
    const error = await shell.run('ls', ['/no/such/path']).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/^ls \/no\/such\/path: .*No such file or directory/);
  });

  it('passes quotes, semicolons and dollar signs as plain words, never as shell syntax', async () => {
    for (const word of ["it's", 'a;false', '$(false)', '`false`', 'a b', '"x"', '\\']) {
      await shell.run('test', [word, '=', word]);
    }
  });

  it('runs commands one after another in the order given', async () => {
    const results = await Promise.allSettled([shell.run('true', []), shell.run('false', []), shell.run('true', [])]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('fails the running command when the shell dies and starts a new shell for the next', async () => {
    const killed = await shell.run('sh', ['-c', 'kill -9 $PPID']).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(killed?.message).to.include('exited');
    await shell.run('true', []);
  });
});

describe('quote', () => {
  it('gives sh back exactly the word it quoted (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')), (word) => {
        const echoed = execFileSync('/bin/sh', ['-c', `printf '%s' ${quote(word)}`]).toString('utf8');
        expect(echoed).to.equal(Buffer.from(word, 'utf8').toString('utf8'));
      }),
      { numRuns: 60 },
    );
  });
});

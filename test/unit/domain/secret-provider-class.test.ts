import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import { assertMountable, PROVIDER_NAME_PATTERN } from '../../../src/domain/secret-provider-class.js';
import { aClass } from '../../support/builders.js';
import { codeOf } from '../../support/domain-error-code.js';


describe('domain/secret-provider-class', () => {
  describe('assertMountable', () => {
    it('accepts a class with a valid provider and parameters', () => {
      expect(() => assertMountable(aClass())).to.not.throw();
    });

    const validNames = ['azure', 'aws', 'gcp', 'vault', 'openbao', 'akeyless', 'conjur', 'fake_provider-2', 'A', 'x'.repeat(30)];
    for (const provider of validNames) {
      it(`accepts the provider name "${provider}"`, () => {
        expect(() => assertMountable(aClass({ provider }))).to.not.throw();
      });
    }

    it('rejects a class without provider with InvalidClass', () => {
      expect(() => assertMountable(aClass({ provider: '' })))
        .to.throw(DomainError, 'spec.provider')
        .with.property('code', 'InvalidClass');
    });

    const invalidNames: Array<[string, string]> = [
      ['a path', '../evil'],
      ['a slash', 'a/b'],
      ['a dot', 'azure.v2'],
      ['a space', 'my provider'],
      ['31 characters', 'x'.repeat(31)],
      ['a colon', 'unix:x'],
      ['a NUL', 'a\0'],
      ['a newline', 'azure\n'],
      ['non-ASCII letters', 'vaülte'],
    ];
    for (const [name, provider] of invalidNames) {
      it(`rejects an invalid provider name with ${name} with InvalidClass`, () => {
        expect(codeOf(() => assertMountable(aClass({ provider })))).to.equal('InvalidClass');
      });
    }

    it('rejects a class without parameters with InvalidClass', () => {
      expect(() => assertMountable(aClass({ parameters: {} })))
        .to.throw(DomainError, 'spec.parameters')
        .with.property('code', 'InvalidClass');
    });

    it('names the class in its message', () => {
      expect(() => assertMountable(aClass({ namespace: 'team-a', name: 'db', provider: '' }))).to.throw(DomainError, 'team-a/db');
    });

    it('accepts exactly the provider names of ^[a-zA-Z0-9_-]{1,30}$ (property)', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ maxLength: 35 }), fc.stringMatching(/^[a-zA-Z0-9_.\/-]{0,33}$/)),
          (provider) => {
            const expected = provider.length >= 1 && provider.length <= 30 && [...provider].every((c) => /[a-zA-Z0-9_-]/.test(c));
            expect(codeOf(() => assertMountable(aClass({ provider })))).to.equal(expected ? undefined : 'InvalidClass');
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  it('exposes the provider name pattern of the provider API', () => {
    expect(PROVIDER_NAME_PATTERN.source).to.equal('^[a-zA-Z0-9_-]{0,30}$');
  });
});

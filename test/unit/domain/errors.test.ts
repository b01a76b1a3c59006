import { expect } from 'chai';
import fc from 'fast-check';
import { DOMAIN_ERROR_CODES, DomainError, isDomainError, toDomainError } from '../../../src/domain/errors.js';

describe('domain/errors', () => {
  describe('DOMAIN_ERROR_CODES', () => {
    it('is a closed list of unique codes', () => {
      expect(new Set(DOMAIN_ERROR_CODES).size).to.equal(DOMAIN_ERROR_CODES.length);
    });

    it('contains every code the publish, payload and sync rules rely on', () => {
      for (const code of [
        'InvalidTargetPath',
        'MissingVolumeContext',
        'InvalidVolumeContext',
        'InvalidReadonly',
        'InvalidClass',
        'InvalidDuration',
        'ProviderError',
        'MissingObjectVersions',
        'InvalidPayloadPath',
        'DuplicatePayloadPath',
        'InvalidFileMode',
        'SecretObjectFileMissing',
        'InvalidSecretType',
        'InvalidTlsData',
        'SecretNotManaged',
        'Internal',
      ]) {
        expect(DOMAIN_ERROR_CODES, code).to.include(code);
      }
    });
  });

  describe('DomainError', () => {
    it('is an Error named DomainError carrying its code and message', () => {
      const error = new DomainError('InvalidTargetPath', 'bad path');
      expect(error).to.be.instanceOf(Error);
      expect(error.name).to.equal('DomainError');
      expect(error.code).to.equal('InvalidTargetPath');
      expect(error.message).to.equal('bad path');
      expect(error.stack).to.be.a('string');
    });

    it('has no provider code unless one is given', () => {
      expect(new DomainError('Internal', 'x').providerCode).to.equal(undefined);
    });

    it('uses the code as the metric error_type when no provider code is given', () => {
      for (const code of DOMAIN_ERROR_CODES) {
        expect(new DomainError(code, 'm').errorType).to.equal(code);
      }
    });

    it("uses the provider's own code as the metric error_type when the provider reported one", () => {
      const error = new DomainError('ProviderError', 'failed', 'GRPCProviderError');
      expect(error.providerCode).to.equal('GRPCProviderError');
      expect(error.errorType).to.equal('GRPCProviderError');
    });
  });

  describe('isDomainError', () => {
    const cases: Array<[string, unknown, boolean]> = [
      ['a DomainError', new DomainError('Internal', 'x'), true],
      ['a plain Error', new Error('x'), false],
      ['an Error that looks like one', Object.assign(new Error('x'), { code: 'Internal', name: 'DomainError' }), false],
      ['a plain object with a code', { code: 'Internal', message: 'x' }, false],
      ['a string', 'Internal', false],
      ['undefined', undefined, false],
      ['null', null, false],
    ];
    for (const [name, value, expected] of cases) {
      it(`returns ${expected} for ${name}`, () => {
        expect(isDomainError(value)).to.equal(expected);
      });
    }
  });

  describe('toDomainError', () => {
    it('returns a DomainError unchanged (same instance)', () => {
      const error = new DomainError('ProviderError', 'p', 'code');
      expect(toDomainError(error)).to.equal(error);
    });

    it('turns anything else into Internal with a generic message that leaks nothing', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.anything(), fc.string().map((m) => new Error(m))), (value) => {
          const wrapped = toDomainError(value);
          expect(wrapped).to.be.instanceOf(DomainError);
          expect(wrapped.code).to.equal('Internal');
          expect(wrapped.message).to.equal('internal error');
          expect(wrapped.providerCode).to.equal(undefined);
        }),
      );
    });

    it('does not copy the message of a wrapped Error (it may hold secret material)', () => {
      const wrapped = toDomainError(new Error('password=hunter2'));
      expect(wrapped.message).to.not.include('hunter2');
    });
  });
});

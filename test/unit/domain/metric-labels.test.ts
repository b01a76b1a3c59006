import { expect } from 'chai';
import fc from 'fast-check';
import { DOMAIN_ERROR_CODES } from '../../../src/domain/errors.js';
import {
  errorTypeLabel,
  GRPC_STATUS_NAMES,
  OTHER_ERROR_TYPE,
  providerLabel,
  providerResultLabel,
  SECRET_SYNC_FAILED,
  SUCCESS_RESULT,
} from '../../../src/domain/metric-labels.js';

const KNOWN = [...GRPC_STATUS_NAMES, ...DOMAIN_ERROR_CODES, SECRET_SYNC_FAILED];

describe('domain/metric-labels', () => {
  describe('errorTypeLabel', () => {
    for (const known of KNOWN) {
      it(`keeps ${known}`, () => {
        expect(errorTypeLabel(known)).to.equal(known);
      });
    }

    for (const [name, code] of [
      ['a provider code of its own', 'SecretNotFoundInVault'],
      ['a gRPC name in another case', 'unavailable'],
      ['an unnamed gRPC code', 'STATUS_42'],
      ['an empty code', ''],
      ['a 5 KB code', 'X'.repeat(5120)],
    ] as const) {
      it(`turns ${name} into ${OTHER_ERROR_TYPE}`, () => {
        expect(errorTypeLabel(code)).to.equal(OTHER_ERROR_TYPE);
      });
    }

    it('has at most one value per known type plus Other, whatever it is given (property)', () => {
      const allowed = new Set<string>([...KNOWN, OTHER_ERROR_TYPE]);
      fc.assert(fc.property(fc.oneof(fc.string(), fc.constantFrom(...KNOWN)), (code) => {
        expect(allowed.has(errorTypeLabel(code))).to.equal(true);
      }));
    });
  });

  it('providerResultLabel keeps "success" and bounds the rest as error types', () => {
    expect(providerResultLabel(SUCCESS_RESULT)).to.equal('success');
    expect(providerResultLabel('PERMISSION_DENIED')).to.equal('PERMISSION_DENIED');
    expect(providerResultLabel('quota exceeded for project 123')).to.equal(OTHER_ERROR_TYPE);
  });

  describe('providerLabel', () => {
    for (const name of ['azure', 'vault', 'gcp_1', 'a-b', 'x'.repeat(30), '']) {
      it(`keeps the provider name "${name}"`, () => {
        expect(providerLabel(name)).to.equal(name);
      });
    }
    for (const name of ['x'.repeat(31), '../etc', 'has space', 'ünïcode', 'a'.repeat(1_000_000)]) {
      it(`reports an invalid provider name (${name.length} characters) as ""`, () => {
        expect(providerLabel(name)).to.equal('');
      });
    }
  });
});

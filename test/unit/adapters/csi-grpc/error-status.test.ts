import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { MessageCap, truncationMarker } from '../../../../src/domain/bounded-text.js';
import { DOMAIN_ERROR_CODES, DomainError, type DomainErrorCode } from '../../../../src/domain/errors.js';
import { CsiStatusError, grpcStatusFor, toGrpcFailure } from '../../../../src/adapters/csi-grpc/error-status.js';

/** The decided mapping, one row per DomainError code (kubelet retries UNAVAILABLE and ABORTED as in progress). */
const EXPECTED: Record<DomainErrorCode, status> = {
  InvalidTargetPath: status.INVALID_ARGUMENT,
  MissingVolumeContext: status.INVALID_ARGUMENT,
  InvalidVolumeContext: status.INVALID_ARGUMENT,
  InvalidReadonly: status.INVALID_ARGUMENT,
  InvalidClass: status.INVALID_ARGUMENT,
  InvalidDuration: status.INVALID_ARGUMENT,
  InvalidPayloadPath: status.INVALID_ARGUMENT,
  DuplicatePayloadPath: status.INVALID_ARGUMENT,
  InvalidFileMode: status.INVALID_ARGUMENT,
  InvalidSecretType: status.INVALID_ARGUMENT,
  InvalidTlsData: status.INVALID_ARGUMENT,
  ClassNotFound: status.NOT_FOUND,
  ProviderError: status.FAILED_PRECONDITION,
  MissingObjectVersions: status.FAILED_PRECONDITION,
  ProviderAnswerTooLarge: status.FAILED_PRECONDITION,
  SecretObjectFileMissing: status.FAILED_PRECONDITION,
  SecretNotManaged: status.FAILED_PRECONDITION,
  ProviderUnavailable: status.UNAVAILABLE,
  OperationPending: status.ABORTED,
  AlreadyPublished: status.ALREADY_EXISTS,
  VolumeFull: status.RESOURCE_EXHAUSTED,
  TooManyOpenFiles: status.RESOURCE_EXHAUSTED,
  PayloadMemoryExhausted: status.RESOURCE_EXHAUSTED,
  ProviderMessageTooLarge: status.RESOURCE_EXHAUSTED,
  Cancelled: status.CANCELLED,
  Internal: status.INTERNAL,
};

describe('DomainError to gRPC status mapping', () => {
  it('has a row for every DomainError code and no other', () => {
    expect(Object.keys(EXPECTED).sort()).to.deep.equal([...DOMAIN_ERROR_CODES].sort());
  });

  for (const code of DOMAIN_ERROR_CODES) {
    it(`maps ${code} to ${status[EXPECTED[code]]}`, () => {
      expect(grpcStatusFor(code)).to.equal(EXPECTED[code]);
    });
  }

  it('keeps the DomainError message for everything but Internal', () => {
    expect(toGrpcFailure(new DomainError('ClassNotFound', 'class "a" not found in "ns"'))).to.deep.equal({
      code: status.NOT_FOUND,
      details: 'class "a" not found in "ns"',
    });
  });

  it('tells kubelet how much room a payload needs, not "internal error", when a volume is full', () => {
    const message = 'no space left in "/t" (ENOSPC): payload 9 MiB in 1 file needs 18 MiB and 8 inodes during a swap; the volume has 16 MiB (7 MiB free) and 4096 inodes (4090 free)';
    expect(toGrpcFailure(new DomainError('VolumeFull', message))).to.deep.equal({ code: status.RESOURCE_EXHAUSTED, details: message });
  });

  it('hides the message of an Internal DomainError', () => {
    expect(toGrpcFailure(new DomainError('Internal', 'EACCES /var/lib/x'))).to.deep.equal({ code: status.INTERNAL, details: 'internal error' });
  });

  it('turns anything that is not a DomainError into INTERNAL with a generic message', () => {
    for (const thrown of [new Error('boom with details'), 'a string', undefined, { code: 3 }]) {
      expect(toGrpcFailure(thrown)).to.deep.equal({ code: status.INTERNAL, details: 'internal error' });
    }
  });

  it('cuts a message longer than MessageCap.kubelet, ending it with the marker', () => {
    const code = 'E'.repeat(1_000_000);
    const message = `provider "vault" failed to mount: ${code}`;
    const failure = toGrpcFailure(new DomainError('ProviderError', message, code));
    expect(failure.code).to.equal(status.FAILED_PRECONDITION);
    expect(Buffer.byteLength(failure.details)).to.be.at.most(MessageCap.kubelet);
    expect(failure.details).to.match(/^provider "vault" failed to mount: E+/).and.satisfy((details: string) => details.endsWith(truncationMarker(Buffer.byteLength(message))));
  });

  it('passes the adapter\'s own status errors through unchanged', () => {
    expect(toGrpcFailure(new CsiStatusError(status.UNIMPLEMENTED, 'NodeStageVolume is not implemented'))).to.deep.equal({
      code: status.UNIMPLEMENTED,
      details: 'NodeStageVolume is not implemented',
    });
  });
});

import { expect } from 'chai';
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { DER_TAG, encodeDer, readDerElement, readDerElements } from '../../../src/domain/der.js';
import { DomainError } from '../../../src/domain/errors.js';
import { tlsSecretValue } from '../../../src/domain/tls-secret.js';

type KeyEncoding = 'pkcs1' | 'sec1' | 'pkcs8';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const file = (...parts: string[]): Uint8Array => new TextEncoder().encode(parts.join(''));

function pemBlock(type: string, der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN ${type}-----\n${body}-----END ${type}-----\n`;
}

/** Certificate contents are never parsed, so any DER-sized blob stands in for one. */
function fakeCertificate(): { der: Uint8Array; pem: string } {
  const der = new Uint8Array(randomBytes(700));
  return { der, pem: pemBlock('CERTIFICATE', der) };
}

function exportPem(key: KeyObject, type: KeyEncoding): string {
  return key.export({ type, format: 'pem' }) as string;
}

function exportDer(key: KeyObject, type: KeyEncoding): Uint8Array {
  return new Uint8Array(key.export({ type, format: 'der' }));
}

function expectInvalidTls(key: string, input: Uint8Array, message: RegExp): DomainError {
  try {
    tlsSecretValue(key, input);
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError).and.include({ code: 'InvalidTlsData' });
    expect((error as DomainError).message).to.match(message);
    return error as DomainError;
  }
  return expect.fail(`tlsSecretValue("${key}") should have thrown`);
}

function expectSameKey(output: Uint8Array, original: KeyObject, pemType: string): void {
  const pem = text(output);
  expect(pem.startsWith(`-----BEGIN ${pemType}-----\n`), pem.split('\n')[0]).to.equal(true);
  expect(pem.endsWith(`-----END ${pemType}-----\n`)).to.equal(true);
  expect(createPrivateKey(pem).export({ format: 'jwk' })).to.deep.equal(original.export({ format: 'jwk' }));
}

describe('tls-secret: the value of a kubernetes.io/tls Secret key', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const leaf = fakeCertificate();
  const intermediate = fakeCertificate();

  describe('key names', () => {
    it('rejects any key other than tls.crt and tls.key, naming it', () => {
      expectInvalidTls('ca.crt', file(leaf.pem), /^tls key "ca\.crt" is not supported\. Only tls\.key and tls\.crt are supported$/);
    });

    it('rejects an empty file for either key', () => {
      expectInvalidTls('tls.crt', new Uint8Array(0), /^tls\.crt: the mounted file is empty$/);
      expectInvalidTls('tls.key', new Uint8Array(0), /^tls\.key: the mounted file is empty$/);
    });
  });

  describe('tls.crt', () => {
    it('is every CERTIFICATE block in file order, without the key', () => {
      const output = tlsSecretValue('tls.crt', file(leaf.pem, exportPem(rsa, 'pkcs1'), intermediate.pem));
      expect(text(output)).to.equal(leaf.pem + intermediate.pem);
    });

    it('re-encodes certificates with 64-character lines and LF, whatever the input layout', () => {
      const oneLine = `-----BEGIN CERTIFICATE-----\r\n${Buffer.from(leaf.der).toString('base64')}\r\n-----END CERTIFICATE-----\r\n`;
      expect(text(tlsSecretValue('tls.crt', file('subject=/CN=leaf\r\n', oneLine)))).to.equal(leaf.pem);
    });

    it('is an error when the file holds no certificate', () => {
      expectInvalidTls('tls.crt', file(exportPem(rsa, 'pkcs1')), /^tls\.crt: no CERTIFICATE PEM block found$/);
    });

    it('is an error when a certificate body is not base64', () => {
      const garbage = '-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n';
      expectInvalidTls('tls.crt', file(garbage), /^tls\.crt: PEM block "CERTIFICATE" has an invalid body: invalid base64/);
    });
  });

  describe('tls.key', () => {
    const cases: Array<{ name: string; key: KeyObject; encoding: KeyEncoding; pemType: string; canonical: KeyEncoding }> = [
      { name: 'an RSA PKCS#1 key', key: rsa, encoding: 'pkcs1', pemType: 'RSA PRIVATE KEY', canonical: 'pkcs1' },
      { name: 'an RSA PKCS#8 key', key: rsa, encoding: 'pkcs8', pemType: 'RSA PRIVATE KEY', canonical: 'pkcs1' },
      { name: 'a P-256 SEC1 key', key: p256, encoding: 'sec1', pemType: 'EC PRIVATE KEY', canonical: 'sec1' },
      { name: 'a P-256 PKCS#8 key', key: p256, encoding: 'pkcs8', pemType: 'EC PRIVATE KEY', canonical: 'sec1' },
      { name: 'a P-384 SEC1 key', key: p384, encoding: 'sec1', pemType: 'EC PRIVATE KEY', canonical: 'sec1' },
      { name: 'a P-384 PKCS#8 key', key: p384, encoding: 'pkcs8', pemType: 'EC PRIVATE KEY', canonical: 'sec1' },
    ];
    for (const { name, key, encoding, pemType, canonical } of cases) {
      it(`turns ${name} next to certificates into the same key as ${pemType} (${canonical})`, () => {
        const output = tlsSecretValue('tls.key', file(leaf.pem, exportPem(key, encoding), intermediate.pem));
        expectSameKey(output, key, pemType);
        expect(text(output)).to.equal(exportPem(key, canonical));
      });
    }

    it('accepts CRLF line endings', () => {
      const crlf = exportPem(p256, 'pkcs8').replace(/\n/g, '\r\n');
      expectSameKey(tlsSecretValue('tls.key', file(leaf.pem.replace(/\n/g, '\r\n'), crlf)), p256, 'EC PRIVATE KEY');
    });

    it('takes the first non-certificate block when the file holds several keys', () => {
      const output = tlsSecretValue('tls.key', file(exportPem(p384, 'sec1'), exportPem(rsa, 'pkcs1')));
      expectSameKey(output, p384, 'EC PRIVATE KEY');
    });

    it('skips the EC PARAMETERS block that openssl ecparam writes before the key', () => {
      const parameters = pemBlock('EC PARAMETERS', Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07));
      expectSameKey(tlsSecretValue('tls.key', file(parameters, exportPem(p256, 'sec1'))), p256, 'EC PRIVATE KEY');
    });

    it('is an error when the file holds only certificates', () => {
      expectInvalidTls('tls.key', file(leaf.pem, intermediate.pem), /^tls\.key: no private key PEM block found$/);
    });

    it('rejects an Ed25519 PKCS#8 key: only RSA and ECDSA are supported', () => {
      const ed25519 = generateKeyPairSync('ed25519').privateKey;
      expectInvalidTls(
        'tls.key',
        file(exportPem(ed25519, 'pkcs8')),
        /^tls\.key: invalid "PRIVATE KEY" PEM block: PKCS#8 algorithm 1\.3\.101\.112 is not supported: only RSA and ECDSA private keys are supported$/,
      );
    });

    it('rejects key types it cannot re-encode, such as an encrypted PKCS#8 key', () => {
      const encrypted = rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string;
      expectInvalidTls('tls.key', file(encrypted), /^tls\.key: invalid "ENCRYPTED PRIVATE KEY" PEM block: unsupported PEM type/);
    });

    it('rejects a key body that is not base64', () => {
      const garbage = '-----BEGIN RSA PRIVATE KEY-----\n%%%%\n-----END RSA PRIVATE KEY-----\n';
      expectInvalidTls('tls.key', file(garbage), /^tls\.key: PEM block "RSA PRIVATE KEY" has an invalid body: invalid base64/);
    });

    it('rejects truncated DER without echoing key material', () => {
      const truncated = pemBlock('RSA PRIVATE KEY', exportDer(rsa, 'pkcs1').subarray(0, 600));
      const error = expectInvalidTls('tls.key', file(truncated), /^tls\.key: invalid "RSA PRIVATE KEY" PEM block: malformed DER: element is truncated$/);
      expect(error.message).not.to.include(truncated.split('\n')[1]!.slice(0, 16));
    });

    it('rejects a PEM label that does not match the DER inside', () => {
      expectInvalidTls('tls.key', file(pemBlock('RSA PRIVATE KEY', exportDer(rsa, 'pkcs8'))), /PKCS#1 RSAPrivateKey must hold 9 INTEGERs/);
      expectInvalidTls('tls.key', file(pemBlock('EC PRIVATE KEY', exportDer(rsa, 'pkcs1'))), /SEC1 ECPrivateKey must start with version 1/);
      expectInvalidTls('tls.key', file(pemBlock('PRIVATE KEY', exportDer(p256, 'sec1'))), /PKCS#8 AlgorithmIdentifier is missing/);
    });

    it('rejects DER that is not a SEQUENCE', () => {
      const integer = encodeDer(DER_TAG.INTEGER, Uint8Array.of(0));
      expectInvalidTls('tls.key', file(pemBlock('PRIVATE KEY', integer)), /PKCS#8 PrivateKeyInfo is not a DER SEQUENCE/);
    });

    describe('SEC1 structure', () => {
      /** The ECPrivateKey inside a PKCS#8 export: version, privateKey and [1] publicKey, no [0] curve. */
      const [pkcs8Version, pkcs8Algorithm, pkcs8PrivateKey] = readDerElements(readDerElement(exportDer(p256, 'pkcs8')).content);
      const [version, privateKey, publicKey] = readDerElements(readDerElement(pkcs8PrivateKey!.content).content);
      const curve = encodeDer(DER_TAG.CONTEXT_0, readDerElements(pkcs8Algorithm!.content)[1]!.encoded);
      const sec1 = (...fields: Uint8Array[]): Uint8Array => file(pemBlock('EC PRIVATE KEY', encodeDer(DER_TAG.SEQUENCE, ...fields)));

      it('keeps a standalone key without [1] publicKey usable', () => {
        expectSameKey(tlsSecretValue('tls.key', sec1(version!.encoded, privateKey!.encoded, curve)), p256, 'EC PRIVATE KEY');
      });

      it('rejects a standalone key that does not name its curve', () => {
        expectInvalidTls('tls.key', sec1(version!.encoded, privateKey!.encoded, publicKey!.encoded), /SEC1 ECPrivateKey does not name its curve$/);
      });

      it('rejects [1] publicKey before [0] parameters', () => {
        const swapped = sec1(version!.encoded, privateKey!.encoded, publicKey!.encoded, curve);
        expectInvalidTls('tls.key', swapped, /SEC1 ECPrivateKey has unexpected fields after privateKey$/);
      });

      it('does not repeat [0] parameters when the ECPrivateKey inside PKCS#8 already names its curve', () => {
        const ownSec1 = encodeDer(DER_TAG.OCTET_STRING, exportDer(p256, 'sec1'));
        const der = encodeDer(DER_TAG.SEQUENCE, pkcs8Version!.encoded, pkcs8Algorithm!.encoded, ownSec1);
        expect(text(tlsSecretValue('tls.key', file(pemBlock('PRIVATE KEY', der))))).to.equal(exportPem(p256, 'sec1'));
      });

      it('rejects a key whose privateKey is not an OCTET STRING', () => {
        expectInvalidTls('tls.key', sec1(version!.encoded, curve), /SEC1 ECPrivateKey privateKey OCTET STRING is missing$/);
      });

      it('rejects a PKCS#8 EC key whose AlgorithmIdentifier has no named curve and whose ECPrivateKey has none either', () => {
        const noCurveAlgorithm = encodeDer(DER_TAG.SEQUENCE, readDerElements(pkcs8Algorithm!.content)[0]!.encoded);
        const der = encodeDer(DER_TAG.SEQUENCE, pkcs8Version!.encoded, noCurveAlgorithm, pkcs8PrivateKey!.encoded);
        expectInvalidTls('tls.key', file(pemBlock('PRIVATE KEY', der)), /SEC1 ECPrivateKey does not name its curve$/);
      });
    });

    describe('PKCS#8 structure', () => {
      const [version, algorithm, privateKey] = readDerElements(readDerElement(exportDer(rsa, 'pkcs8')).content);
      const integer = (value: number): Uint8Array => encodeDer(DER_TAG.INTEGER, Uint8Array.of(value));
      const pkcs8 = (...fields: Uint8Array[]): Uint8Array => file(pemBlock('PRIVATE KEY', encodeDer(DER_TAG.SEQUENCE, ...fields)));

      it('rejects a version other than 0 or 1', () => {
        expectInvalidTls('tls.key', pkcs8(integer(2), algorithm!.encoded, privateKey!.encoded), /PKCS#8 version must be 0 or 1$/);
      });

      it('rejects a PrivateKeyInfo without the privateKey OCTET STRING', () => {
        expectInvalidTls('tls.key', pkcs8(version!.encoded, algorithm!.encoded), /PKCS#8 privateKey OCTET STRING is missing$/);
      });

      it('rejects an AlgorithmIdentifier that does not start with an OID', () => {
        const noOid = encodeDer(DER_TAG.SEQUENCE, integer(0));
        expectInvalidTls('tls.key', pkcs8(version!.encoded, noOid, privateKey!.encoded), /PKCS#8 AlgorithmIdentifier has no algorithm OID$/);
      });

      it('accepts version 1 (OneAsymmetricKey) and trailing optional fields', () => {
        const attributes = encodeDer(DER_TAG.CONTEXT_0);
        const output = tlsSecretValue('tls.key', pkcs8(integer(1), algorithm!.encoded, privateKey!.encoded, attributes));
        expectSameKey(output, rsa, 'RSA PRIVATE KEY');
      });
    });
  });
});

import { DER_TAG, encodeDer, formatOid, readDerElement, readDerElements, type DerElement } from './der.js';
import { DomainError, isDomainError } from './errors.js';
import { encodePem, parsePem, type PemBlock } from './pem.js';

const TLS_CRT = 'tls.crt';
const TLS_KEY = 'tls.key';

const CERTIFICATE = 'CERTIFICATE';
const RSA_PRIVATE_KEY = 'RSA PRIVATE KEY';
const EC_PRIVATE_KEY = 'EC PRIVATE KEY';
const PKCS8_PRIVATE_KEY = 'PRIVATE KEY';
/** `openssl ecparam -genkey` writes this block ahead of the key; it is not the key itself. */
const EC_PARAMETERS = 'EC PARAMETERS';

/** The algorithms a PKCS#8 PrivateKeyInfo may name that Kubernetes TLS Secrets (PKCS#1/SEC1) can hold. */
const RSA_ENCRYPTION_OID = '1.2.840.113549.1.1.1';
const EC_PUBLIC_KEY_OID = '1.2.840.10045.2.1';

/** Two-prime PKCS#1 RSAPrivateKey (version 0): version, n, e, d, p, q, dP, dQ, qInv. */
const RSA_PRIVATE_KEY_INTEGERS = 9;

/** Value of one key of a kubernetes.io/tls Secret built from a mounted PEM file (certs + key). */
export function tlsSecretValue(key: string, pemFile: Uint8Array): Uint8Array {
  if (key !== TLS_CRT && key !== TLS_KEY) {
    throw invalidTls(`tls key "${key}" is not supported. Only ${TLS_KEY} and ${TLS_CRT} are supported`);
  }
  return new TextEncoder().encode(withContext(key, () => tlsPem(key, pemFile)));
}

function tlsPem(key: string, pemFile: Uint8Array): string {
  if (pemFile.length === 0) throw invalidTls('the mounted file is empty');
  const blocks = parsePem(new TextDecoder().decode(pemFile));
  return key === TLS_CRT ? certificateChain(blocks) : privateKeyPem(blocks);
}

/** Every certificate, in file order, so the leaf stays first and intermediates follow it. */
function certificateChain(blocks: readonly PemBlock[]): string {
  const certificates = blocks.filter((block) => block.type === CERTIFICATE);
  if (certificates.length === 0) throw invalidTls(`no ${CERTIFICATE} PEM block found`);
  return certificates.map(encodePem).join('');
}

/** The first non-certificate block is the key, normalized to PKCS#1 (RSA) or SEC1 (EC). */
function privateKeyPem(blocks: readonly PemBlock[]): string {
  const block = blocks.find(({ type }) => type !== CERTIFICATE && type !== EC_PARAMETERS);
  if (!block) throw invalidTls('no private key PEM block found');
  return withContext(`invalid "${block.type}" PEM block`, () => encodePem(normalizedPrivateKey(block)));
}

function normalizedPrivateKey(block: PemBlock): PemBlock {
  switch (block.type) {
    case RSA_PRIVATE_KEY:
      return { type: RSA_PRIVATE_KEY, bytes: validPkcs1(block.bytes) };
    case EC_PRIVATE_KEY:
      return { type: EC_PRIVATE_KEY, bytes: sec1WithCurve(block.bytes, undefined) };
    case PKCS8_PRIVATE_KEY:
      return unwrapPkcs8(block.bytes);
    default:
      throw invalidTls(`unsupported PEM type (expected ${RSA_PRIVATE_KEY}, ${EC_PRIVATE_KEY} or ${PKCS8_PRIVATE_KEY})`);
  }
}

/** PKCS#8 PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING privateKey, ... }. */
function unwrapPkcs8(der: Uint8Array): PemBlock {
  const [version, algorithm, privateKey] = sequenceItems(der, 'PKCS#8 PrivateKeyInfo');
  if (!isSmallInteger(version, 0) && !isSmallInteger(version, 1)) throw invalidTls('PKCS#8 version must be 0 or 1');
  if (algorithm?.tag !== DER_TAG.SEQUENCE) throw invalidTls('PKCS#8 AlgorithmIdentifier is missing');
  if (privateKey?.tag !== DER_TAG.OCTET_STRING) throw invalidTls('PKCS#8 privateKey OCTET STRING is missing');
  const [oid, parameters] = readDerElements(algorithm.content);
  if (oid?.tag !== DER_TAG.OBJECT_IDENTIFIER) throw invalidTls('PKCS#8 AlgorithmIdentifier has no algorithm OID');
  const algorithmOid = formatOid(oid.content);
  if (algorithmOid === RSA_ENCRYPTION_OID) return { type: RSA_PRIVATE_KEY, bytes: validPkcs1(privateKey.content) };
  if (algorithmOid === EC_PUBLIC_KEY_OID) {
    const namedCurve = parameters?.tag === DER_TAG.OBJECT_IDENTIFIER ? parameters : undefined;
    return { type: EC_PRIVATE_KEY, bytes: sec1WithCurve(privateKey.content, namedCurve) };
  }
  throw invalidTls(`PKCS#8 algorithm ${algorithmOid} is not supported: only RSA and ECDSA private keys are supported`);
}

/** Checks the PKCS#1 shape so garbage is reported here, not by whoever later loads the Secret. */
function validPkcs1(der: Uint8Array): Uint8Array {
  const items = sequenceItems(der, 'PKCS#1 RSAPrivateKey');
  if (!isSmallInteger(items[0], 0)) throw invalidTls('PKCS#1 RSAPrivateKey must start with version 0');
  if (items.length !== RSA_PRIVATE_KEY_INTEGERS || items.some((item) => item.tag !== DER_TAG.INTEGER)) {
    throw invalidTls(`PKCS#1 RSAPrivateKey must hold ${RSA_PRIVATE_KEY_INTEGERS} INTEGERs`);
  }
  return der;
}

/**
 * SEC1 ECPrivateKey: SEQUENCE { version 1, OCTET STRING privateKey, [0] curve OPTIONAL, [1] publicKey OPTIONAL }.
 * Inside PKCS#8 the curve usually sits only in the AlgorithmIdentifier; a standalone SEC1 key needs
 * it in [0], so it is taken from there (preferred, as Go does) or from the key's own [0].
 */
function sec1WithCurve(der: Uint8Array, algorithmCurve: DerElement | undefined): Uint8Array {
  const [version, privateKey, ...optional] = sequenceItems(der, 'SEC1 ECPrivateKey');
  if (!isSmallInteger(version, 1)) throw invalidTls('SEC1 ECPrivateKey must start with version 1');
  if (privateKey?.tag !== DER_TAG.OCTET_STRING) throw invalidTls('SEC1 ECPrivateKey privateKey OCTET STRING is missing');
  const { ownCurve, publicKey } = sec1OptionalFields(optional);
  const curve = algorithmCurve ? encodeDer(DER_TAG.CONTEXT_0, algorithmCurve.encoded) : ownCurve?.encoded;
  if (!curve) throw invalidTls('SEC1 ECPrivateKey does not name its curve');
  const fields = [version.encoded, privateKey.encoded, curve, ...(publicKey ? [publicKey.encoded] : [])];
  return encodeDer(DER_TAG.SEQUENCE, ...fields);
}

/** SEC1's trailing fields are optional but ordered: at most one [0], then at most one [1]. */
function sec1OptionalFields(fields: readonly DerElement[]): { ownCurve?: DerElement; publicKey?: DerElement } {
  const ownCurve = fields[0]?.tag === DER_TAG.CONTEXT_0 ? fields[0] : undefined;
  const rest = ownCurve ? fields.slice(1) : fields;
  const publicKey = rest[0]?.tag === DER_TAG.CONTEXT_1 ? rest[0] : undefined;
  if (rest.length > (publicKey ? 1 : 0)) throw invalidTls('SEC1 ECPrivateKey has unexpected fields after privateKey');
  return { ownCurve, publicKey };
}

function sequenceItems(der: Uint8Array, structure: string): DerElement[] {
  const sequence = readDerElement(der);
  if (sequence.tag !== DER_TAG.SEQUENCE) throw invalidTls(`${structure} is not a DER SEQUENCE`);
  return readDerElements(sequence.content);
}

function isSmallInteger(element: DerElement | undefined, value: number): element is DerElement {
  return element?.tag === DER_TAG.INTEGER && element.content.length === 1 && element.content[0] === value;
}

/** Prefixes domain errors raised by `produce` so the message says which input was wrong. */
function withContext<T>(context: string, produce: () => T): T {
  try {
    return produce();
  } catch (error) {
    if (!isDomainError(error)) throw error;
    throw invalidTls(`${context}: ${error.message}`);
  }
}

function invalidTls(message: string): DomainError {
  return new DomainError('InvalidTlsData', message);
}

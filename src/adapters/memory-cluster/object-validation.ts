import { encodeBase64, isBase64 } from '../kube-objects/base64.js';
import { KIND_INFO, isKnownKind, type KindMap, type KnownKind, type KubeObject } from '../kube-objects/object-shapes.js';
import { KubeApiError } from './cluster-errors.js';
import { isJsonObject, jsonCopy } from './json.js';

/** Object names (at most 253 characters) and namespaces (at most 63), as the API server validates them. */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

type Problem = string | undefined;

/**
 * Checks an incoming object the way the API server's validation would where the driver can notice,
 * and returns a normalised copy: the canonical apiVersion of its kind and namespace "default" when
 * none is given. Throws KubeApiError Invalid naming the field.
 */
export function normalizeObject(input: unknown): KubeObject {
  if (!isJsonObject(input)) throw new KubeApiError('Invalid', 'object is not a JSON object');
  const kind = input['kind'];
  if (!isKnownKind(kind)) throw new KubeApiError('Invalid', `unknown kind ${JSON.stringify(kind)} (known: ${Object.keys(KIND_INFO).join(', ')})`);
  const object = jsonCopy(input) as unknown as KubeObject;
  const problem = metadataProblem(object) ?? apiVersionProblem(kind, object.apiVersion) ?? KIND_CHECKS[kind](object as never);
  if (problem) throw new KubeApiError('Invalid', `${kind} "${String(object.metadata?.name ?? '')}" is invalid: ${problem}`);
  object.apiVersion = KIND_INFO[kind].apiVersion;
  object.metadata.namespace ??= 'default';
  if (kind === 'Secret') mergeStringData(object as KindMap['Secret'] & { stringData?: Record<string, string> });
  return object;
}

/** Like the API server: `stringData` is a write-only convenience, merged into `data` (it wins) and dropped. */
function mergeStringData(secret: KindMap['Secret'] & { stringData?: Record<string, string> }): void {
  if (secret.stringData === undefined) return;
  const data = { ...secret.data };
  for (const [key, value] of Object.entries(secret.stringData)) data[key] = encodeBase64(new TextEncoder().encode(value));
  secret.data = data;
  delete secret.stringData;
}

function apiVersionProblem(kind: KnownKind, apiVersion: unknown): Problem {
  if (KIND_INFO[kind].servedVersions.includes(apiVersion as string)) return undefined;
  return `apiVersion: ${JSON.stringify(apiVersion)} is not served for ${kind} (use ${KIND_INFO[kind].servedVersions.join(' or ')})`;
}

function metadataProblem(object: KubeObject): Problem {
  const meta: unknown = object.metadata;
  if (!isJsonObject(meta)) return 'metadata: required';
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') return 'metadata.name: required';
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `metadata.name: "${name}" must be a lowercase DNS subdomain`;
  const namespace = meta['namespace'];
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    return `metadata.namespace: ${JSON.stringify(namespace)} must be a lowercase DNS label`;
  }
  return (
    stringMapProblem('metadata.labels', meta['labels']) ??
    stringMapProblem('metadata.annotations', meta['annotations']) ??
    ownerReferencesProblem(meta['ownerReferences'])
  );
}

function ownerReferencesProblem(value: unknown): Problem {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return 'metadata.ownerReferences: must be a list';
  for (const [index, owner] of value.entries()) {
    for (const field of ['apiVersion', 'kind', 'name', 'uid']) {
      const fieldValue = isJsonObject(owner) ? owner[field] : undefined;
      if (typeof fieldValue !== 'string' || fieldValue === '') return `metadata.ownerReferences[${index}].${field}: required`;
    }
  }
  return undefined;
}

function stringMapProblem(field: string, value: unknown): Problem {
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) return `${field}: must be a map of strings`;
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') return `${field}.${key}: must be a string (quote it in YAML)`;
  }
  return undefined;
}

function listProblem(field: string, value: unknown, itemProblem: (item: unknown, at: string) => Problem): Problem {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return `${field}: must be a list`;
  for (const [index, item] of value.entries()) {
    const problem = itemProblem(item, `${field}[${index}]`);
    if (problem) return problem;
  }
  return undefined;
}

function objectProblem(field: string, value: unknown): Problem {
  return value === undefined || isJsonObject(value) ? undefined : `${field}: must be an object`;
}

const KIND_CHECKS: { readonly [K in KnownKind]: (object: Record<string, unknown>) => Problem } = {
  SecretProviderClass: (object) => {
    const spec = object['spec'];
    if (!isJsonObject(spec)) return objectProblem('spec', spec);
    return (
      stringMapProblem('spec.parameters', spec['parameters']) ??
      listProblem('spec.secretObjects', spec['secretObjects'], (item, at) =>
        isJsonObject(item)
          ? stringMapProblem(`${at}.labels`, item['labels']) ?? stringMapProblem(`${at}.annotations`, item['annotations'])
          : `${at}: must be an object`,
      )
    );
  },
  SecretProviderClassPodStatus: (object) => {
    const status = object['status'];
    if (!isJsonObject(status)) return objectProblem('status', status);
    return listProblem('status.objects', status['objects'], (item, at) =>
      isJsonObject(item) && typeof item['id'] === 'string' && typeof item['version'] === 'string'
        ? undefined
        : `${at}: needs string id and version`,
    );
  },
  Secret: (object) => secretDataProblem(object['data']) ?? stringDataProblem(object['stringData']),
  Pod: (object) => objectProblem('spec', object['spec']) ?? objectProblem('status', object['status']),
  Event: (object) => (isJsonObject(object['involvedObject']) ? undefined : 'involvedObject: required'),
  Deployment: (object) => workloadProblem(object),
  StatefulSet: (object) => workloadProblem(object),
  DaemonSet: (object) => workloadProblem(object),
  ReplicaSet: (object) => workloadProblem(object),
  Lease: (object) => objectProblem('spec', object['spec']),
};

/** A workload needs a spec with a pod template, as the API server requires. */
function workloadProblem(object: Record<string, unknown>): Problem {
  const spec = object['spec'];
  if (!isJsonObject(spec)) return 'spec: required';
  const template = spec['template'];
  if (!isJsonObject(template)) return 'spec.template: required';
  const metadata = template['metadata'];
  if (metadata === undefined) return objectProblem('spec.template.spec', template['spec']);
  if (!isJsonObject(metadata)) return 'spec.template.metadata: must be an object';
  return stringMapProblem('spec.template.metadata.annotations', metadata['annotations']) ?? objectProblem('spec.template.spec', template['spec']);
}

function stringDataProblem(stringData: unknown): Problem {
  const problem = stringMapProblem('stringData', stringData);
  if (problem || !isJsonObject(stringData)) return problem;
  const badKey = Object.keys(stringData).find((key) => !SECRET_KEY.test(key));
  return badKey === undefined ? undefined : `stringData[${badKey}]: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`;
}

function secretDataProblem(data: unknown): Problem {
  if (data === undefined) return undefined;
  if (!isJsonObject(data)) return 'data: must be a map';
  for (const [key, value] of Object.entries(data)) {
    if (!SECRET_KEY.test(key)) return `data[${key}]: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`;
    if (typeof value !== 'string' || !isBase64(value)) return `data[${key}]: must be base64 text`;
  }
  return undefined;
}

/** Defaults the API server fills in on create. */
export function applyCreateDefaults(object: KubeObject): void {
  if (object.kind === 'Secret') {
    const secret = object as KindMap['Secret'];
    secret.type ??= 'Opaque';
  }
  if (object.kind === 'Pod') {
    const pod = object as KindMap['Pod'];
    pod.status = { ...pod.status, phase: pod.status?.phase ?? 'Pending' };
  }
}

/** Fields the API server refuses to change (and defaults an update leaves out). */
export function assertImmutableFields(existing: KubeObject, next: KubeObject): void {
  if (existing.kind === 'Secret') {
    const before = (existing as KindMap['Secret']).type;
    const after = (next as KindMap['Secret']).type ?? 'Opaque';
    if (before !== after) {
      throw new KubeApiError('Invalid', `Secret "${existing.metadata.name}" is invalid: type: field is immutable`);
    }
    (next as KindMap['Secret']).type = after;
  }
}

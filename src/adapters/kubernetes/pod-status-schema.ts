import { randomBytes } from 'node:crypto';
import type { PodStatusResource } from '../kube-objects/object-shapes.js';
import { CSI_GROUP, CSI_VERSION, csiCollection, POD_STATUSES } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';

/** The status fields this driver adds to upstream's SecretProviderClassPodStatus (deploy/crds declares them). */
export const ROTATION_STATUS_FIELDS = ['lastRotationTime', 'lastRotationError', 'nextRotationTime'] as const;

/** A namespace that exists in every cluster (the API server recreates it and refuses its deletion). */
const PROBE_NAMESPACE = 'default';

/**
 * Which of the rotation status fields the cluster's SecretProviderClassPodStatus schema drops: upstream's CRD,
 * kept on an upgrade (`crds.enabled=false`), declares none of them, so the API server prunes them from every
 * write without an error. Found by a server-side dry run of a create, which the API server answers with the
 * object as it would store it, and stores nothing.
 */
export async function prunedRotationStatusFields(client: KubernetesClient): Promise<string[]> {
  const probe: PodStatusResource = {
    apiVersion: `${CSI_GROUP}/${CSI_VERSION}`,
    kind: 'SecretProviderClassPodStatus',
    metadata: { name: `secrets-store-csi-schema-check-${randomBytes(4).toString('hex')}`, namespace: PROBE_NAMESPACE },
    status: {
      podName: 'schema-check',
      secretProviderClassName: 'schema-check',
      mounted: false,
      targetPath: '',
      objects: [],
      lastRotationTime: new Date(0).toISOString(),
      lastRotationError: 'schema check',
      nextRotationTime: new Date(0).toISOString(),
    },
  };
  const stored = await client.api.create<PodStatusResource>(csiCollection(POD_STATUSES, PROBE_NAMESPACE), probe, { dryRun: 'All' });
  const status = (stored.status ?? {}) as Record<string, unknown>;
  return ROTATION_STATUS_FIELDS.filter((field) => status[field] === undefined);
}

import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions, type ConfigurationOptions, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EventResource, PodResource, PodStatusResource, SecretProviderClassResource, SecretResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { isNotFound } from '../../src/adapters/kubernetes/api-errors.js';
import type { ControlPlane } from './control-plane.js';
import { projectRoot } from './project-root.js';

/** Where the driver's custom resources are served. */
export const CSI = { group: 'secrets-store.csi.x-k8s.io', version: 'v1' };

/** Request options of the client library that send a PATCH body as a JSON merge patch (RFC 7386). */
export function mergePatch(): ConfigurationOptions {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}

/** A client model (Date fields) as the JSON the API server sent. */
export const json = <T>(value: unknown): T => JSON.parse(JSON.stringify(value)) as T;

/** Test-side access to the API server as the admin, to arrange what the adapters then read. */
export class Admin {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;

  constructor(private readonly plane: ControlPlane) {
    this.core = plane.adminKubeConfig().makeApiClient(CoreV1Api);
    this.custom = plane.adminKubeConfig().makeApiClient(CustomObjectsApi);
  }

  /** Creates every object of a manifest file of the repository (what `kubectl create -f` does). */
  async apply(file: string): Promise<void> {
    const api = KubernetesObjectApi.makeApiClient(this.plane.adminKubeConfig());
    for (const document of parseAllDocuments(readFileSync(join(projectRoot(import.meta.url), file), 'utf8'))) {
      const object = document.toJSON() as KubernetesObject | null;
      if (object) await api.create(object);
    }
  }

  /** Creates the pod (its containers given an image, or one added: the API requires one), then sets its status phase. */
  async putPod(object: PodResource): Promise<PodResource> {
    const namespace = object.metadata.namespace ?? 'default';
    const existing = await this.core.readNamespacedPod({ namespace, name: object.metadata.name }).catch(() => undefined);
    if (existing !== undefined) {
      // A pod's spec is immutable: a second put replaces what can change, its labels and annotations.
      const metadata = { ...existing.metadata, labels: object.metadata.labels, annotations: object.metadata.annotations };
      return json<PodResource>(await this.core.replaceNamespacedPod({ namespace, name: object.metadata.name, body: { ...existing, metadata } }));
    }
    const containers = (object.spec?.containers ?? [{ name: 'app' }]).map((container) => ({ ...container, image: 'registry.k8s.io/pause:3.10' }));
    const body = { ...object, spec: { ...object.spec, containers } } as unknown as V1Pod;
    const created = await this.core.createNamespacedPod({ namespace, body });
    if (object.status?.phase === undefined) return json<PodResource>(created);
    const updated = await this.core.replaceNamespacedPodStatus({
      namespace,
      name: object.metadata.name,
      body: { ...created, status: { ...created.status, phase: object.status.phase } },
    });
    return json<PodResource>(updated);
  }

  /** Creates the class, or replaces the stored one; resolves the stored resourceVersion. */
  async putClass(object: SecretProviderClassResource): Promise<string> {
    const namespace = object.metadata.namespace ?? 'default';
    const resource = { ...CSI, namespace, plural: 'secretproviderclasses' };
    try {
      const created = (await this.custom.createNamespacedCustomObject({ ...resource, body: object })) as SecretProviderClassResource;
      return created.metadata.resourceVersion!;
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
    const current = (await this.custom.getNamespacedCustomObject({ ...resource, name: object.metadata.name })) as SecretProviderClassResource;
    const body = { ...object, metadata: { ...object.metadata, resourceVersion: current.metadata.resourceVersion } };
    const replaced = (await this.custom.replaceNamespacedCustomObject({ ...resource, name: object.metadata.name, body })) as SecretProviderClassResource;
    return replaced.metadata.resourceVersion!;
  }

  async readPodStatusObject(namespace: string, name: string): Promise<PodStatusResource | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasspodstatuses', name })) as PodStatusResource;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async readSecret(namespace: string, name: string): Promise<SecretResource | undefined> {
    try {
      return json<SecretResource>(await this.core.readNamespacedSecret({ namespace, name }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async readEvents(namespace: string): Promise<EventResource[]> {
    return json<EventResource[]>((await this.core.listNamespacedEvent({ namespace })).items);
  }
}

/** GET as JSON with the given Accept header, over TLS to the self-signed API server. */
export function getJson(url: string, token: string, accept: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, accept } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Record<string, unknown>) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A TCP proxy to the API server whose connections the test can cut. */
export async function startProxy(targetPort: string): Promise<{ port: number; dropConnections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(Number(targetPort), '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropConnections = (): number => {
    const count = sockets.size;
    for (const socket of sockets) socket.destroy();
    return count;
  };
  return {
    port: (server.address() as AddressInfo).port,
    dropConnections,
    close: async () => {
      dropConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

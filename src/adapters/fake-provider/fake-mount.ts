import type { ProviderMountResponse } from '../../domain/provider-request.js';
import type { FakeSecretStore } from './fake-secret-store.js';
import { InvalidAttributesError, type MountAttributesParser } from './mount-attributes.js';

export interface FakeMountInput {
  readonly attributes: string;
  readonly targetPath: string;
  readonly permission: string;
}

/**
 * The fake provider's answer to a Mount: every object named in the `objects` attribute, with its
 * current contents and version from the store. Shared by the gRPC server and the in-process provider
 * so both behave alike. Throws InvalidAttributesError for a request a real provider would reject.
 */
export function answerFakeMount(store: FakeSecretStore, attributes: MountAttributesParser, input: FakeMountInput): ProviderMountResponse {
  if (input.targetPath === '') throw new InvalidAttributesError('target_path is empty');
  const { objects, seeds } = attributes.parse(input.attributes);
  const defaultMode = Number.parseInt(input.permission, 10);
  const objectVersions = [];
  const files = [];
  for (const object of objects) {
    const current = store.read(object.name, seeds.get(object.name));
    objectVersions.push({ id: object.name, version: current.version });
    files.push({ path: object.path, mode: object.mode ?? (Number.isNaN(defaultMode) ? 0 : defaultMode), contents: current.contents });
  }
  return { objectVersions, files, errorCode: '' };
}

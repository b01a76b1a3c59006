import { expect } from 'chai';
import { BindingRegistry, type RegisteredBinding } from '../../../src/application/binding-registry.js';
import { parseVolumeRequest, type VolumeBinding } from '../../../src/domain/volume-binding.js';
import { aPublishCommand, KUBELET_ROOT } from '../../support/builders.js';

function anEntry(options: { podUid?: string; className?: string; namespace?: string } = {}): RegisteredBinding {
  const { podUid = 'pod-uid-1', className = 'app-secrets', namespace = 'default' } = options;
  const command = aPublishCommand({ podUid, className });
  const volumeContext = { ...command.volumeContext, 'csi.storage.k8s.io/pod.namespace': namespace };
  const request = parseVolumeRequest({ ...command, volumeContext }, KUBELET_ROOT);
  const binding: VolumeBinding = {
    request,
    providerName: 'fake',
    objectVersions: [{ id: 'db-password', version: 'v1' }],
    classGeneration: 1,
    secretsInSync: true,
    mountedAt: 0,
    contentConfirmedAt: 0,
    rotationReport: {},
  };
  return { binding, schedule: { nextDueAt: 1000, consecutiveFailures: 0, handledRequests: {} }, intervalMs: 1000 };
}

const targetOf = (entry: RegisteredBinding): string => entry.binding.request.target.path;

describe('BindingRegistry', () => {
  let registry: BindingRegistry;

  beforeEach(() => {
    registry = new BindingRegistry();
  });

  it('finds a binding by its target path', () => {
    const entry = anEntry();
    registry.put(entry);

    expect(registry.get(targetOf(entry))).to.equal(entry);
    expect(registry.get('/elsewhere')).to.equal(undefined);
  });

  it('keeps one binding per target: a later put replaces the earlier one', () => {
    const first = anEntry();
    const second = { ...first, intervalMs: 5000 };

    registry.put(first);
    registry.put(second);

    expect(registry.all()).to.deep.equal([second]);
  });

  it('deletes a binding and returns what was registered, undefined when nothing was', () => {
    const entry = anEntry();
    registry.put(entry);

    expect(registry.delete(targetOf(entry))).to.equal(entry);
    expect(registry.delete(targetOf(entry))).to.equal(undefined);
    expect(registry.all()).to.deep.equal([]);
  });

  it('lists the bindings of one class in one namespace', () => {
    const mine = [anEntry({ podUid: 'a' }), anEntry({ podUid: 'b' })];
    const otherClass = anEntry({ podUid: 'c', className: 'other' });
    const otherNamespace = anEntry({ podUid: 'd', namespace: 'team-b' });
    for (const entry of [...mine, otherClass, otherNamespace]) registry.put(entry);

    expect(registry.ofClass('default', 'app-secrets').map(targetOf).sort()).to.deep.equal(mine.map(targetOf).sort());
  });

  it('tells listeners about every put and delete (the new entry, or undefined) until they unsubscribe', () => {
    const heard: [string, RegisteredBinding | undefined][] = [];
    const unsubscribe = registry.onChange((target, entry) => heard.push([target, entry]));
    const entry = anEntry();
    const later = { ...entry, intervalMs: 5000 };

    registry.put(entry);
    registry.put(later);
    registry.delete(targetOf(entry));
    registry.delete(targetOf(entry));
    unsubscribe();
    registry.put(entry);

    expect(heard).to.deep.equal([
      [targetOf(entry), entry],
      [targetOf(entry), later],
      [targetOf(entry), undefined],
    ]);
  });
});

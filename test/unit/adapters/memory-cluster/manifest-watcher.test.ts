import { expect } from 'chai';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { watchManifests } from '../../../../src/adapters/memory-cluster/manifest-watcher.js';
import { ManifestApplier, type ApplyResult } from '../../../../src/adapters/memory-cluster/manifests.js';

const podYaml = (name: string, phase: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  nodeName: node-1\nstatus:\n  phase: ${phase}\n`;

/** Waits for a condition with a deadline, polling briefly; no fixed sleeps. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

describe('watchManifests', () => {
  let dir: string;
  let cluster: InMemoryCluster;
  let applier: ManifestApplier;
  let stop: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'manifest-watch-'));
    cluster = new InMemoryCluster();
    await writeFile(join(dir, 'pod.yaml'), podYaml('web-0', 'Pending'));
    applier = new ManifestApplier(cluster, [dir]);
    await applier.apply();
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const phaseOf = (name: string): string | undefined => cluster.get('Pod', 'default', name)?.status?.phase;

  it('re-applies after a file in a watched directory is edited', async () => {
    const results: ApplyResult[] = [];
    stop = watchManifests(applier, { debounceMs: 20, pollIntervalMs: 200, onApplied: (r) => results.push(r) });
    await writeFile(join(dir, 'pod.yaml'), podYaml('web-0', 'Running'));
    await waitUntil(() => phaseOf('web-0') === 'Running', 'the edit is applied');
    expect(results.at(-1)!.updated).to.deep.equal(['Pod default/web-0']);
  });

  it('picks up files added to and removed from a watched directory', async () => {
    stop = watchManifests(applier, { debounceMs: 20, pollIntervalMs: 200 });
    await writeFile(join(dir, 'more.yaml'), podYaml('web-1', 'Running'));
    await waitUntil(() => phaseOf('web-1') === 'Running', 'the new file is applied');
    await rm(join(dir, 'more.yaml'));
    await waitUntil(() => phaseOf('web-1') === undefined, 'the removed file is pruned');
  });

  it('follows a watched file replaced by an atomic rename, again and again', async () => {
    const file = join(dir, 'pod.yaml');
    const fileApplier = new ManifestApplier(cluster, [file]);
    await fileApplier.apply();
    stop = watchManifests(fileApplier, { debounceMs: 20, pollIntervalMs: 200 });
    for (const phase of ['Running', 'Succeeded']) {
      await writeFile(`${file}.tmp`, podYaml('web-0', phase));
      await rename(`${file}.tmp`, file);
      await waitUntil(() => phaseOf('web-0') === phase, `phase ${phase} is applied`);
    }
  });

  it('notices edits by polling alone when fs.watch is off', async () => {
    stop = watchManifests(applier, { fsWatch: false, debounceMs: 5, pollIntervalMs: 20 });
    await writeFile(join(dir, 'pod.yaml'), podYaml('web-0', 'Failed'));
    await waitUntil(() => phaseOf('web-0') === 'Failed', 'polling applies the edit');
  });

  it('reports errors of an edit and keeps the objects that file applied before', async () => {
    const results: ApplyResult[] = [];
    stop = watchManifests(applier, { debounceMs: 20, pollIntervalMs: 200, onApplied: (r) => results.push(r) });
    await writeFile(join(dir, 'pod.yaml'), 'kind: Nonsense\nmetadata:\n  name: x\n');
    await waitUntil(() => results.some((r) => r.errors.length > 0), 'the broken edit is reported');
    expect(results.at(-1)!.errors[0]!.message).to.include('pod.yaml, document 1');
    expect(phaseOf('web-0')).to.equal('Pending');
  });

  it('stops cleanly: no timers left and no applies after stop', async () => {
    // Mocha arms its own test timer after the test function starts: count from the first tick on.
    await new Promise((resolve) => setImmediate(resolve));
    const timersBefore = activeTimers();
    let applies = 0;
    const stopWatching = watchManifests(applier, { debounceMs: 20, pollIntervalMs: 20, onApplied: () => applies++ });
    await writeFile(join(dir, 'pod.yaml'), podYaml('web-0', 'Running'));
    await stopWatching();
    const appliesAtStop = applies;
    expect(activeTimers()).to.equal(timersBefore);
    await writeFile(join(dir, 'pod.yaml'), podYaml('web-0', 'Unknown'));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(applies).to.equal(appliesAtStop);
    expect(phaseOf('web-0')).not.to.equal('Unknown');
  });
});

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEPLOYED_CSI_DRIVER } from '../../../../src/adapters/kube-objects/pod-feed.js';
import { projectRoot } from '../../../support/project-root.js';

describe('DEPLOYED_CSI_DRIVER', () => {
  it('is what deploy/csidriver.yaml says, for every field kubelet acts on', () => {
    const manifest = parse(readFileSync(join(projectRoot(import.meta.url), 'deploy/csidriver.yaml'), 'utf8')) as { spec: Record<string, unknown> };
    const kubeletFields = ['podInfoOnMount', 'requiresRepublish', 'volumeLifecycleModes', 'tokenRequests', 'fsGroupPolicy'];
    const expected = Object.fromEntries(kubeletFields.filter((field) => field in manifest.spec).map((field) => [field, manifest.spec[field]]));
    expect({ ...DEPLOYED_CSI_DRIVER }).to.deep.equal(expected);
  });
});

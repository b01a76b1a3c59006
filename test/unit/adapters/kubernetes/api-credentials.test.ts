import { expect } from 'chai';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { loadApiCredentials } from '../../../../src/adapters/kubernetes/api-credentials.js';

/** Kubeconfig files as kubectl reads them: current context, the first definition of a name wins, paths relative to the file. */
describe('loadApiCredentials', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sscsi-kubeconfig-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });

  it('reads a JSON kubeconfig: server, bearer token, CA data and skip-verify', async () => {
    const file = join(dir, 'config.json');
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\n').toString('base64');
    await writeFile(file, JSON.stringify(kubeconfig({ token: 'abc' }, { 'certificate-authority-data': ca, 'insecure-skip-tls-verify': true })));
    const credentials = await loadApiCredentials(file, {});
    expect(credentials.server).to.equal('https://10.0.0.1:6443');
    expect(credentials.tls.rejectUnauthorized).to.equal(false);
    expect(credentials.tls.ca?.toString()).to.equal('-----BEGIN CERTIFICATE-----\n');
    expect(await credentials.headers()).to.deep.equal({ Authorization: 'Bearer abc' });
  });

  it('reads a YAML kubeconfig with client certificate files relative to it', async () => {
    await writeFile(join(dir, 'client.crt'), 'CERT');
    await writeFile(join(dir, 'client.key'), 'KEY');
    const file = join(dir, 'config');
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'clusters:',
        '- name: c',
        '  cluster: {server: "https://api.example:443", tls-server-name: api.internal}',
        'users:',
        '- name: u',
        '  user: {client-certificate: client.crt, client-key: client.key}',
        'contexts:',
        '- name: x',
        '  context: {cluster: c, user: u}',
        'current-context: x',
      ].join('\n'),
    );
    const credentials = await loadApiCredentials(file, {});
    expect(credentials.tls.cert?.toString()).to.equal('CERT');
    expect(credentials.tls.key?.toString()).to.equal('KEY');
    expect(credentials.tls.servername).to.equal('api.internal');
    expect(await credentials.headers()).to.deep.equal({});
  });

  it('takes the current context of the first file and the first definition of a name', async () => {
    const first = join(dir, 'a.json');
    const second = join(dir, 'b.json');
    await writeFile(first, JSON.stringify({ ...kubeconfig({ token: 'first' }), clusters: [] }));
    await writeFile(second, JSON.stringify({ ...kubeconfig({ token: 'second' }), 'current-context': 'other' }));
    const credentials = await loadApiCredentials(`${first}${delimiter}${second}`, {});
    expect(credentials.server).to.equal('https://10.0.0.1:6443');
    expect(await credentials.headers()).to.deep.equal({ Authorization: 'Bearer first' });
  });

  it('reads a token file again once it has been rotated', async () => {
    const token = join(dir, 'token');
    await writeFile(token, 'one\n');
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(kubeconfig({ tokenFile: 'token' })));
    const credentials = await loadApiCredentials(file, {});
    expect(await credentials.headers()).to.deep.equal({ Authorization: 'Bearer one' });
    await writeFile(token, 'two\n');
    const later = new Date(Date.now() + 120_000);
    await utimes(token, later, later);
    const realNow = Date.now;
    Date.now = () => realNow() + 120_000;
    try {
      expect(await credentials.headers()).to.deep.equal({ Authorization: 'Bearer two' });
    } finally {
      Date.now = realNow;
    }
  });

  it('sends basic auth and impersonation headers', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, JSON.stringify(kubeconfig({ username: 'admin', password: 'secret', as: 'someone' })));
    expect(await (await loadApiCredentials(file, {})).headers()).to.deep.equal({
      'Impersonate-User': 'someone',
      Authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}`,
    });
  });

  it('hands an exec plugin user to the client library, which runs the plugin for each token', async () => {
    const file = join(dir, 'config.json');
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', 'echo \'{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"from-exec"}}\''] };
    await writeFile(file, JSON.stringify(kubeconfig({ exec })));
    const credentials = await loadApiCredentials(file, {});
    expect(credentials.server).to.equal('https://10.0.0.1:6443');
    expect(await credentials.headers()).to.deep.include({ Authorization: 'Bearer from-exec' });
  });

  const failures = [
    { name: 'no kubeconfig outside a pod', path: '', env: {}, message: /no kubeconfig: pass --kubeconfig .*KUBERNETES_SERVICE_HOST is not set/ },
    { name: 'a kubeconfig without a current context', path: 'empty.json', env: {}, message: /has no current context with a cluster/ },
  ];
  for (const { name, path, env, message } of failures) {
    it(`rejects ${name}`, async () => {
      if (path !== '') await writeFile(join(dir, path), JSON.stringify({ apiVersion: 'v1', kind: 'Config' }));
      const error = await loadApiCredentials(path === '' ? '' : join(dir, path), env).then(
        () => undefined,
        (rejection: Error) => rejection,
      );
      expect(error?.message).to.match(message);
    });
  }
});

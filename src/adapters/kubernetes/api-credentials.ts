import { readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

/** TLS settings of the connection to the API server (node:tls option names). */
export interface ApiTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
}

/**
 * Where the API server is and how the driver proves who it is. `headers` is asked before every
 * request, so a token that is rotated on disk (a projected service-account token) is picked up.
 */
export interface ApiCredentials {
  /** `https://host:port` (a path prefix is kept). */
  readonly server: string;
  readonly tls: ApiTls;
  headers(): Promise<Readonly<Record<string, string>>>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads a token file at most once a minute. */
const TOKEN_FILE_RECHECK_MS = 60_000;

/**
 * The credentials the driver talks with: the kubeconfig file(s) given (`--kubeconfig`, whose default is
 * KUBECONFIG; with several files the first one's current context wins and the first definition of a
 * name wins, as with kubectl), else the pod's in-cluster service account. Bearer tokens, token files,
 * client certificates and basic auth are read here; a user with an `exec` or `auth-provider` plugin, or a
 * cluster behind a `proxy-url`, is handed to @kubernetes/client-node's KubeConfig, loaded only then.
 * Rejects naming what is missing when neither is there.
 */
export async function loadApiCredentials(kubeconfigPath: string, env: NodeJS.ProcessEnv = process.env): Promise<ApiCredentials> {
  const files = kubeconfigPath.split(delimiter).filter((file) => file !== '');
  if (files.length === 0) return inClusterCredentials(env);
  const documents: KubeconfigDocument[] = [];
  for (const file of files) documents.push({ dir: dirname(file), config: await parseKubeconfig(readFileSync(file, 'utf8'), file) });
  const selected = currentContext(documents, kubeconfigPath);
  if (needsClientLibrary(selected)) return delegatedCredentials(await clientLibraryKubeConfig(files));
  return fileCredentials(selected);
}

/**
 * Credentials that ask a @kubernetes/client-node KubeConfig for every request (its authenticators:
 * exec plugins, OIDC, cloud auth providers). The caller keeps the KubeConfig: a change to its
 * current user is seen by the next request.
 */
export function delegatedCredentials(kubeConfig: KubeConfig): ApiCredentials {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current context with a cluster');
  return {
    server: cluster.server,
    tls: tlsOf(kubeConfig),
    async headers() {
      const options: { headers?: Record<string, string>; auth?: string } = {};
      await kubeConfig.applyToHTTPSOptions(options);
      const headers = { ...(options.headers ?? {}) };
      if (options.auth !== undefined) headers['Authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
      return headers;
    },
  };
}

function tlsOf(kubeConfig: KubeConfig): ApiTls {
  const cluster = kubeConfig.getCurrentCluster()!;
  const user = kubeConfig.getCurrentUser();
  return {
    ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
    ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    ...optional('ca', fileOrData(cluster.caFile, cluster.caData)),
    ...optional('cert', fileOrData(user?.certFile, user?.certData)),
    ...optional('key', fileOrData(user?.keyFile, user?.keyData)),
  };
}

function inClusterCredentials(env: NodeJS.ProcessEnv): ApiCredentials {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new Error('no kubeconfig: pass --kubeconfig (or set KUBECONFIG), or run in a pod (KUBERNETES_SERVICE_HOST is not set)');
  const token = tokenFile(join(SERVICE_ACCOUNT_DIR, 'token'));
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    tls: { ca: readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt')) },
    headers: async () => ({ Authorization: `Bearer ${token()}` }),
  };
}

/** The content of a token file, read again when it may have been rotated (at most once a minute, or when its mtime moves). */
function tokenFile(path: string): () => string {
  let token = '';
  let readAt = 0;
  let mtimeMs = -1;
  return () => {
    const now = Date.now();
    if (now - readAt < TOKEN_FILE_RECHECK_MS && token !== '') return token;
    const mtime = statSync(path).mtimeMs;
    if (mtime !== mtimeMs || token === '') {
      token = readFileSync(path, 'utf8').trim();
      mtimeMs = mtime;
    }
    readAt = now;
    return token;
  };
}

type Json = Record<string, unknown>;

interface KubeconfigDocument {
  /** Relative file names in the document are relative to its directory. */
  readonly dir: string;
  readonly config: Json;
}

interface SelectedContext {
  readonly cluster: { readonly dir: string; readonly fields: Json };
  readonly user: { readonly dir: string; readonly fields: Json };
}

/** JSON is read as JSON; only a YAML kubeconfig loads the YAML parser. */
async function parseKubeconfig(text: string, file: string): Promise<Json> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const { parse } = await import('yaml');
    parsed = parse(text);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`kubeconfig "${file}" is not a kubeconfig document`);
  return parsed as Json;
}

function currentContext(documents: readonly KubeconfigDocument[], kubeconfigPath: string): SelectedContext {
  const contextName = documents.map((d) => d.config['current-context']).find((name) => typeof name === 'string' && name !== '') as string | undefined;
  const context = contextName === undefined ? undefined : named(documents, 'contexts', 'context', contextName)?.fields;
  const cluster = typeof context?.['cluster'] === 'string' ? named(documents, 'clusters', 'cluster', context['cluster']) : undefined;
  if (cluster === undefined || typeof cluster.fields['server'] !== 'string') {
    throw new Error(`kubeconfig "${kubeconfigPath}" has no current context with a cluster`);
  }
  const user = typeof context?.['user'] === 'string' ? named(documents, 'users', 'user', context['user']) : undefined;
  return { cluster, user: user ?? { dir: cluster.dir, fields: {} } };
}

/** The first entry of that name in the files' `list`, with its inner object (`cluster`, `user`, `context`). */
function named(documents: readonly KubeconfigDocument[], list: string, inner: string, name: string): { dir: string; fields: Json } | undefined {
  for (const { dir, config } of documents) {
    const entries = config[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as Json[]) {
      if (entry?.['name'] === name && typeof entry[inner] === 'object' && entry[inner] !== null) return { dir, fields: entry[inner] as Json };
    }
  }
  return undefined;
}

function needsClientLibrary({ cluster, user }: SelectedContext): boolean {
  return user.fields['exec'] != null || user.fields['auth-provider'] != null || typeof cluster.fields['proxy-url'] === 'string';
}

async function clientLibraryKubeConfig(files: readonly string[]): Promise<KubeConfig> {
  // The package index loads every generated API model (tens of MiB): take the KubeConfig module alone.
  const { KubeConfig: ClientKubeConfig } = (await import('@kubernetes/client-node/dist/config.js')) as { KubeConfig: new () => KubeConfig };
  const kubeConfig = new ClientKubeConfig();
  for (const [index, file] of files.entries()) {
    if (index === 0) {
      kubeConfig.loadFromFile(file);
      continue;
    }
    const more = new ClientKubeConfig();
    more.loadFromFile(file);
    kubeConfig.mergeConfig(more, true);
  }
  return kubeConfig;
}

function fileCredentials({ cluster, user }: SelectedContext): ApiCredentials {
  const c = cluster.fields;
  const u = user.fields;
  const tls: ApiTls = {
    ...(c['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
    ...(typeof c['tls-server-name'] === 'string' ? { servername: c['tls-server-name'] } : {}),
    ...optional('ca', fileOrData(pathIn(cluster.dir, c['certificate-authority']), text(c['certificate-authority-data']))),
    ...optional('cert', fileOrData(pathIn(user.dir, u['client-certificate']), text(u['client-certificate-data']))),
    ...optional('key', fileOrData(pathIn(user.dir, u['client-key']), text(u['client-key-data']))),
  };
  const fixed: Record<string, string> = {};
  if (typeof u['as'] === 'string') fixed['Impersonate-User'] = u['as'];
  if (typeof u['username'] === 'string') fixed['Authorization'] = `Basic ${Buffer.from(`${u['username']}:${text(u['password']) ?? ''}`).toString('base64')}`;
  const tokenPath = pathIn(user.dir, u['tokenFile']);
  const readToken = typeof u['token'] === 'string' && u['token'] !== '' ? () => u['token'] as string : tokenPath ? tokenFile(tokenPath) : undefined;
  return {
    server: c['server'] as string,
    tls,
    headers: async () => (readToken === undefined ? fixed : { ...fixed, Authorization: `Bearer ${readToken()}` }),
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function pathIn(dir: string, file: unknown): string | undefined {
  const name = text(file);
  return name === undefined ? undefined : isAbsolute(name) ? name : join(dir, name);
}

/** A file's bytes, or base64 data decoded; a file wins, as in client-go. */
function fileOrData(file: string | undefined, base64: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  return base64 ? Buffer.from(base64, 'base64') : undefined;
}

function optional<K extends string>(key: K, value: Buffer | undefined): Partial<Record<K, Buffer>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, Buffer>);
}

import { InvalidListenAddress, parseListenAddress } from '../adapters/http-endpoints/listen-address.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from '../adapters/memory-cluster/object-validation.js';
import type { FlagValue } from './flags.js';

/** A flag value check: undefined when the value is good, else the expected form ("a duration greater than zero"). */
export type FlagCheck = (value: FlagValue) => string | undefined;

export const positive =
  (what: string): FlagCheck =>
  (value) =>
    (value as number) > 0 ? undefined : `${what} greater than zero`;

/** `min` or more ("expected a duration of 0 or more"). */
export const atLeast =
  (min: number, what: string): FlagCheck =>
  (value) =>
    (value as number) >= min ? undefined : `${what} of ${min} or more`;

/** klog's `-v`: a verbosity level, 0 or more (klog reads an int32; the upstream driver refuses a negative one). */
export const verbosity: FlagCheck = (value) =>
  (value as number) >= 0 && (value as number) <= 2_147_483_647 ? undefined : 'a verbosity of 0 or more';

export const between =
  (low: number, high: number, what: string): FlagCheck =>
  (value) =>
    (value as number) >= low && (value as number) <= high ? undefined : `${what} from ${low} to ${high}`;

export const nonEmpty =
  (what: string): FlagCheck =>
  (value) =>
    String(value).trim() === '' ? `${what} (it may not be empty)` : undefined;

export const absolutePath: FlagCheck = (value) => (String(value).startsWith('/') ? undefined : 'an absolute path');

/** One of `choices`; in any case unless `exact` (the upstream driver compares `--metrics-backend` in lower case). */
export const oneOf =
  (choices: readonly string[], match: 'exact' | 'any case' = 'any case'): FlagCheck =>
  (value) =>
    choices.includes(match === 'exact' ? String(value) : String(value).toLowerCase()) ? undefined : choices.join(' or ');

/** `host:port` as Go's net.Listen takes it (`:8095`, `127.0.0.1:0`, `[::1]:9000`); `also` names further accepted values. */
export const listenAddress =
  (also: readonly string[] = []): FlagCheck =>
  (value) => {
    if (also.includes(String(value))) return undefined;
    try {
      parseListenAddress(String(value));
      return undefined;
    } catch (error) {
      if (error instanceof InvalidListenAddress) return `host:port such as :8095 or 127.0.0.1:8095 (${error.message})`;
      throw error;
    }
  };

/** CSI plugin names: at most 63 characters, alphanumerics with `-`, `.` and `_` between (CSI spec, GetPluginInfo). */
export const csiDriverName: FlagCheck = (value) =>
  /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(String(value)) ? undefined : 'a CSI driver name: 1 to 63 letters, digits, "-", "." or "_", starting and ending with a letter or digit';

/**
 * A node name that can also be a label value (the pod status objects carry it in a label): at most 63
 * characters, alphanumerics with `-`, `.` and `_` between. Empty is left to the required-flag check.
 */
export const nodeName: FlagCheck = (value) => {
  const text = String(value);
  if (text.trim() === '') return undefined;
  return /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(text) ? undefined : 'a node name of at most 63 letters, digits, "-", "." or "_", starting and ending with a letter or digit';
};

/** klog's `-stderrthreshold`: a severity name (any case) or a number. */
export const klogSeverity: FlagCheck = (value) =>
  /^(info|warning|error|fatal|[+-]?\d+)$/i.test(String(value)) ? undefined : 'INFO, WARNING, ERROR or FATAL (or a number)';

/** klog's `-vmodule`: comma-separated `pattern=N`. */
export const klogModuleSpec: FlagCheck = (value) =>
  String(value)
    .split(',')
    .filter((part) => part !== '')
    .every((part) => /^[^=]+=[+-]?\d+$/.test(part))
    ? undefined
    : 'a comma-separated list of pattern=N, e.g. csi-server=5';

/** klog's `-log_backtrace_at`: empty, or `file.go:N` with N > 0. */
export const klogTraceLocation: FlagCheck = (value) => {
  const match = /^([^:]*\.[^:]*):\+?(\d+)$/.exec(String(value));
  return String(value) === '' || (match !== null && Number(match[2]) > 0) ? undefined : 'file.go:N with a line number N above zero';
};

/** A unix socket endpoint, `unix:///absolute/path`, whose path fits in sockaddr_un (107 bytes). */
export const unixEndpoint: FlagCheck = (value) => {
  const path = /^unix:\/\/(\/.*[^/])$/.exec(String(value))?.[1];
  // A path ending in "/" names a directory, which the server would refuse only at bind time.
  if (path === undefined) return 'unix:///absolute/path.sock';
  return new TextEncoder().encode(path).length > 107 ? 'a socket path of at most 107 bytes (unix:///absolute/path.sock)' : undefined;
};

/** The path of an endpoint `unixEndpoint` accepts. */
export function socketPathOf(endpoint: string): string {
  return endpoint.slice('unix://'.length);
}

/** A namespace name, as the API server validates it (a DNS label of at most 63 characters). */
export const namespaceName: FlagCheck = (value) =>
  String(value).length <= 63 && DNS_LABEL.test(String(value)) ? undefined : 'a namespace name (lowercase letters, digits and "-", at most 63)';

/** An object name (a lowercase DNS subdomain of at most 253 characters); empty is left to a required-flag check. */
export const objectName =
  (what: string): FlagCheck =>
  (value) =>
    value === '' || (String(value).length <= 253 && DNS_SUBDOMAIN.test(String(value))) ? undefined : `${what} (a lowercase DNS subdomain)`;

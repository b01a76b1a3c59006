/** Where an HTTP endpoint listens. `host` undefined = every interface (IPv6 and IPv4), as Go's `:port`. */
export interface ListenAddress {
  readonly host: string | undefined;
  readonly port: number;
}

/** A `--metrics-addr`/`--health-addr` value that is not `host:port`; the message says what is wrong. */
export class InvalidListenAddress extends Error {
  override readonly name = 'InvalidListenAddress';
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%[A-Za-z0-9_.-]+)?$/;

/**
 * Parses a listen address as Go's `net.Listen("tcp", addr)` accepts it for the upstream flags:
 * `:8095` (all interfaces), `0.0.0.0:8095`, `localhost:8095`, `[::1]:9000`; port 0 asks for any free
 * port. Named ports (`:http`) and unbracketed IPv6 are refused.
 */
export function parseListenAddress(value: string): ListenAddress {
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new InvalidListenAddress('missing port: expected host:port such as :8095 or 127.0.0.1:8095');
  const rawHost = value.slice(0, colon);
  const port = parsePort(value.slice(colon + 1));
  if (rawHost === '') return { host: undefined, port };
  if (rawHost.startsWith('[')) {
    if (!rawHost.endsWith(']')) throw new InvalidListenAddress('missing "]" after the IPv6 address');
    const ipv6 = rawHost.slice(1, -1);
    if (!IPV6.test(ipv6)) throw new InvalidListenAddress(`"${ipv6}" is not an IPv6 address`);
    return { host: ipv6, port };
  }
  if (rawHost.includes(':')) throw new InvalidListenAddress('too many colons: write an IPv6 address in brackets, e.g. [::1]:8095');
  if (!HOSTNAME.test(rawHost)) throw new InvalidListenAddress(`"${rawHost}" is not a host name or IP address`);
  return { host: rawHost, port };
}

/** `host:port` as a URL authority (IPv6 in brackets); all interfaces are shown as `[::]`. */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.host ?? '::';
  return host.includes(':') ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new InvalidListenAddress(text === '' ? 'missing port after ":"' : `port "${text}" is not a number from 0 to 65535`);
  }
  const port = Number(text);
  if (port > 65_535) throw new InvalidListenAddress(`port ${port} is out of range (0-65535)`);
  return port;
}

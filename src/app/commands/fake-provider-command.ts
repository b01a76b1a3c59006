import { startFakeProvider } from '../../adapters/fake-provider/fake-provider-server.js';
import type { CliIo } from '../cli-io.js';
import { atLeast, between, socketPathOf, unixEndpoint } from '../flag-checks.js';
import { parseFlags, usage, type FlagDefinition } from '../flags.js';

export const FAKE_PROVIDER_FLAGS: readonly FlagDefinition[] = [
  {
    name: 'endpoint',
    kind: 'string',
    default: 'unix:///var/run/secrets-store-csi-providers/fake.sock',
    check: unixEndpoint,
    help: 'provider socket to serve (the file name is the provider name)',
  },
  {
    name: 'control-port',
    kind: 'int',
    default: -1,
    check: between(-1, 65_535, 'a port'),
    help: 'serve the control endpoint (rotate, fail) on 127.0.0.1:<port>; 0 = any free port, -1 = off',
  },
  { name: 'latency', kind: 'duration', default: 0, check: atLeast(0, 'a duration'), help: 'answer every Mount after this delay (a slow external store)' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

const SUMMARY = `A provider for tests and demos. Objects are named in the class parameter "objects"
(e.g. "- {name: db-password, path: db/password}"); each starts at version v1 and moves on when rotated
through the control endpoint: POST /rotate {"name": "db-password"}; PUT /failure {"code": "..."}.`;

/** `secrets-store-csi fake-provider --endpoint unix:///dir/fake.sock`: serves until SIGTERM/SIGINT. */
export async function runFakeProviderCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(FAKE_PROVIDER_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('fake-provider', SUMMARY, FAKE_PROVIDER_FLAGS)}\n`);
    return 0;
  }
  const socketPath = socketPathOf(values['endpoint'] as string);
  const port = values['control-port'] as number;
  const provider = await startFakeProvider({ socketPath, ...(port >= 0 ? { controlPort: port } : {}) });
  const latencyMs = values['latency'] as number;
  if (latencyMs > 0) provider.setFailure({ delayMs: latencyMs });
  io.err(`fake provider serving ${socketPath}${provider.controlUrl ? `, control endpoint ${provider.controlUrl}` : ''}\n`);
  await io.stopRequested;
  await provider.stop();
  return 0;
}

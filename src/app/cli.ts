import { isDomainError } from '../domain/errors.js';
import { buildInfo } from './build-info.js';
import type { CliIo } from './cli-io.js';
import { UsageError } from './flags.js';

type Command = (args: readonly string[], io: CliIo) => Promise<number>;

/** Each command's module is loaded only when it runs: `--help` and the simulation start without the Kubernetes client. */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  driver: async () => (await import('./commands/driver-command.js')).runDriverCommand,
  simulate: async () => (await import('./commands/simulate-command.js')).runSimulateCommand,
  'fake-provider': async () => (await import('./commands/fake-provider-command.js')).runFakeProviderCommand,
  restarter: async () => (await import('./commands/restarter-command.js')).runRestarterCommand,
  publish: async () => (await import('./commands/volume-commands.js')).runPublishCommand,
  unpublish: async () => (await import('./commands/volume-commands.js')).runUnpublishCommand,
};

const HELP = `Usage: secrets-store-csi <command> [flags]

Commands:
  driver          the node agent (CSI socket for kubelet, providers, rotation)
  simulate        a local simulation: fake kubelet, in-memory cluster, fake provider, rotation shown live
  fake-provider   a provider that serves secrets from its own store (tests and demos)
  restarter       restarts opted-in workloads when a rotation changes their secrets (one per cluster)
  publish         publish one pod volume over the driver's CSI socket, as kubelet does (for scripts)
  unpublish       unpublish one pod volume, as kubelet does when the pod goes

Run 'secrets-store-csi <command> --help' for the flags of a command.
`;

/** Runs one command; returns the exit code (2 for a bad command line). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-version') {
    io.out(`${JSON.stringify(buildInfo(io.env))}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) {
    io.err(`unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await load())(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`secrets-store-csi ${command}: ${error.message}\nRun 'secrets-store-csi ${command} --help' for usage.\n`);
      return 2;
    }
    io.err(`secrets-store-csi ${command}: ${isDomainError(error) || error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

import { credentials, Server, ServerCredentials, status, type Client, type ServiceDefinition, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { loadCsiProtos } from '../../src/gen/load.js';

/** One thing the recorder saw, in order: a connection opened or closed by the caller, or a call on one. */
export type TimelineEntry =
  | { readonly kind: 'connect' | 'close'; readonly at: number; readonly connection: number }
  | { readonly kind: 'call'; readonly at: number; readonly method: string; readonly request: Record<string, unknown>; readonly code: string };

export type RecordedCall = Extract<TimelineEntry, { kind: 'call' }>;

type Handler = (call: { request: object; getDeadline(): Date | number }, callback: (error: ServiceError | null, response?: object) => void) => void;

/**
 * A CSI socket that records what its caller (kubelet) does and passes every call on to the driver's
 * socket, each over a new connection: a byte-level front socket notes each connection the caller
 * opens and closes, a gRPC server behind it decodes the calls (CSI Identity and Node) and forwards
 * them. The timeline keeps both in order, so it shows which calls came and how they were dialled.
 * Requests are kept as decoded (secrets and tokens included): read them in the test, never print them.
 */
export class CsiRecorder {
  readonly timeline: TimelineEntry[] = [];
  private connections = 0;
  private readonly open = new Set<Socket>();

  private constructor(
    readonly socketPath: string,
    private readonly backendPath: string,
    private readonly front: NetServer,
    private readonly backend: Server,
  ) {}

  /** Listens on `socketPath`, forwarding to the driver at `driverSocket`. */
  static async start(socketPath: string, driverSocket: string): Promise<CsiRecorder> {
    const backendPath = `${socketPath}.grpc`;
    const protos = loadCsiProtos().csi.v1;
    const backend = new Server();
    const front = createServer();
    const recorder = new CsiRecorder(socketPath, backendPath, front, backend);
    for (const Service of [protos.Identity, protos.Node]) {
      const definition = Service.service as ServiceDefinition;
      const implementation: UntypedServiceImplementation = {};
      for (const method of Object.keys(definition)) {
        implementation[method] = recorder.forwarding(method, () => new Service(`unix://${driverSocket}`, credentials.createInsecure()));
      }
      backend.addService(definition, implementation);
    }
    await rm(backendPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      backend.bindAsync(`unix://${backendPath}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
    );
    front.on('connection', (socket) => recorder.relay(socket));
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(socketPath, resolve);
    });
    return recorder;
  }

  calls(method?: string): RecordedCall[] {
    return this.timeline.filter((entry): entry is RecordedCall => entry.kind === 'call' && (method === undefined || entry.method === method));
  }

  async stop(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.front.close(() => resolve()));
    this.backend.forceShutdown();
    await rm(this.socketPath, { force: true });
    await rm(this.backendPath, { force: true });
  }

  private relay(socket: Socket): void {
    const connection = ++this.connections;
    this.open.add(socket);
    this.timeline.push({ kind: 'connect', at: Date.now(), connection });
    const upstream = createConnection(this.backendPath);
    socket.pipe(upstream);
    upstream.pipe(socket);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.open.delete(socket);
      this.timeline.push({ kind: 'close', at: Date.now(), connection });
      socket.destroy();
      upstream.destroy();
    };
    socket.on('close', close);
    socket.on('error', close);
    upstream.on('close', close);
    upstream.on('error', close);
  }

  private forwarding(method: string, connect: () => Client): Handler {
    return (call, callback) => {
      const entry = { kind: 'call' as const, at: Date.now(), method, request: JSON.parse(JSON.stringify(call.request)) as Record<string, unknown>, code: 'PENDING' };
      this.timeline.push(entry);
      const client = connect() as unknown as Record<string, (request: object, options: object, done: (error: ServiceError | null, response?: object) => void) => void>;
      client[method]!.call(client, call.request, { deadline: call.getDeadline() }, (error, response) => {
        (client as unknown as Client).close();
        entry.code = error ? (status[error.code] ?? String(error.code)) : 'OK';
        callback(error, response);
      });
    };
  }
}

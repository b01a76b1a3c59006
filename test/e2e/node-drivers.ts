import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { freePorts } from '../support/control-plane.js';
import type { UpstreamDriverPeer } from '../support/upstream-driver.js';
import { eventually } from '../contract/eventually.js';
import { CliProcess, type Exit } from './processes.js';

/** What a node driver process is given, the same for the upstream driver and this one. */
export interface NodeDriverSetup {
  /** Path of the CSI unix socket to serve. */
  readonly socket: string;
  readonly nodeId: string;
  /** `--provider-volume` (no additional provider paths). */
  readonly providerDir: string;
  readonly kubeconfig: string;
  /** The kubelet root the targets lie under (this driver is told; upstream takes any path). */
  readonly kubeletRoot: string;
  /** `--rotation-poll-interval`, Go syntax; rotation is enabled. */
  readonly rotationPollInterval: string;
  /** More flags, last (a flag given twice takes its last value). */
  readonly extraArgs?: readonly string[];
}

/** A running node driver: the upstream binary or this driver's CLI, serving the CSI socket and /metrics. */
export interface NodeDriver {
  readonly name: string;
  readonly setup: NodeDriverSetup;
  readonly process: CliProcess;
  readonly metricsUrl: string;
  /** Stops it as kubelet stops a container (SIGTERM) and resolves how it exited. */
  stop(): Promise<Exit>;
  dispose(): Promise<void>;
}

/** Arguments both drivers understand the same way (the upstream driver's flags). */
function commonArgs(setup: NodeDriverSetup, metricsPort: number): string[] {
  return [
    `--endpoint=unix://${setup.socket}`,
    `--nodeid=${setup.nodeId}`,
    `--provider-volume=${setup.providerDir}`,
    '--additional-provider-volume-paths=',
    `--kubeconfig=${setup.kubeconfig}`,
    `--metrics-addr=127.0.0.1:${metricsPort}`,
    '--enable-secret-rotation=true',
    `--rotation-poll-interval=${setup.rotationPollInterval}`,
  ];
}

/** The upstream driver, authenticated as the admin of the kubeconfig (its RBAC is upstream's chart's, not ours). */
export async function startUpstreamDriver(peer: UpstreamDriverPeer, setup: NodeDriverSetup): Promise<NodeDriver> {
  const [metricsPort] = await freePorts(1);
  const process = CliProcess.startBinary(peer.binary, [...commonArgs(setup, metricsPort!), '-v=2', ...(setup.extraArgs ?? [])]);
  return started(`upstream v${peer.version}`, setup, process, metricsPort!);
}

/** This driver's CLI (`driver --cluster kubernetes`), told the kubelet root. */
export async function startThisDriver(setup: NodeDriverSetup): Promise<NodeDriver> {
  const [metricsPort] = await freePorts(1);
  const args = ['driver', '--cluster=kubernetes', ...commonArgs(setup, metricsPort!), `--kubelet-root=${setup.kubeletRoot}`, '--health-addr=127.0.0.1:0', ...(setup.extraArgs ?? [])];
  return started('this driver', setup, CliProcess.start(args), metricsPort!);
}

/**
 * Resolves once the driver serves both its CSI socket and /metrics: upstream's metrics server starts with its
 * controller manager, whose caches its NodePublishVolume reads from.
 */
async function started(name: string, setup: NodeDriverSetup, process: CliProcess, metricsPort: number): Promise<NodeDriver> {
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const driver: NodeDriver = {
    name,
    setup,
    process,
    metricsUrl,
    stop: () => process.stop('SIGTERM', 30_000),
    dispose: () => process.dispose(),
  };
  try {
    await eventually(async () => {
      if (!process.running) throw new Error(`${name} exited early:\n${process.stderr}`);
      expect(existsSync(setup.socket), `${name}: no CSI socket yet`).to.equal(true);
      const response = await fetch(metricsUrl);
      expect(response.status, `${name}: /metrics`).to.equal(200);
    }, 60_000, 50);
  } catch (error) {
    await process.dispose();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${name} stderr:\n${process.stderr}`);
  }
  return driver;
}

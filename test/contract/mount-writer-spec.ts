import { expect } from 'chai';
import type { FileSystem } from '../../src/adapters/files/file-system.js';
import { DomainError } from '../../src/domain/errors.js';
import { validatePayload, type SecretFile } from '../../src/domain/secret-payload.js';
import type { MountWriter } from '../../src/ports/mount-writer.js';
import { aFile } from '../support/builders.js';
import type { FaultyFileSystem } from '../support/faulty-file-system.js';

export interface MountWriterFixture {
  readonly writer: MountWriter;
  /** An existing, empty directory (what the volume mounter leaves). */
  readonly target: string;
  /** An existing, empty directory outside the target: links that escape lead here. */
  readonly outside: string;
  /** The file system under the writer, for arranging and inspecting the target. */
  readonly fs: FileSystem;
  /** Faults injected into the writer's file system. */
  readonly faults: FaultyFileSystem;
  /** Whether `process.umask` reaches this file system (false for memfs). */
  readonly honoursUmask: boolean;
  close(): Promise<void>;
}

/**
 * The fixture of the running test plus the inspections the contract makes. The helpers are
 * properties (not methods) so sections can destructure them once.
 */
export class MountWriterSpec {
  private current: MountWriterFixture | undefined;

  use(fixture: MountWriterFixture | undefined): void {
    this.current = fixture;
  }

  get fixture(): MountWriterFixture {
    if (this.current === undefined) throw new Error('no fixture: helpers run only inside a test');
    return this.current;
  }

  get writer(): MountWriter {
    return this.fixture.writer;
  }

  get target(): string {
    return this.fixture.target;
  }

  get fs(): FileSystem {
    return this.fixture.fs;
  }

  /** Sorted entry names of a directory (the target by default). */
  readonly names = async (dir = this.target): Promise<string[]> => (await this.fs.readdir(dir)).map((entry) => entry.name).sort();

  /** Hidden entries of the target other than `..data`. */
  readonly hiddenDirs = async (): Promise<string[]> => (await this.names()).filter((entry) => entry.startsWith('..') && entry !== '..data');

  /** The version directory `..data` names. */
  readonly versionDir = (): Promise<string> => this.fs.readlink(`${this.target}/..data`);

  /** A file's text through its user-visible path. */
  readonly text = async (path: string): Promise<string> => new TextDecoder().decode(await this.fs.readFile(`${this.target}/${path}`));

  readonly modeOf = async (path: string): Promise<number> => (await this.fs.stat(path)).mode & 0o777;

  /** The DomainError a promise rejects with (fails the test when it resolves or throws something else). */
  readonly rejection = async (promise: Promise<unknown>): Promise<DomainError> => {
    const error = await promise.then(() => undefined, (caught: unknown) => caught);
    expect(error, 'expected a rejection').to.be.instanceOf(DomainError);
    return error as DomainError;
  };
}

export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** What `read` returns for a payload: validated (modes defaulted) and sorted by path. */
export const sorted = (files: readonly SecretFile[]): SecretFile[] => validatePayload(files);

/** A payload with a nested tree, every interesting mode and binary content. */
export function richPayload(): SecretFile[] {
  return [
    aFile('config.yaml', 'level: info\n', 0o644),
    aFile('certs/tls.key', 'KEY', 0o400),
    aFile('certs/ca/root.pem', 'ROOT', 0o600),
    aFile('bin/tool', '#!/bin/sh\n', 0o755),
    { path: 'blob', mode: 0o640, contents: new Uint8Array(256).map((_, i) => i) },
  ];
}

export function isValidPayload(files: readonly SecretFile[]): boolean {
  try {
    validatePayload(files);
    return true;
  } catch {
    return false;
  }
}

/** The mtimes of a version dir and everything in it. */
export async function mtimes(fs: FileSystem, target: string, version: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  const visit = async (dir: string, prefix: string): Promise<void> => {
    result[prefix || '.'] = (await fs.lstat(dir)).mtimeMs;
    for (const entry of await fs.readdir(dir)) {
      const path = `${prefix}${prefix ? '/' : ''}${entry.name}`;
      if (entry.isDirectory()) await visit(`${dir}/${entry.name}`, path);
      else result[path] = (await fs.lstat(`${dir}/${entry.name}`)).mtimeMs;
    }
  };
  await visit(`${target}/${version}`, '');
  return result;
}

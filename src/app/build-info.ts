import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  readonly buildDate: string;
}

/**
 * The driver's version from its package.json (found by walking up from this module, so it works from
 * dist/ and the source tree); commit and build date come from the image build's environment.
 */
export function buildInfo(env: Readonly<Record<string, string | undefined>> = process.env): BuildInfo {
  return {
    version: packageVersion(),
    commit: env['BUILD_COMMIT'] ?? 'unknown',
    buildDate: env['BUILD_DATE'] ?? 'unknown',
  };
}

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

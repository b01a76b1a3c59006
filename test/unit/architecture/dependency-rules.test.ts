import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../support/project-root.js';

const run = promisify(execFile);
const root = projectRoot();
const cruiser = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const rules = join(root, '.dependency-cruiser.cjs');

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

/** Runs the project's rules over a throwaway tree; the tree lives inside the project so npm packages resolve. */
async function violationsIn(files: Record<string, string>): Promise<Violation[]> {
  await mkdir(join(root, '.build'), { recursive: true });
  const dir = await mkdtemp(join(root, '.build', 'layer-fixture-'));
  try {
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const { stdout } = await run(process.execPath, [cruiser, 'src', '--config', rules, '--output-type', 'json'], { cwd: dir }).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CLEAN_TREE: Record<string, string> = {
  'src/domain/value.ts': 'export const value = 1;\n',
  'src/ports/port.ts': "import type { value } from '../domain/value.js';\nexport type Port = typeof value;\n",
  'src/application/use-case.ts': "import type { Port } from '../ports/port.js';\nexport const useCase = (p: Port) => p;\n",
  'src/adapters/alpha/adapter.ts': "import { readFileSync } from 'node:fs';\nimport type { Port } from '../../ports/port.js';\nexport const a: Port = 1; export const r = readFileSync;\n",
  'src/app/main.ts': "import { Container } from 'inversify';\nimport { a } from '../adapters/alpha/adapter.js';\nimport { useCase } from '../application/use-case.js';\nexport const c = new Container(); useCase(a);\n",
};

describe('dependency rule (docs/architecture.md)', function () {
  this.timeout(60_000);

  it('accepts a tree whose arrows point inward', async () => {
    expect(await violationsIn(CLEAN_TREE)).to.deep.equal([]);
  });

  const cases: { name: string; file: string; text: string; rule: string }[] = [
    { name: 'the domain importing node:fs', file: 'src/domain/bad.ts', text: "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", rule: 'domain-is-pure' },
    { name: 'the domain importing an npm package', file: 'src/domain/bad.ts', text: "import { parse } from 'yaml';\nexport const p = parse;\n", rule: 'domain-is-pure' },
    { name: 'the domain importing a port', file: 'src/domain/bad.ts', text: "import type { Port } from '../ports/port.js';\nexport type X = Port;\n", rule: 'domain-is-pure' },
    { name: 'a port importing an adapter', file: 'src/ports/bad.ts', text: "import { a } from '../adapters/alpha/adapter.js';\nexport const x = a;\n", rule: 'ports-speak-domain' },
    { name: 'a use case importing an adapter', file: 'src/application/bad.ts', text: "import { a } from '../adapters/alpha/adapter.js';\nexport const x = a;\n", rule: 'application-uses-ports' },
    { name: 'a use case importing inversify', file: 'src/application/bad.ts', text: "import { Container } from 'inversify';\nexport const x = Container;\n", rule: 'application-uses-ports' },
    { name: 'an adapter importing another adapter', file: 'src/adapters/beta/bad.ts', text: "import { a } from '../alpha/adapter.js';\nexport const x = a;\n", rule: 'adapters-stay-apart' },
    { name: 'an adapter importing the composition root', file: 'src/adapters/beta/bad.ts', text: "import { c } from '../../app/main.js';\nexport const x = c;\n", rule: 'adapters-stay-apart' },
    { name: 'an adapter class importing inversify outside a module file', file: 'src/adapters/beta/bad.ts', text: "import { Container } from 'inversify';\nexport const x = Container;\n", rule: 'inversify-only-in-composition-root' },
  ];

  it('reports each deliberate violation under its rule', async () => {
    // One cruise over a tree holding every violation at once (one process instead of one per case).
    const tree: Record<string, string> = { ...CLEAN_TREE };
    cases.forEach((c, i) => (tree[c.file.replace(/bad\.ts$/, `bad${i}.ts`)] = c.text));
    const found = await violationsIn(tree);
    for (const [i, c] of cases.entries()) {
      const from = c.file.replace(/bad\.ts$/, `bad${i}.ts`);
      const hit = found.filter((v) => v.from === from).map((v) => v.rule.name);
      expect(hit, c.name).to.include(c.rule);
    }
  });
});

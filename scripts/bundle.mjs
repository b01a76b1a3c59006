// Bundles the compiled CLI (dist/src/app/main.js) and its npm dependencies into dist/bundle/, the code the
// image runs. A node agent at rest otherwise loads about 550 module files (inversify alone is some 230),
// and every module costs memory of its own (records, resolution, source strings): the bundle starts the
// driver about 10 MiB smaller (README, "Figures of this driver alone"). Dynamic imports stay separate chunks, so a
// command or profile that is not used is still not loaded. koffi stays outside: it loads a native binary
// from its own package directory.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ['dist/src/app/main.js'],
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // The compiled sources' maps are read, so a stack trace can be mapped back to src/ with --enable-source-maps.
  sourcemap: true,
  external: ['koffi'],
  // Some CommonJS dependencies call require() for Node's built-in modules.
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
  logLevel: 'warning',
});

/**
 * bundle-cli — the last step of `npm run build`: replaces tsc's dist/src/cli/main.js with one
 * file holding the CLI and every module it imports (esbuild; commander included, optional
 * native packages such as `cap` and runtime-resolved ones such as `pino` left to Node).
 *
 * Why: `xdpsim replay` is timed as a whole command (bench/replay.ts), and loading ~130 ES modules
 * one by one (resolve, read, compile, link each) cost about 0.2 s of CPU per start on this
 * machine; the single file starts in about 0.25 s less wall time, measured A/B on a 10-frame capture.
 *
 * Everything else in dist/ stays as tsc wrote it (the library entry, the worker entry of
 * `replay --workers`, bench/). Modules that locate files from their own `import.meta.url` (the
 * worker script, the kernel helper binary, createRequire) keep their meaning: each occurrence is
 * rewritten to the URL the module had in dist/ before bundling. Running tsc alone leaves the
 * plain, unbundled main.js, which behaves the same.
 */
import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'src', 'cli', 'main.js');
const workerEntry = join(root, 'dist', 'src', 'cli', 'commands', 'replay-worker.js');
const distSrc = join(root, 'dist', 'src') + sep;

/** keepModuleUrls rewrites `import.meta.url` in each dist module bundled into `entry` to that module's own URL. */
const keepModuleUrls = (entry: string): Plugin => ({
  name: 'xdpsim-module-urls',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(distSrc)) return undefined;
      let text = await readFile(args.path, 'utf8');
      if (text.includes('import.meta.url')) {
        const rel = relative(dirname(entry), args.path).split(sep).join('/');
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'js', resolveDir: dirname(args.path) };
    });
  },
});

const BANNER = "import { createRequire as __xdpsimCreateRequire } from 'node:module'; const require = __xdpsimCreateRequire(import.meta.url);";
for (const e of [entry, workerEntry]) {
  if ((await readFile(e, 'utf8')).includes('__xdpsimCreateRequire')) {
    throw new Error(`bundle-cli: ${e} is already a bundle; run tsc first (npm run build does both)`);
  }
}

/** bundle replaces the tsc output `entry` with one file holding it and every module it imports. */
async function bundle(entry: string): Promise<void> {
  const result = await build({
    entryPoints: [entry],
    outfile: entry,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    keepNames: true,
    sourcemap: 'linked',
    external: ['cap'],
    // CommonJS dependencies bundled into an ES module still call require() for Node built-ins.
    banner: { js: BANNER },
    plugins: [keepModuleUrls(entry)],
    logLevel: 'warning',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs).length;
  process.stdout.write(`bundle-cli: ${relative(root, entry)} from ${inputs} modules\n`);
}

await bundle(entry);
// The worker thread of `replay --workers N` loads the same ~100 modules at its start, on the
// wall clock of the command: bundled like the CLI so that its start-up is one file too.
await bundle(workerEntry);

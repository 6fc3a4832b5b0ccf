/**
 * bundle-cli — the last step of `npm run build`: replaces tsc's dist/src/cli/main.js with one
 * file holding the CLI and every module it imports (esbuild; commander included, optional
 * native packages such as `cap` and runtime-resolved ones such as `pino` left to Node).
 *
 * Why: `xdpsim replay` is timed as a whole command (bench/replay.ts), and loading ~130 ES modules
 * one by one (resolve, read, compile, link each) cost about 0.2 s of CPU per start on this
 * machine; the single file starts in about 0.25 s less wall time, measured A/B on a 10-frame capture.
 *
 * The worker thread of `replay --workers` (commands/replay-worker.js) is bundled the same way:
 * each worker is an isolate of its own that loaded the same ~100 modules one by one (its profile:
 * module compiling and linking ~0.1 s before its first frame, while the main thread sat idle
 * waiting for it at the end). Everything else in dist/ stays as tsc wrote it (the library entry,
 * bench/). Modules that locate files from their own `import.meta.url` (the
 * worker script, the kernel helper binary, createRequire) keep their meaning: each occurrence is
 * rewritten to the URL the module had in dist/ before bundling. Running tsc alone leaves the
 * plain, unbundled main.js, which behaves the same.
 */
import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distSrc = join(root, 'dist', 'src') + sep;
/** ENTRIES: the CLI and the worker thread of `replay --workers` (each thread loads its own copy). */
const ENTRIES = [join(root, 'dist', 'src', 'cli', 'main.js'), join(root, 'dist', 'src', 'cli', 'commands', 'replay-worker.js')];

/** keepModuleUrls rewrites `import.meta.url` in each bundled dist module to that module's own URL, relative to `entry`. */
function keepModuleUrls(entry: string): Plugin {
  return {
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
  };
}

const BANNER = "import { createRequire as __xdpsimCreateRequire } from 'node:module'; const require = __xdpsimCreateRequire(import.meta.url);";
for (const entry of ENTRIES) {
  if ((await readFile(entry, 'utf8')).includes('__xdpsimCreateRequire')) {
    throw new Error(`bundle-cli: ${entry} is already a bundle; run tsc first (npm run build does both)`);
  }
}
// One at a time: the worker entry is read (unbundled) by the first build too, only as a path it
// may reference; each build overwrites only its own entry.
for (const entry of ENTRIES) {
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

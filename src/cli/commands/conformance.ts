/**
 * conformance — `xdpsim conformance DIR [--engine NAME] [--verbose]`: runs every bpf_conformance
 * `.data` file of DIR, prints one line per failure (or per test with --verbose) and closes with
 * `N passed, M failed, K skipped`. Exit code 1 when any test failed.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { validateProgram } from '../../isa/validate.js';
import { runConformanceDir, summaryLine, type Validator } from '../../conformance/runner.js';
import { DEFAULT_ENGINE, engineNames, getEngine } from '../../vm/engines.js';
import { CONFORMANCE_HELPERS } from '../../conformance/helpers.js';

/**
 * conformanceValidator validates like the suite expects: RFC 9669's reserved fields (rfc9669),
 * not the kernel's extra value checks (strict off: the suite shifts by out-of-range immediates
 * and uses callx), registers read before any write (r1 = memory and r2 = its length at entry), and
 * the conformance helper table as the known helpers.
 */
export const conformanceValidator: Validator = (insns, name) =>
  validateProgram(insns, { name, rfc9669: true, regInit: true, entryRegs: [1, 2], knownHelper: (id) => CONFORMANCE_HELPERS.has(id) });

/** registerConformance adds the `conformance` command. */
export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .description('run the bpf_conformance .data tests of DIR')
    .argument('<dir>', 'directory of .data files')
    .option('--engine <name>', `engine to run on (${engineNames().join(', ')})`, DEFAULT_ENGINE)
    .option('-v, --verbose', 'print a line for every test, not only failures')
    .action((dir: string, opts: { engine: string; verbose?: boolean }) => {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        throw new UsageError('E_NOT_A_DIRECTORY', `conformance: ${dir} is not a directory`, { file: dir });
      }
      const engine = getEngine(opts.engine);
      const summary = runConformanceDir(dir, engine, { validate: conformanceValidator });
      for (const o of summary.outcomes) {
        if (o.status === 'fail') process.stdout.write(`FAIL ${o.name}: ${o.detail}\n`);
        else if (opts.verbose === true) process.stdout.write(`${o.status === 'pass' ? 'PASS' : 'SKIP'} ${o.name}: ${o.detail}\n`);
      }
      process.stdout.write(`${summaryLine(summary)}\n`);
      if (summary.failed > 0) process.exitCode = 1;
    });
}

/**
 * yield-between-tests — gives the test worker's event loop a turn after every test.
 *
 * Vitest's runner awaits synchronous tests in microtasks only, so a file of CPU-bound tests
 * (engine-diff, random-diff) never lets the worker read its RPC replies until the file ends. Its
 * RPC calls time out after 60 s ("Timeout calling onTaskUpdate", exit code 1 with every test
 * passing) once such a file runs longer than that, which happens on a loaded machine.
 */
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));

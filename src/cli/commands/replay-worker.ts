/**
 * replay-worker — the entry of one worker thread of `xdpsim replay --workers N` (the coordinator
 * is replay-workers.ts). The worker builds the same datapath as every other thread over the
 * shared memory (its own private slot), applies --preload, says it is ready, and then runs its
 * rx queue's frames (replay-batch.ts): read from the captures itself (runOwnQueue, when the run
 * has no per-frame output) or in batches the coordinator sends (BatchRunner). Worker thread i is
 * rx queue i and CPU i, so the pipeline's own flowQueue picks queue i for every frame it runs.
 * Its Accounting goes to the coordinator at the end. A worker started before the options were
 * parsed (replay-prespawn.ts) gets its WorkerInit as its first message instead of as workerData.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { markWorkersStarted } from '../../maps/shared-types.js';
import { accountingJson, serializeError, type FromWorker, type ToWorker, type WorkerInit } from '../../datapath/workers/protocol.js';
import { buildSharedDatapath } from './replay-workers.js';
import type { Datapath } from '../../datapath/setup.js';
import { BatchRunner, runOwnQueue } from './replay-batch.js';

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(m, transfer);
}

function main(init: WorkerInit): void {
  const port = parentPort;
  if (port === null) return;
  let dp: Datapath;
  let runner: BatchRunner;
  try {
    dp = buildSharedDatapath(init, init.slot);
    runner = new BatchRunner(dp);
  } catch (e) {
    post({ type: 'error', error: serializeError(e) });
    return;
  }
  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'go') {
        runner.flags = m.flags;
        markWorkersStarted(init.backing);
        const own = init.ownQueue;
        if (own !== undefined) {
          // Capture errors end the run here as on every thread; the coordinator reports its own.
          runOwnQueue(dp, runner.acc, own.captures, init.slot, init.workers, own.limit);
          post({ type: 'accounting', acc: accountingJson(runner.acc) });
        }
      } else if (m.type === 'init') {
        throw new Error('replay worker: a second init');
      } else if (m.type === 'finish') {
        post({ type: 'accounting', acc: accountingJson(runner.acc) });
      } else {
        const { done, transfer } = runner.run(m.id, m.buf, m.file);
        post(done, transfer);
      }
    } catch (e) {
      post({ type: 'error', error: serializeError(e) });
    }
  });
  post({ type: 'ready' });
}

const given = workerData as WorkerInit | undefined;
if (given !== undefined) {
  main(given);
} else {
  // Prespawned (replay-prespawn.ts): the modules are loaded; the options come first.
  parentPort?.once('message', (m: ToWorker) => {
    if (m.type === 'init') main(m.init);
    else post({ type: 'error', error: serializeError(new Error(`replay worker: ${m.type} before init`)) });
  });
}

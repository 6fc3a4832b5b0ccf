/**
 * replay-worker — the entry of one worker thread of `xdpsim replay --workers N` (the coordinator
 * is replay-workers.ts). The worker builds the same datapath as every other thread over the
 * shared memory (its own private slot), applies --preload, says it is ready, and then runs the
 * frame batches of its rx queue with a BatchRunner (replay-batch.ts): worker thread i is rx queue
 * i and CPU i, so the pipeline's own flowQueue picks queue i for every frame it gets. Its
 * Accounting goes to the coordinator at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { markWorkersStarted } from '../../maps/shared-types.js';
import { accountingJson, serializeError, type FromWorker, type ToWorker, type WorkerInit } from '../../datapath/workers/protocol.js';
import { buildSharedDatapath } from './replay-workers.js';
import { BatchRunner } from './replay-batch.js';

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(m, transfer);
}

function main(init: WorkerInit): void {
  const port = parentPort;
  if (port === null) return;
  let runner: BatchRunner;
  try {
    runner = new BatchRunner(buildSharedDatapath(init, init.slot));
  } catch (e) {
    post({ type: 'error', error: serializeError(e) });
    return;
  }
  port.on('message', (m: ToWorker) => {
    try {
      if (m.type === 'go') {
        runner.flags = m.flags;
        markWorkersStarted(init.backing);
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

main(workerData as WorkerInit);

/**
 * replay-worker — the entry of one worker thread of `xdpsim replay --workers N` (the coordinator
 * is replay-workers.ts). The worker builds the same datapath as every other thread over the
 * shared memory (its own private slot), applies --preload, says it is ready, and then runs the
 * frame batches it is sent: worker i is rx queue i and CPU i, so the pipeline's own flowQueue
 * picks queue i for every frame it gets. Results go back in the compact form of
 * datapath/workers/protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { workersGate } from '../../maps/shared-types.js';
import { ByteReader, ByteWriter, StringTable, encodeResult, serializeError, type FromWorker, type ToWorker, type WorkerInit } from '../../datapath/workers/protocol.js';
import { buildSharedDatapath } from './replay-workers.js';

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(m, transfer);
}

function main(init: WorkerInit): void {
  const port = parentPort;
  if (port === null) return;
  let dp: ReturnType<typeof buildSharedDatapath>;
  try {
    dp = buildSharedDatapath(init, init.slot);
  } catch (e) {
    post({ type: 'error', error: serializeError(e) });
    return;
  }
  const devs = dp.topology.interfaces;
  const pipeline = dp.pipeline;
  const strings = new StringTable();
  const out = new ByteWriter();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'go') {
      workersGate.started = true;
      return;
    }
    try {
      const rd = new ByteReader(m.buf);
      for (let i = 0; i < rd.count; i++) {
        const pos = rd.u32();
        const dev = devs[rd.u32()];
        const data = rd.bytes();
        encodeResult(out, strings, pos, pipeline.process(data, dev));
      }
      const buf = out.finish();
      post({ type: 'done', id: m.id, buf, strings: strings.take() }, [buf]);
    } catch (e) {
      post({ type: 'error', error: serializeError(e) });
    }
  });
  post({ type: 'ready' });
}

main(workerData as WorkerInit);

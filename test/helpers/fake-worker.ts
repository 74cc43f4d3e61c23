// A stand-in for the training worker in store tests: records what the store sends and lets the test
// play the worker's answers (`emit`). Tests that need real training use src/worker/in-process.ts.
import type { TrainingWorker } from '../../src/ui/store.ts';
import type { FromWorker, ToWorker } from '../../src/worker/protocol.ts';

export class FakeWorker implements TrainingWorker {
  sent: ToWorker[] = [];
  terminated = false;
  onmessage: ((e: MessageEvent<FromWorker>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  postMessage(msg: ToWorker): void {
    this.sent.push(msg);
  }
  terminate(): void {
    this.terminated = true;
  }
  emit(msg: FromWorker): void {
    this.onmessage?.({ data: msg } as MessageEvent<FromWorker>);
  }
}

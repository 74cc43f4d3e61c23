// The playground's training thread: every bit of learning runs here so the page never freezes.
// Fetches the embedded MNIST file, splits it (10 % validation, seeded), builds the HCLT and runs EM
// epochs on the CPU engine, posting what happens back to the page. The protocol is the two message
// unions below (the page's store imports them as types only).
//
// Pausing: a Trainer epoch is one long run of work that never returns to the event loop (the CPU
// engine's shard calls resolve as microtasks), so a "pause" message is only read between epochs:
// training stops after the current epoch. Reset is the page terminating this worker.

import { fetchEmbeddedDataset } from '../data/fetch.ts';
import { splitTrainValid } from '../data/split.ts';
import { CpuEngine } from '../engines/cpu/engine.ts';
import { DEFAULT_TRAIN_CONFIG, Trainer, type EpochEvent } from '../training/trainer.ts';
import { isUserError } from '../util/errors.ts';

/** Fraction of the embedded digits held out to measure validation bpd. */
export const VALID_FRACTION = 0.1;

export interface RunSettings {
  K: number;
  seed: number;
}

export type ToWorker =
  /** Train until `untilEpoch` epochs are done; builds the model first if there is none yet. */
  | { type: 'run'; dataUrl: string; settings: RunSettings; untilEpoch: number }
  /** Stop after the current epoch. */
  | { type: 'pause' };

export type Phase = 'loading' | 'building' | 'training';

export type FromWorker =
  | { type: 'phase'; phase: Phase }
  | { type: 'ready'; backend: string; edges: number; params: number; trainCount: number; validCount: number }
  | { type: 'progress'; epoch: number; done: number; total: number }
  | { type: 'epoch'; event: EpochEvent }
  /** The run loop stopped: `finished` when it reached its target epoch, else paused. */
  | { type: 'stopped'; finished: boolean; epochsDone: number }
  | { type: 'error'; message: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(msg: FromWorker): void {
  scope.postMessage(msg);
}

/** One sentence for the page: a UserError already is one; anything else gets a short prefix. */
function describeError(e: unknown): string {
  const text = isUserError(e) ? e.message : `Training failed: ${e instanceof Error ? e.message : String(e)}`;
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** Lets queued messages (a pause) run before the next epoch starts. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

class TrainingSession {
  private trainer: Trainer | null = null;
  private epochsDone = 0;
  private running = false;
  private pauseRequested = false;

  pause(): void {
    if (this.running) this.pauseRequested = true;
  }

  async run(dataUrl: string, settings: RunSettings, untilEpoch: number): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.pauseRequested = false;
    try {
      const trainer = this.trainer ?? (await this.build(dataUrl, settings));
      post({ type: 'phase', phase: 'training' });
      while (this.epochsDone < untilEpoch && !this.pauseRequested) {
        const epoch = this.epochsDone + 1;
        const event = await trainer.epoch((done, total) => post({ type: 'progress', epoch, done, total }));
        this.epochsDone = epoch;
        post({ type: 'epoch', event });
        await yieldToEventLoop();
      }
      post({ type: 'stopped', finished: this.epochsDone >= untilEpoch, epochsDone: this.epochsDone });
    } catch (e) {
      post({ type: 'error', message: describeError(e) });
    } finally {
      this.running = false;
      this.pauseRequested = false;
    }
  }

  private async build(dataUrl: string, settings: RunSettings): Promise<Trainer> {
    // One thread: this worker is the only one, the CPU engine's extra shards would need more workers.
    const engine = new CpuEngine({ threads: 1, precision: 'float32' });
    post({ type: 'phase', phase: 'loading' });
    const data = await fetchEmbeddedDataset(dataUrl);
    const { train, valid } = splitTrainValid(data, VALID_FRACTION, settings.seed);
    post({ type: 'phase', phase: 'building' });
    await yieldToEventLoop(); // let the page see the phase before the (synchronous) HCLT build
    const config = { ...DEFAULT_TRAIN_CONFIG, K: settings.K, seed: settings.seed };
    const trainer = await Trainer.create(config, engine, train, valid);
    this.trainer = trainer;
    post({
      type: 'ready',
      backend: engine.adapter,
      edges: trainer.edges,
      params: trainer.params,
      trainCount: train.count,
      validCount: valid?.count ?? 0,
    });
    return trainer;
  }
}

const session = new TrainingSession();

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  if (msg.type === 'run') void session.run(msg.dataUrl, msg.settings, msg.untilEpoch);
  else if (msg.type === 'pause') session.pause();
};

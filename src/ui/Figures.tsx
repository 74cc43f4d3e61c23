// The live figures: latest validation bpd, edges, parameters, K (the largest region's, and min /
// median / max over regions after a prune or grow), samples/s, the backend in use and
// its GPU memory, what the run is doing now, and a progress bar for every step that takes more than
// a moment. Figures tests read (data-testid bpd, edges, params, backend) hold plain numbers or names.

import type { ProgressTask } from '../worker/protocol.ts';
import { latestDenseBpd } from './compare.ts';
import { epochsDone, latestValidBpd, usePlayground, type PlaygroundState } from './store.ts';

export function formatBpd(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(4);
}

// Live figures hold plain numbers (no separators): tests and scripts read them back.
function formatInt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : String(Math.round(v));
}

function formatBytes(n: number): string {
  if (n <= 0) return '–';
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Bytes of a file read so far, in MiB with one decimal (the load progress). */
function formatMiB(n: number): string {
  return `${(n / 2 ** 20).toFixed(1)} MiB`;
}

const TASK_TEXT: Record<ProgressTask, string> = {
  load: 'Loading the images',
  build: 'Building the hidden Chow-Liu tree',
  epoch: 'EM epoch',
  validation: 'Measuring validation bpd',
  test: 'Measuring test bpd',
  flows: 'Scoring edges by circuit flow',
  rebuild: 'Rebuilding the circuit',
};

function lastSamplesPerS(s: PlaygroundState): number | null {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i];
    if (e.event === 'epoch') return e.samples_per_s;
  }
  return null;
}

/** "min / median / max" latent states per region after the latest prune or grow; null before any
 *  (every region of the HCLT has K). After a prune some regions lose states, and a grow doubles them. */
function kSpreadText(s: PlaygroundState): string | null {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i];
    if (e.event !== 'epoch') return `${e.k_min} / ${e.k_median} / ${e.k_max}`;
  }
  return null;
}

function statusText(s: PlaygroundState): string {
  if (s.demo) {
    if (!s.model) return 'Loading the demo model…';
    return `Showing the demo model: ${s.demo.description}. Play trains a new model from the settings.`;
  }
  const n = epochsDone(s.events);
  const epochs = `${n} epoch${n === 1 ? '' : 's'}`;
  switch (s.status) {
    case 'idle':
      return 'Press Play to build the model and run the schedule, or Step to go one mini-batch at a time.';
    case 'loading':
      return `Loading data and building the HCLT with K = ${s.settings.K}…`;
    case 'training':
      return s.preview ? `About to prune ${formatInt(s.preview.removed)} edges…` : `Training (${epochs} done)…`;
    case 'stepping':
      return 'Working on one step…';
    case 'pausing':
      return 'Pausing after the current mini-batch…';
    case 'paused':
      return `Paused after ${epochs}. Press Play to continue, or step.`;
    case 'finished':
      return `Schedule done (${epochs}). Raise Epochs or Rounds to go on, or step.`;
    case 'error':
      return 'Training stopped. Press Play to try again, or Reset to start over.';
  }
}

export function Figures() {
  const s = usePlayground((x) => x);
  const valid = latestValidBpd(s.events);
  const sps = lastSamplesPerS(s);
  const progress = s.progress;
  const batch = s.batch;
  const busy = s.status === 'loading' || s.status === 'training' || s.status === 'stepping' || s.status === 'pausing';
  return (
    <section className="panel figures" aria-labelledby="figures-title" aria-busy={busy} data-status={s.status}>
      <h2 id="figures-title" className="visually-hidden">
        Live figures
      </h2>
      <dl className="stats">
        <div>
          <dt>Validation bpd</dt>
          <dd data-testid="bpd">{formatBpd(valid ?? s.demo?.validBpd)}</dd>
        </div>
        {s.testData && (
          <div>
            <dt title={`bpd on the test split (${s.testData.name}), never trained on: measured after every epoch`}>Test bpd</dt>
            <dd data-testid="test-bpd">{formatBpd(s.testBpd)}</dd>
          </div>
        )}
        {s.settings.compare && (
          <div>
            <dt title="The dense HCLT with the same number of sum edges, trained for as many epochs (Compare with dense)">Dense validation bpd</dt>
            <dd data-testid="dense-bpd" data-status={s.dense.status}>
              {formatBpd(latestDenseBpd(s.dense.runs))}
            </dd>
          </div>
        )}
        <div>
          <dt>Edges</dt>
          <dd data-testid="edges">{formatInt(s.model?.edges)}</dd>
        </div>
        <div>
          <dt>Parameters</dt>
          <dd data-testid="params">{formatInt(s.model?.params)}</dd>
        </div>
        <div>
          <dt>K</dt>
          <dd data-testid="k">{formatInt(s.model?.K)}</dd>
        </div>
        <div>
          <dt title="Latent states per region after the latest prune or grow: smallest, median, largest region">K per region (min / median / max)</dt>
          <dd data-testid="k-spread">{kSpreadText(s) ?? (s.model ? `${s.model.K} in every region` : '–')}</dd>
        </div>
        <div>
          <dt>Samples/s</dt>
          <dd data-testid="samples-per-s">{formatInt(sps)}</dd>
        </div>
        <div className="wide">
          <dt>Backend</dt>
          <dd data-testid="backend">{s.model?.backend ?? '–'}</dd>
        </div>
        {s.model?.engine === 'gpu' && (
          <div>
            <dt>GPU memory</dt>
            <dd data-testid="gpu-memory">{formatBytes(s.model.gpuBytes)}</dd>
          </div>
        )}
        {s.model && (
          <div>
            <dt title="The decoded training, validation and test images the training worker holds, one byte per pixel. On WebGPU, GPU memory counts the engine's buffers, a copy of the training images among them.">
              Images in memory
            </dt>
            <dd data-testid="data-memory">{formatBytes(s.model.dataBytes)}</dd>
          </div>
        )}
      </dl>
      <p className="status" aria-live="polite" data-testid="status">
        {statusText(s)}
      </p>
      {(busy || s.status === 'paused') && batch && (
        <div className="progress">
          <progress aria-label="Epoch progress" max={batch.total} value={batch.done} />
          <span>
            Epoch {batch.epoch}: {formatInt(batch.done)} / {formatInt(batch.total)} images, train bpd so far{' '}
            <span data-testid="batch-train-bpd">{formatBpd(batch.trainBpd)}</span>
          </span>
        </div>
      )}
      {/* A test split is read and measured beside a paused model too. */}
      {(busy || progress?.task === 'load' || progress?.task === 'test') && progress && progress.task !== 'epoch' && (
        <div className="progress">
          <progress
            aria-label={TASK_TEXT[progress.task]}
            max={progress.total > 0 ? progress.total : undefined}
            value={progress.total > 0 ? progress.done : undefined}
          />
          <span>
            {TASK_TEXT[progress.task]}
            {progress.task === 'load' && progress.total > 1
              ? `: ${formatMiB(progress.done)} / ${formatMiB(progress.total)} read`
              : progress.task === 'build' && progress.total > 1
                ? `: ${Math.floor((100 * progress.done) / progress.total)} % of the pixel pairs`
                : progress.total > 0
                  ? `: ${formatInt(progress.done)} / ${formatInt(progress.total)}`
                  : '…'}
          </span>
        </div>
      )}
    </section>
  );
}

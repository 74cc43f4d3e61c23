// The playground page: settings, Play / Pause / Reset, live figures, the current epoch's progress and
// the table of finished epochs. Everything it shows comes from the store; all training happens in the
// worker the store drives, so nothing here blocks the page.

import { useEffect, useId, useState, type ReactNode } from 'react';
import { ACTIONS, actionForKey, ariaShortcuts, type Action } from './actions.ts';
import { SETTING_LIMITS, usePlayground, usePlaygroundStore, type Settings, type Status } from './store.ts';

const intFormat = new Intl.NumberFormat('en-US');

function formatBpd(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(4);
}

// Live figures hold plain numbers (no separators): tests and scripts read them back.
function formatInt(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : String(v);
}

export function App() {
  return (
    <main className="page">
      <header>
        <h1>Sparse PC Playground</h1>
        <p className="lede">
          A <strong>probabilistic circuit</strong> is a model whose likelihood you can compute exactly. This page builds one for
          handwritten digits, a <em>hidden Chow-Liu tree</em> (HCLT) over the 784 pixels of 10,000 MNIST images with <em>K</em> hidden
          states per pixel, and fits its parameters with expectation-maximisation (EM), right here in your browser.
        </p>
        <p className="lede">
          Quality is measured in <strong>bits per dimension</strong> (bpd) on 10 % of the images held out for validation: the average number
          of bits the model needs to encode one pixel. Lower is better.
        </p>
      </header>
      <div className="layout">
        <Controls />
        <Figures />
      </div>
      <EpochTable />
    </main>
  );
}

function Controls() {
  const settings = usePlayground((s) => s.settings);
  const hasModel = usePlayground((s) => s.model !== null);
  const setSetting = usePlayground((s) => s.setSetting);
  useActionShortcuts();
  const field = (key: keyof Settings, label: string, hint: ReactNode, locked: boolean) => (
    <NumberField
      label={label}
      hint={hint}
      value={settings[key]}
      min={SETTING_LIMITS[key].min}
      max={SETTING_LIMITS[key].max}
      disabled={locked}
      onCommit={(v) => setSetting(key, v)}
    />
  );

  return (
    <section className="panel controls" aria-labelledby="controls-title">
      <h2 id="controls-title">Model and training</h2>
      {field('K', 'K (hidden states)', hasModel ? 'Fixed until Reset.' : 'More states: better bpd, slower epochs.', hasModel)}
      {field('epochs', 'Epochs', 'Total EM epochs; raise it to continue after they finish.', false)}
      {field('seed', 'Seed', hasModel ? 'Fixed until Reset.' : 'Same seed, same split and model.', hasModel)}
      <div className="buttons">
        {ACTIONS.map((a) => (
          <ActionButton key={a.id} action={a} primary={a.id === 'play'} />
        ))}
      </div>
      <p className="note">
        Pause stops training after the current epoch finishes; Reset stops at once and discards the model.
        Keys: {ACTIONS.map((a) => `${a.label} ${a.shortcutLabel}`).join(', ')}.
      </p>
    </section>
  );
}

/** A button drawn from the action registry: its label, enabled rule and shortcut live there. */
function ActionButton({ action, primary }: { action: Action; primary: boolean }) {
  const enabled = usePlayground((s) => action.enabled(s));
  const store = usePlaygroundStore();
  return (
    <button
      type="button"
      className={primary ? 'primary' : undefined}
      onClick={() => action.run(store.getState())}
      disabled={!enabled}
      aria-keyshortcuts={ariaShortcuts(action)}
      title={`${action.label} (${action.shortcutLabel})`}
    >
      {action.label}
    </button>
  );
}

/** Keyboard shortcuts from the registry, anywhere on the page except while typing in a field. */
function useActionShortcuts(): void {
  const store = usePlaygroundStore();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(t.tagName))) return;
      const action = actionForKey(e.key, store.getState());
      if (!action) return;
      e.preventDefault();
      action.run(store.getState());
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store]);
}

interface NumberFieldProps {
  label: string;
  hint: ReactNode;
  value: number;
  min: number;
  max: number;
  disabled: boolean;
  onCommit: (value: number) => void;
}

/** An integer input that keeps the text being typed and commits it to the store once it is valid. */
function NumberField({ label, hint, value, min, max, disabled, onCommit }: NumberFieldProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? String(value);
  const parsed = Number(text);
  const valid = text.trim() !== '' && Number.isInteger(parsed) && parsed >= min && parsed <= max;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={min}
        max={max}
        step={1}
        value={text}
        disabled={disabled}
        aria-invalid={!valid}
        aria-describedby={`${id}-hint`}
        onChange={(e) => {
          const next = e.target.value;
          setDraft(next);
          const n = Number(next);
          if (next.trim() !== '' && Number.isInteger(n) && n >= min && n <= max) onCommit(n);
        }}
        onBlur={() => setDraft(null)}
      />
      <small id={`${id}-hint`}>
        {valid ? hint : `Enter a whole number from ${intFormat.format(min)} to ${intFormat.format(max)}.`}
      </small>
    </div>
  );
}

function statusText(status: Status, epochsDone: number, target: number, K: number): string {
  switch (status) {
    case 'idle':
      return 'Press Play to build the model and start training.';
    case 'loading':
      return 'Loading the 10,000 embedded MNIST digits…';
    case 'building':
      return `Building the HCLT with K = ${K} (a few seconds)…`;
    case 'training':
      return `Training epoch ${epochsDone + 1} of ${target}…`;
    case 'pausing':
      return 'Pausing after the current epoch…';
    case 'paused':
      return `Paused after ${epochsDone} epoch${epochsDone === 1 ? '' : 's'}. Press Play to continue.`;
    case 'finished':
      return `Trained ${epochsDone} epoch${epochsDone === 1 ? '' : 's'}. Raise Epochs and press Play to train further.`;
    case 'error':
      return 'Training stopped. Press Play to try again, or Reset to start over.';
  }
}

function Figures() {
  const status = usePlayground((s) => s.status);
  const model = usePlayground((s) => s.model);
  const rows = usePlayground((s) => s.epochs);
  const progress = usePlayground((s) => s.progress);
  const target = usePlayground((s) => s.settings.epochs);
  const K = usePlayground((s) => s.settings.K);
  const error = usePlayground((s) => s.error);
  const last = rows.length > 0 ? rows[rows.length - 1] : null;
  const showProgress = status === 'building' || status === 'training' || status === 'pausing';
  // The bar shows the epoch being trained; while the HCLT is built (or between epochs) it is indeterminate.
  const epochInFlight = progress !== null && progress.epoch > rows.length;

  return (
    <section className="panel figures" aria-labelledby="figures-title">
      <h2 id="figures-title">Live figures</h2>
      <dl className="stats">
        <div>
          <dt>Validation bpd</dt>
          <dd data-testid="bpd">{formatBpd(last?.validBpd)}</dd>
        </div>
        <div>
          <dt>Edges</dt>
          <dd data-testid="edges">{formatInt(last?.edges ?? model?.edges)}</dd>
        </div>
        <div>
          <dt>Parameters</dt>
          <dd data-testid="params">{formatInt(last?.params ?? model?.params)}</dd>
        </div>
        <div className="wide">
          <dt>Backend</dt>
          <dd data-testid="backend">{model?.backend ?? '–'}</dd>
        </div>
      </dl>
      <p className="status" aria-live="polite">
        {statusText(status, rows.length, target, K)}
      </p>
      {showProgress && (
        <div className="progress">
          <progress
            aria-label="Current epoch progress"
            max={epochInFlight ? progress.total : undefined}
            value={epochInFlight ? progress.done : undefined}
          />
          <span>
            {epochInFlight
              ? `Epoch ${progress.epoch}: ${formatInt(progress.done)} / ${formatInt(progress.total)} images`
              : status === 'building'
                ? 'Building the circuit'
                : 'Measuring validation bpd'}
          </span>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function EpochTable() {
  const rows = usePlayground((s) => s.epochs);
  const model = usePlayground((s) => s.model);
  return (
    <section className="panel" aria-labelledby="epochs-title">
      <h2 id="epochs-title">Epochs</h2>
      {model && (
        <p className="note">
          {formatInt(model.trainCount)} training and {formatInt(model.validCount)} validation images.
        </p>
      )}
      {rows.length === 0 ? (
        <p className="note">No epochs yet.</p>
      ) : (
        <table className="epochs">
          <thead>
            <tr>
              <th scope="col">Epoch</th>
              <th scope="col">Train bpd</th>
              <th scope="col">Valid bpd</th>
              <th scope="col">Seconds</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.epoch} data-testid="epoch-row">
                <th scope="row">{r.epoch}</th>
                <td data-testid="train-bpd">{formatBpd(r.trainBpd)}</td>
                <td data-testid="valid-bpd">{formatBpd(r.validBpd)}</td>
                <td>{r.seconds.toFixed(1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

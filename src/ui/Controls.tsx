// The settings panel: data (embedded digits or the visitor's IDX file), model and schedule
// hyper-parameters (the URL-state schema gives every field its range), engine and speed, the action
// buttons from the registry, and model / curve files. Settings that shape the model are locked while
// one exists (Reset unlocks them).

import { useEffect, useId, useState, type ReactNode } from 'react';
import { PRUNE_CRITERIA, type PruneCriterion } from '../circuit/prune.ts';
import { ACTIONS, actionForKey, ariaShortcuts, type Action, type ActionState } from './actions.ts';
import { SPEEDS, type EnginePreference, type Speed } from '../worker/protocol.ts';
import { chooseDataFile } from './data-files.ts';
import { isValidSetting, MODEL_SETTINGS, modelLocked, usePlayground, usePlaygroundStore, type PlaygroundStore } from './store.ts';
import { URL_FIELDS, type NumberField as NumberFieldSpec } from './url-state.ts';

type NumericKey = 'K' | 'seed' | 'batch' | 'step' | 'pseudocount' | 'epochs' | 'roundEpochs' | 'rounds' | 'prune' | 'sigma' | 'validFrac' | 'images';

const HINTS: Record<NumericKey, string> = {
  K: 'Hidden states per pixel. More: better bpd, slower epochs.',
  seed: 'Same seed, same split, model and run.',
  validFrac: 'Share of the images held out to measure bpd.',
  images: 'Use only the first N images (0: all). Fewer: faster epochs.',
  batch: 'Images per EM step.',
  step: 'How far each EM step moves the parameters (0 to 1).',
  pseudocount: 'Smoothing added to every count.',
  epochs: 'EM epochs on the first HCLT.',
  rounds: 'Rounds of prune, grow and EM after that.',
  roundEpochs: 'EM epochs after each prune and grow.',
  prune: 'Fraction of sum edges each prune removes.',
  sigma: 'Noise on the copied weights when nodes split.',
};

function spec(key: NumericKey): NumberFieldSpec {
  return URL_FIELDS.find((f) => f.prop === key) as NumberFieldSpec;
}

/** The store's actions plus the page's Share, as the registry expects them. */
export function actionState(store: PlaygroundStore, share: () => void): ActionState {
  return { ...store.getState(), share };
}

export function Controls({
  onShare,
  onExportModel,
  onImportModel,
  onExportCsv,
  onExportPng,
}: {
  onShare(): void;
  onExportModel(format: 'spc' | 'jpc'): void;
  onImportModel(file: File): void;
  onExportCsv(): void;
  onExportPng(): void;
}) {
  const settings = usePlayground((s) => s.settings);
  const hasModel = usePlayground((s) => s.model !== null);
  // The demo model fixes no setting: Play trains a new model from them.
  const modelFixed = usePlayground(modelLocked);
  const setSetting = usePlayground((s) => s.setSetting);
  const hasEvents = usePlayground((s) => s.events.length > 0);
  useActionShortcuts(onShare);
  const field = (key: NumericKey, label: string) => {
    const f = spec(key);
    const locked = modelFixed && MODEL_SETTINGS.has(key);
    return (
      <NumberInput
        key={key}
        label={label}
        hint={locked ? 'Fixed until Reset.' : HINTS[key]}
        value={settings[key]}
        spec={f}
        disabled={locked}
        onCommit={(v) => setSetting(key, v)}
      />
    );
  };

  return (
    <section className="panel controls" aria-labelledby="controls-title">
      <h2 id="controls-title">Model and training</h2>
      <div className="buttons" role="group" aria-label="Training actions">
        {ACTIONS.map((a) => (
          <ActionButton key={a.id} action={a} primary={a.id === 'play'} onShare={onShare} />
        ))}
      </div>
      <SpeedAndEngine />
      <DataPicker />
      <fieldset>
        <legend>Model</legend>
        {field('K', 'K (hidden states)')}
        {field('seed', 'Seed')}
        {field('validFrac', 'Validation fraction')}
        {field('images', 'Images used')}
      </fieldset>
      <fieldset>
        <legend>EM</legend>
        {field('batch', 'Batch size')}
        {field('step', 'Step size')}
        {field('pseudocount', 'Pseudocount')}
        {field('epochs', 'Initial epochs')}
      </fieldset>
      <fieldset>
        <legend>Prune and grow</legend>
        {field('rounds', 'Rounds')}
        {field('roundEpochs', 'Epochs per round')}
        {field('prune', 'Prune fraction')}
        <SelectField
          label="Prune criterion"
          value={settings.criterion}
          options={PRUNE_CRITERIA.map((c) => ({ value: c, label: c === 'flow' ? 'flow (the paper’s)' : c }))}
          onChange={(v) => setSetting('criterion', v as PruneCriterion)}
          hint="Which edges go first: least circuit flow, smallest weight, or at random."
        />
        {field('sigma', 'Growth noise (sigma)')}
        <CompareSwitch />
      </fieldset>
      <fieldset>
        <legend>Files</legend>
        <div className="buttons wrap">
          <button type="button" disabled={!hasModel} onClick={() => onExportModel('spc')}>
            Export model (.spc)
          </button>
          <button type="button" disabled={!hasModel} onClick={() => onExportModel('jpc')}>
            Export Juice.jl (.jpc)
          </button>
          <FileButton label="Import model" accept=".spc,.jpc" onFile={onImportModel} />
          <button type="button" disabled={!hasEvents} onClick={onExportCsv}>
            Export curves (CSV)
          </button>
          <button type="button" onClick={onExportPng}>
            Save view (PNG)
          </button>
        </div>
      </fieldset>
      <p className="note">Keys: {ACTIONS.map((a) => `${a.label} ${a.shortcutLabel}`).join(', ')}.</p>
    </section>
  );
}

/** "Compare with dense": a second worker trains the dense HCLT with the same sum edges after each round. */
function CompareSwitch() {
  const on = usePlayground((s) => s.settings.compare);
  const setSetting = usePlayground((s) => s.setSetting);
  return (
    <label
      className="check"
      title="After each round, a second worker trains the dense HCLT with the nearest number of sum edges for as many epochs, on the same split and seed."
    >
      <input type="checkbox" data-testid="compare" checked={on} onChange={(e) => setSetting('compare', e.currentTarget.checked)} />
      Compare with dense (same sum edges)
    </label>
  );
}

function SpeedAndEngine() {
  const speed = usePlayground((s) => s.speed);
  const engine = usePlayground((s) => s.engine);
  const gpu = usePlayground((s) => s.gpu);
  const hasModel = usePlayground(modelLocked);
  const setSpeed = usePlayground((s) => s.setSpeed);
  const setEngine = usePlayground((s) => s.setEngine);
  return (
    <div className="row">
      <SelectField
        label="Speed"
        value={speed}
        options={SPEEDS.map((s) => ({ value: s, label: s }))}
        onChange={(v) => setSpeed(v as Speed)}
        hint="Slow trains one mini-batch at a time; results are the same."
      />
      <SelectField
        label="Engine"
        value={engine}
        disabled={hasModel}
        options={[
          { value: 'auto', label: gpu?.kind === 'available' ? 'WebGPU (auto)' : 'auto' },
          { value: 'cpu', label: 'CPU' },
        ]}
        onChange={(v) => setEngine(v as EnginePreference)}
        hint={hasModel ? 'Fixed until Reset.' : 'WebGPU when available, else the CPU.'}
      />
    </div>
  );
}

/** The embedded digits, or an IDX images file the visitor picks or drops anywhere on the page. */
function DataPicker() {
  const store = usePlaygroundStore();
  const userData = usePlayground((s) => s.userData);
  const testData = usePlayground((s) => s.testData);
  const testSplit = usePlayground((s) => s.testSplit);
  const images = usePlayground((s) => s.settings.images);
  const model = usePlayground((s) => s.model);
  const hasModel = usePlayground(modelLocked);
  const setUserData = usePlayground((s) => s.setUserData);
  const setTestData = usePlayground((s) => s.setTestData);
  return (
    <fieldset>
      <legend>Data</legend>
      <p className="note data-name" data-testid="dataset">
        {userData
          ? userData.name
          : images > 0 && images < 10_000
            ? `The first ${images.toLocaleString('en-US')} embedded MNIST digits`
            : '10,000 embedded MNIST digits'}
        {userData && images > 0 ? ` (first ${images.toLocaleString('en-US')} images)` : ''}
      </p>
      {model && (
        <p className="note" data-testid="data-counts">
          {model.trainCount} training and {model.validCount} validation images{testSplit ? `, ${testSplit.count} test images` : ''}.
        </p>
      )}
      {testData && (
        <p className="note" data-testid="test-split">
          Test split: {testData.name}. Never trained on; its bpd is measured after every epoch.
        </p>
      )}
      <div className="buttons wrap">
        <FileButton
          label="Use an IDX file"
          accept=".gz,.idx3-ubyte,.ubyte,application/octet-stream,application/gzip"
          onFile={(f) => void chooseDataFile(store, f, 'train')}
          disabled={hasModel}
        />
        {userData && (
          <button type="button" onClick={() => setUserData(null)} disabled={hasModel}>
            Use embedded digits
          </button>
        )}
        <FileButton
          label="Test split"
          accept="application/gzip,application/octet-stream,.gz,.idx3-ubyte,.ubyte"
          onFile={(f) => void chooseDataFile(store, f, 'test')}
        />
        {testData && (
          <button type="button" onClick={() => setTestData(null)}>
            No test split
          </button>
        )}
      </div>
      <small className="note">
        {hasModel
          ? 'Reset to change the training data; a test split can be added any time.'
          : 'Or drop IDX images files (raw or .gz, e.g. Fashion-MNIST’s) on the page.'}{' '}
        A file named t10k-… or …test… becomes the test split. Files stay on your machine.
      </small>
    </fieldset>
  );
}

function FileButton({ label, accept, onFile, disabled }: { label: string; accept: string; onFile(f: File): void; disabled?: boolean }) {
  const id = useId();
  return (
    <span className="file-button">
      <input
        id={id}
        type="file"
        accept={accept}
        className="visually-hidden"
        disabled={disabled}
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (f) onFile(f);
        }}
      />
      <label htmlFor={id} className={`button-like${disabled ? ' disabled' : ''}`}>
        {label}
      </label>
    </span>
  );
}

/** A button drawn from the action registry: its label, enabled rule and shortcut live there. */
function ActionButton({ action, primary, onShare }: { action: Action; primary: boolean; onShare(): void }) {
  const store = usePlaygroundStore();
  const enabled = usePlayground((s) => action.enabled({ ...s, share: onShare }));
  return (
    <button
      type="button"
      className={primary ? 'primary' : undefined}
      onClick={() => action.run(actionState(store, onShare))}
      disabled={!enabled}
      aria-keyshortcuts={ariaShortcuts(action)}
      title={`${action.description} (${action.shortcutLabel})`}
    >
      {action.label}
    </button>
  );
}

/** Keyboard shortcuts from the registry, anywhere on the page except while typing in a field. */
function useActionShortcuts(onShare: () => void): void {
  const store = usePlaygroundStore();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON', 'CANVAS'].includes(t.tagName))) return;
      const s = actionState(store, onShare);
      const action = actionForKey(e.key, s);
      if (!action) return;
      e.preventDefault();
      action.run(s);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store, onShare]);
}

function SelectField({
  label,
  value,
  options,
  onChange,
  hint,
  disabled,
}: {
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange(v: string): void;
  hint: ReactNode;
  disabled?: boolean;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)} aria-describedby={`${id}-hint`}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <small id={`${id}-hint`}>{hint}</small>
    </div>
  );
}

/** A number input that keeps the text being typed and commits it to the store once it is valid. */
function NumberInput({
  label,
  hint,
  value,
  spec,
  disabled,
  onCommit,
}: {
  label: string;
  hint: ReactNode;
  value: number;
  spec: NumberFieldSpec;
  disabled: boolean;
  onCommit(value: number): void;
}) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const text = draft ?? String(value);
  const valid = isValidNumber(text, spec);
  const range = spec.minExclusive ? `above ${spec.min} and at most ${spec.max}` : `from ${spec.min} to ${spec.max}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode={spec.kind === 'int' ? 'numeric' : 'decimal'}
        min={spec.min}
        max={spec.max}
        step={spec.kind === 'int' ? 1 : 'any'}
        value={text}
        disabled={disabled}
        aria-invalid={!valid}
        aria-describedby={`${id}-hint`}
        onChange={(e) => {
          const next = e.target.value;
          setDraft(next);
          if (isValidNumber(next, spec)) onCommit(Number(next));
        }}
        onBlur={() => setDraft(null)}
      />
      <small id={`${id}-hint`}>{valid ? hint : `Enter ${spec.kind === 'int' ? 'a whole number' : 'a number'} ${range}.`}</small>
    </div>
  );
}

/** Whether the typed text is a valid value of the field (the store's rule: the URL schema's ranges). */
function isValidNumber(text: string, spec: NumberFieldSpec): boolean {
  return text.trim() !== '' && isValidSetting(spec.prop, Number(text));
}

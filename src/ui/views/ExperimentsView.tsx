// The Experiments view: runs the prune-curve experiment at a small size live, in its own Web Worker
// (src/worker/experiment-worker.ts, CPU engine, one thread), and draws the same chart as the CLI's
// docs/results/prune-curve.svg: both come from src/experiments/plot.ts (plot model -> layout with d3
// scales and paths); this file only turns the layout into JSX. Props only: where the embedded digits
// are, and (for tests) how to make the worker.

import { useEffect, useId, useRef, useState } from 'react';
import { describeLiveSize, LIVE_SIZES, type FromExperimentWorker, type LiveSize, type ToExperimentWorker } from '../../experiments/live.ts';
import { layoutFigure, subtitleY, type FigureLayout } from '../../experiments/plot.ts';
import { pruneCurveFigure, randomMeans, type PruneCurveResult } from '../../experiments/prune-curve.ts';
import type { ExperimentProgress } from '../../experiments/types.ts';
import { useElementSize } from './canvas-hooks.ts';
import './experiments.css';

export interface ExperimentsViewProps {
  /** URL of the embedded digits (src/data/fetch.ts's embeddedDataUrl(document.baseURI)). */
  dataUrl: string;
  /** Makes the worker; the default is the module worker Vite bundles from this file. */
  spawnWorker?: () => Worker;
  /** Size selected at first (default 'tiny'). */
  initialSize?: LiveSize;
}

const defaultSpawn = (): Worker => new Worker(new URL('../../worker/experiment-worker.ts', import.meta.url), { type: 'module' });

// Measured in Node on one thread of the development machine: tiny 3 s, small 17 s (browsers are similar).
const SIZE_NAMES: Record<LiveSize, string> = { tiny: 'Tiny (a few seconds)', live: 'Small (about 20 seconds)' };

type RunState =
  | { kind: 'idle' }
  | { kind: 'running'; progress: ExperimentProgress | null; started: number }
  | { kind: 'done'; result: PruneCurveResult; seconds: number }
  | { kind: 'error'; message: string };

export function ExperimentsView({ dataUrl, spawnWorker = defaultSpawn, initialSize = 'tiny' }: ExperimentsViewProps) {
  const [size, setSize] = useState<LiveSize>(initialSize);
  const [state, setState] = useState<RunState>({ kind: 'idle' });
  const [last, setLast] = useState<{ result: PruneCurveResult; seconds: number } | null>(null);
  const workerRef = useRef<Worker | null>(null);
  const headingId = useId();
  const sizeName = useId();

  // A worker left running when the view goes away would keep a core busy for nothing.
  useEffect(() => () => workerRef.current?.terminate(), []);

  const stop = (): void => {
    workerRef.current?.terminate();
    workerRef.current = null;
  };

  const run = (): void => {
    stop();
    const worker = spawnWorker();
    workerRef.current = worker;
    const started = performance.now();
    setState({ kind: 'running', progress: null, started });
    worker.onmessage = (e: MessageEvent<FromExperimentWorker>) => {
      const m = e.data;
      if (workerRef.current !== worker) return;
      if (m.type === 'progress') setState({ kind: 'running', progress: m.progress, started });
      else if (m.type === 'result') {
        const done = { result: m.result, seconds: (performance.now() - started) / 1000 };
        setLast(done);
        setState({ kind: 'done', ...done });
        stop();
      } else {
        setState({ kind: 'error', message: m.message });
        stop();
      }
    };
    worker.onerror = (e) => {
      if (workerRef.current !== worker) return;
      setState({ kind: 'error', message: `The experiment worker stopped: ${e.message || 'it could not be started'}.` });
      stop();
    };
    const msg: ToExperimentWorker = { type: 'run', dataUrl, size, seed: 1 };
    worker.postMessage(msg);
  };

  const cancel = (): void => {
    stop();
    setState({ kind: 'idle' });
  };

  const running = state.kind === 'running';
  const p = running ? state.progress : null;
  return (
    <section className="exv" aria-labelledby={headingId}>
      <h2 id={headingId}>Experiments: pruning without retraining</h2>
      <p className="exv-intro">
        Trains a small hidden Chow-Liu tree on the embedded digits, then prunes copies of it by <strong>flow</strong> (the method), <strong>magnitude</strong>{' '}
        and at <strong>random</strong>, and plots train and test bits per dimension against the fraction of sum edges kept. Test images are digits held out from
        training. It runs in a worker on one CPU thread; the full-size runs (HCLT K=32, the official MNIST test split) are in <code>docs/results/</code>.
      </p>
      <fieldset className="exv-sizes" disabled={running}>
        <legend>Size</legend>
        {LIVE_SIZES.map((s) => (
          <label key={s}>
            <input type="radio" name={sizeName} value={s} checked={size === s} onChange={() => setSize(s)} />
            {SIZE_NAMES[s]}: <span className="exv-muted">{describeLiveSize(s)}</span>
          </label>
        ))}
      </fieldset>
      <div className="exv-actions">
        <button type="button" onClick={run} disabled={running}>
          {last ? 'Run again' : 'Run prune-curve'}
        </button>
        {running ? (
          <button type="button" onClick={cancel}>
            Cancel
          </button>
        ) : null}
      </div>
      <div className="exv-status">
        {running ? <progress max={p?.steps ?? 1} value={p?.step ?? 0} aria-label="Experiment progress" data-testid="experiment-progress" /> : null}
        <p role="status" aria-live="polite" data-testid="experiment-status">
          {state.kind === 'running'
            ? p
              ? `Step ${p.step} of ${p.steps}: ${p.message}`
              : 'Loading the digits and starting…'
            : state.kind === 'done'
              ? `Done in ${state.seconds.toFixed(1)} s.`
              : state.kind === 'idle' && last === null
                ? 'Not run yet.'
                : ''}
        </p>
        {state.kind === 'error' ? (
          <p role="alert" className="exv-error">
            {state.message}
          </p>
        ) : null}
      </div>
      {last ? <ExperimentResult result={last.result} /> : null}
    </section>
  );
}

/** The chart and its numbers for one result. */
export function ExperimentResult({ result }: { result: PruneCurveResult }) {
  const boxRef = useRef<HTMLDivElement>(null);
  const { width: boxWidth } = useElementSize(boxRef);
  const width = Math.max(320, boxWidth || 900);
  const layout = layoutFigure(pruneCurveFigure(result), width, 280);
  const s = result.summary;
  const f4 = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(4));
  const pct = Math.round(s.at_fraction * 100);
  const rnd = randomMeans(result.points, 'test_bpd');
  const fractions = [...new Set(result.points.map((q) => q.fraction))].sort((a, b) => a - b);
  const one = (c: 'flow' | 'magnitude', f: number, key: 'train_bpd' | 'test_bpd') =>
    result.points.find((q) => q.criterion === c && q.fraction === f)?.[key] ?? null;
  return (
    <div className="exv-result" ref={boxRef}>
      <p data-testid="experiment-headline">
        Unpruned: test {f4(result.base.test_bpd)} bpd. At {pct} % of the edges removed, test bpd is {f4(s.flow_test_bpd)} by flow, {f4(s.magnitude_test_bpd)} by
        magnitude and {f4(s.random_test_bpd)} at random
        {s.flow_beats_random ? ' (flow loses least)' : ''}. The bound is finite at {s.points_with_finite_bound} point
        {s.points_with_finite_bound === 1 ? '' : 's'} and the measured drop {s.bound_holds ? 'never exceeds it' : 'exceeds it somewhere'}.
      </p>
      <FigureSvg layout={layout} />
      <details>
        <summary>Numbers (test bpd by fraction removed)</summary>
        <table className="exv-table" data-testid="experiment-table">
          <caption>Test bits per dimension after pruning, by criterion (random: mean over seeds)</caption>
          <thead>
            <tr>
              <th scope="col">removed</th>
              <th scope="col">flow</th>
              <th scope="col">magnitude</th>
              <th scope="col">random</th>
            </tr>
          </thead>
          <tbody>
            {fractions.map((f) => (
              <tr key={f}>
                <th scope="row">{(f * 100).toFixed(f < 0.01 ? 1 : 0)} %</th>
                <td>{f4(one('flow', f, 'test_bpd'))}</td>
                <td>{f4(one('magnitude', f, 'test_bpd'))}</td>
                <td>{f4(rnd.find((r) => r.fraction === f)?.mean ?? null)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </div>
  );
}

/** A figure layout as an SVG element: the same primitives renderSvg writes to the CLI's file. */
export function FigureSvg({ layout: l }: { layout: FigureLayout }) {
  const titleId = useId();
  const descId = useId();
  return (
    <svg
      className="exv-figure"
      width={l.width}
      height={l.height}
      viewBox={`0 0 ${l.width} ${l.height}`}
      role="img"
      aria-labelledby={`${titleId} ${descId}`}
      data-testid="experiment-figure"
    >
      <title id={titleId}>{l.title}</title>
      <desc id={descId}>{l.panels.map((p) => p.description).join(' ')}</desc>
      <rect width={l.width} height={l.height} fill="#ffffff" />
      <text x={62} y={20} fontSize={15} fontWeight={600} fill="#111827">
        {l.title}
      </text>
      {l.subtitleLines.map((t, i) => (
        <text key={i} x={62} y={subtitleY(i)} fill="#4b5563">
          {t}
        </text>
      ))}
      {l.legend.map((it) => (
        <g key={it.label} transform={`translate(${it.x},${it.y})`}>
          <line x1={0} x2={26} y1={0} y2={0} stroke={it.color} strokeWidth={2.5} strokeDasharray={it.dash} />
          <circle cx={13} cy={0} r={2.5} fill={it.color} />
          <text x={32} y={4} fill="#111827">
            {it.label}
          </text>
        </g>
      ))}
      {l.panels.map((p, i) => (
        <g key={i}>
          <text x={p.left} y={p.top - 10} fontWeight={600} fill="#111827">
            {p.title}
          </text>
          {p.yTicks.map((t) => (
            <g key={`y${t.label}`}>
              <line x1={p.left} x2={p.right} y1={t.pos} y2={t.pos} stroke="#e5e7eb" />
              <text x={p.left - 6} y={t.pos + 4} textAnchor="end" fill="#4b5563">
                {t.label}
              </text>
            </g>
          ))}
          {p.xTicks.map((t) => (
            <g key={`x${t.label}`}>
              <line x1={t.pos} x2={t.pos} y1={p.bottom} y2={p.bottom + 5} stroke="#6b7280" />
              <text x={t.pos} y={p.bottom + 18} textAnchor="middle" fill="#4b5563">
                {t.label}
              </text>
            </g>
          ))}
          <line x1={p.left} x2={p.right} y1={p.bottom} y2={p.bottom} stroke="#6b7280" />
          <line x1={p.left} x2={p.left} y1={p.top} y2={p.bottom} stroke="#6b7280" />
          <text x={(p.left + p.right) / 2} y={p.bottom + 36} textAnchor="middle" fill="#111827">
            {p.xLabel}
          </text>
          <text transform={`translate(${p.left - 46},${(p.top + p.bottom) / 2}) rotate(-90)`} textAnchor="middle" fill="#111827">
            {p.yLabel}
          </text>
          {p.bands.map((b, k) => (
            <path key={`b${k}`} d={b.d} fill={b.color} fillOpacity={0.15} stroke="none" />
          ))}
          {p.refLines.map((r, k) => (
            <line key={`r${k}`} x1={p.left} x2={p.right} y1={r.y} y2={r.y} stroke={r.color} strokeWidth={1.5} strokeDasharray={r.dash}>
              <title>{r.label}</title>
            </line>
          ))}
          {p.paths.map((q, k) => (
            <path key={`p${k}`} d={q.d} fill="none" stroke={q.color} strokeWidth={2} strokeDasharray={q.dash}>
              <title>{q.label}</title>
            </path>
          ))}
          {p.dots.map((d, k) => (
            <g key={`d${k}`}>
              <circle cx={d.cx} cy={d.cy} r={3} fill={d.color} />
              {d.text ? (
                <text x={d.cx + 5} y={d.cy - 6} fontSize={10} fill={d.color}>
                  {d.text}
                </text>
              ) : null}
            </g>
          ))}
        </g>
      ))}
      {l.note ? (
        <text x={62} y={l.height - 6} fontSize={10} fill="#4b5563">
          {l.note}
        </text>
      ) : null}
    </svg>
  );
}

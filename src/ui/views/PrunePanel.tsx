// The prune panel: before a prune, the histogram of log10 edge scores with the cut at the preview's
// threshold and the part below it (the edges that go) shaded; after it, the bound on the likelihood
// drop beside the drop actually measured (nats per image), the paper's guarantee made visible. At most
// 60 bars, so plain SVG. Props only.

import { scaleLinear } from 'd3';
import { useId, useRef } from 'react';
import type { PruneEvent } from '../../training/trainer.ts';
import type { PrunePreview } from '../../worker/protocol.ts';
import { useElementSize } from './canvas-hooks.ts';
import { plainNumber } from './history.ts';
import { histogramLayout } from './histogram-layout.ts';
import './views.css';

export interface PrunePanelProps {
  preview: PrunePreview | null;
  lastPrune: PruneEvent | null;
  /** The preview's prune already happened (its histogram stays on show); default false. */
  done?: boolean;
}

const HEIGHT = 150;
const MARGIN = { top: 22, right: 12, bottom: 34, left: 44 };
const MAX_BARS = 60;
const intFormat = new Intl.NumberFormat('en-US');

export function PrunePanel({ preview, lastPrune, done = false }: PrunePanelProps) {
  const headingId = useId();
  return (
    <section className="pcv pcv-prune" aria-labelledby={headingId}>
      <h3 id={headingId}>Pruning</h3>
      {preview ? (
        <ScoreHistogram preview={preview} done={done} />
      ) : (
        <p className="pcv-empty">The next prune's edge scores appear here while it is previewed.</p>
      )}
      {lastPrune ? <Drops prune={lastPrune} /> : null}
    </section>
  );
}

function ScoreHistogram({ preview, done }: { preview: PrunePreview; done: boolean }) {
  const boxRef = useRef<HTMLDivElement>(null);
  const { width: boxWidth } = useElementSize(boxRef);
  const width = Math.max(240, boxWidth);
  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const layout = histogramLayout(preview.histogram, preview.threshold, innerW, innerH, MAX_BARS, preview.removedCounts);
  const x = scaleLinear().domain([layout.min, layout.max]).range([0, innerW]);
  const y = scaleLinear()
    .domain([0, Math.max(1, layout.maxCount)])
    .range([innerH, 0]);
  const xTicks = layout.bars.length ? x.ticks(Math.max(2, Math.floor(innerW / 70))) : [];
  const yTicks = y.ticks(3).filter((t) => Number.isInteger(t));
  const pct = (100 * preview.fraction).toFixed(preview.fraction * 100 < 10 ? 1 : 0);
  const what = preview.criterion === 'flow' ? 'circuit flow' : preview.criterion === 'magnitude' ? 'weight' : 'random score';
  const label =
    `Histogram of log10 edge scores (${what}) over ${intFormat.format(preview.histogram.total)} edges; ` +
    (layout.thresholdX === null
      ? 'no cut.'
      : `${intFormat.format(preview.removed)} edges (${pct} %) are removed, none scoring above ${preview.threshold.toFixed(2)}; each sum node keeps its best edge.`);

  return (
    <div ref={boxRef}>
      <p className="pcv-caption" data-testid="prune-summary">
        {done ? 'Pruned' : 'Prune'} {pct} % by {preview.criterion}: the {intFormat.format(preview.removed)} edges shaded red {done ? 'went' : 'go'} (lowest
        scores first; every sum node keeps its best edge).
      </p>
      <svg role="img" aria-label={label} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} data-testid="prune-histogram">
        <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
          {layout.bars.map((b, i) => (
            <g key={i}>
              {b.height - b.removedHeight > 0 ? (
                <rect className="bar-kept" x={b.x} y={b.y} width={Math.max(0, b.width - 0.5)} height={b.height - b.removedHeight} />
              ) : null}
              {b.removedHeight > 0 ? (
                <rect className="bar-removed" x={b.x} y={b.y + b.height - b.removedHeight} width={Math.max(0, b.width - 0.5)} height={b.removedHeight} />
              ) : null}
            </g>
          ))}
          <g className="pcv-axis" aria-hidden="true">
            <line x1={0} x2={innerW} y1={innerH} y2={innerH} />
            {xTicks.map((t) => (
              <g key={t} transform={`translate(${x(t)},${innerH})`}>
                <line y2={4} />
                <text y={15} textAnchor="middle">
                  {t}
                </text>
              </g>
            ))}
            <text x={innerW / 2} y={innerH + 29} textAnchor="middle">
              log10 edge score ({what})
            </text>
            <line x1={0} x2={0} y1={0} y2={innerH} />
            {yTicks.map((t) => (
              <g key={t} transform={`translate(0,${y(t)})`}>
                <line x2={-4} />
                <text x={-7} dy="0.32em" textAnchor="end">
                  {intFormat.format(t)}
                </text>
              </g>
            ))}
          </g>
          {layout.thresholdX !== null ? (
            <g aria-hidden="true">
              <line className="cut" x1={layout.thresholdX} x2={layout.thresholdX} y1={-6} y2={innerH} />
              <text className="cut-label" x={layout.thresholdX} y={-10} textAnchor={layout.thresholdX > innerW * 0.7 ? 'end' : 'start'}>
                cut {preview.threshold.toFixed(2)}
              </text>
            </g>
          ) : null}
        </g>
      </svg>
    </div>
  );
}

function Drops({ prune }: { prune: PruneEvent }) {
  const bound = prune.bound_ll_drop;
  const within = bound !== null && prune.measured_ll_drop <= bound + 1e-9;
  return (
    <div>
      <dl className="pcv-drops" aria-label="Likelihood lost by the last prune">
        <div>
          <dt>Bound on the likelihood drop</dt>
          <dd>
            <span data-testid="bound-drop">{bound === null || !Number.isFinite(bound) ? 'vacuous' : plainNumber(bound)}</span>
            <span className="unit">nats / image</span>
          </dd>
        </div>
        <div>
          <dt>Measured drop</dt>
          <dd>
            <span data-testid="measured-drop">{plainNumber(prune.measured_ll_drop)}</span>
            <span className="unit">nats / image</span>
          </dd>
        </div>
      </dl>
      <p className="pcv-caption" style={{ marginTop: '0.5rem' }}>
        Last prune removed {intFormat.format(prune.removed_edges)} edges by {prune.criterion} (removed flow {plainNumber(prune.removed_flow)} per image).{' '}
        {bound === null
          ? 'The bound is vacuous: some image sends all its flow through removed edges.'
          : within
            ? 'The measured drop stays within the bound.'
            : 'The measured drop exceeds the bound (it holds for the scored images; these may differ).'}
      </p>
    </div>
  );
}

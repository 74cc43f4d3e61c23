// Training curves: train, validation (and test, with a test split) bpd over epochs with labelled prune/grow markers, and below it
// the number of edges and parameters on a log scale (prune steps down, grow steps up). d3 computes the
// scales, ticks and paths; React renders the SVG (few points, so SVG is cheap). Props only: the
// history comes from history.ts (the store builds it from the trainer's events).

import { format, line, scaleLinear, scaleLog } from 'd3';
import { useId, useRef } from 'react';
import { useElementSize } from './canvas-hooks.ts';
import { curveSeries, logExtent, paddedExtent, type DenseCurve, type HistoryEntry, type Marker, type Point } from './history.ts';
import './views.css';

export interface CurvesProps {
  history: readonly HistoryEntry[];
  /** The dense comparison's validation curves (Compare with dense), drawn dashed; none when it is off. */
  dense?: readonly DenseCurve[];
}

const MARGIN = { top: 30, right: 14, bottom: 34, left: 54 };
const BPD_HEIGHT = 230;
const SIZE_HEIGHT = 150;
const intFormat = new Intl.NumberFormat('en-US');

export function Curves({ history, dense = [] }: CurvesProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const { width: boxWidth } = useElementSize(boxRef);
  const width = Math.max(260, boxWidth);
  const s = curveSeries(history);
  const headingId = useId();

  const denseValid = dense.flatMap((d) => d.valid);
  const xs = [...s.train, ...s.valid, ...s.test, ...s.edges, ...s.params, ...denseValid].map((p) => p[0]).concat(s.markers.map((m) => m.x));
  const [x0, x1] = paddedExtent(xs, 0, 1, [0, 1]);
  const x = scaleLinear()
    .domain([Math.max(0, x0), x1])
    .range([MARGIN.left, width - MARGIN.right]);

  const lastEpoch = [...history].reverse().find((e) => e.kind === 'epoch');
  const lastTrain = s.train.at(-1)?.[1];
  const lastValid = s.valid.at(-1)?.[1];
  const epochs = lastEpoch?.kind === 'epoch' ? lastEpoch.index : 0;
  const bpdLabel =
    s.train.length === 0 && s.valid.length === 0
      ? 'Bits per dimension over epochs: no epochs yet.'
      : `Bits per dimension over ${epochs} epoch${epochs === 1 ? '' : 's'}: latest train ${fmtBpd(lastTrain)}, validation ${fmtBpd(lastValid)}` +
        (s.test.length ? `, test ${fmtBpd(s.test.at(-1)?.[1])}` : '') +
        (s.markers.length ? `; ${s.markers.length} prune/grow event${s.markers.length === 1 ? '' : 's'} marked` : '') +
        (denseValid.length
          ? `; dense HCLT with the same sum edges (${dense.map((d) => `K=${d.K}`).join(', ')}) dashed, latest ${fmtBpd(denseValid.at(-1)?.[1])}.`
          : '.');
  const lastSize = history.at(-1);
  const sizeLabel = lastSize
    ? `Sum edges and parameters on a log scale: latest ${intFormat.format(lastSize.edges)} edges, ${intFormat.format(lastSize.params)} parameters.`
    : 'Sum edges and parameters: no data yet.';

  return (
    <section className="pcv pcv-curves" aria-labelledby={headingId}>
      <h3 id={headingId}>Training curves</h3>
      <div ref={boxRef}>
        {history.length === 0 ? <p className="pcv-empty">No epochs yet: press Play or step one epoch to see the curves.</p> : null}
        <Legend
          label="Legend of the bpd chart"
          items={[
            ['--pcv-train', 'train bpd', false],
            ['--pcv-valid', 'validation bpd', false],
            ...(s.test.length ? [['--pcv-test', 'test bpd', false] as [string, string, boolean]] : []),
            ...(dense.length ? [['--pcv-dense-hclt', 'dense HCLT, same sum edges (validation)', true] as [string, string, boolean]] : []),
            ['--pcv-prune', 'prune', true],
            ['--pcv-grow', 'grow', true],
          ]}
        />
        <BpdChart width={width} x={x} train={s.train} valid={s.valid} test={s.test} dense={dense} markers={s.markers} label={bpdLabel} />
        <Legend
          label="Legend of the size chart"
          items={[
            ['--pcv-edges', 'sum edges', false],
            ['--pcv-params', 'parameters', true],
          ]}
        />
        <SizeChart width={width} x={x} edges={s.edges} params={s.params} markers={s.markers} label={sizeLabel} />
      </div>
    </section>
  );
}

/** A chart legend: per item the colour property, the text, and whether its line is dashed. */
function Legend({ label, items }: { label: string; items: Array<[colour: string, text: string, dashed: boolean]> }) {
  return (
    <ul className="pcv-legend" aria-label={label}>
      {items.map(([colour, text, dashed]) => (
        <li key={text} style={{ color: `var(${colour})` }}>
          <span className={dashed ? 'pcv-swatch dashed' : 'pcv-swatch'} aria-hidden="true" />
          <span style={{ color: 'var(--text)' }}>{text}</span>
        </li>
      ))}
    </ul>
  );
}

function fmtBpd(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'none' : v.toFixed(4);
}

type XScale = ReturnType<typeof scaleLinear<number, number>>;

function XAxis({ x, y, label }: { x: XScale; y: number; label: string }) {
  // Epochs are whole numbers: fractional ticks (0.5, 1.5) would suggest half epochs.
  const ticks = x.ticks(Math.min(10, Math.max(2, Math.floor((x.range()[1] - x.range()[0]) / 60)))).filter((t) => Number.isInteger(t));
  const [r0, r1] = x.range();
  return (
    <g className="pcv-axis" aria-hidden="true">
      <line x1={r0} x2={r1} y1={y} y2={y} />
      {ticks.map((t) => (
        <g key={t} transform={`translate(${x(t)},${y})`}>
          <line y2={5} />
          <text y={17} textAnchor="middle">
            {t}
          </text>
        </g>
      ))}
      <text className="pcv-axis-label" x={(r0 + r1) / 2} y={y + 31} textAnchor="middle">
        {label}
      </text>
    </g>
  );
}

function YAxis({
  ticks,
  y,
  fmt,
  left,
  right,
  label,
  top,
  bottom,
}: {
  ticks: number[];
  y: (v: number) => number;
  fmt: (v: number) => string;
  left: number;
  right: number;
  label: string;
  top: number;
  bottom: number;
}) {
  return (
    <g className="pcv-axis" aria-hidden="true">
      <line x1={left} x2={left} y1={top} y2={bottom} />
      {ticks.map((t) => {
        const text = fmt(t);
        return (
          <g key={t} transform={`translate(0,${y(t)})`}>
            {text ? <line className="pcv-gridline" x1={left} x2={right} /> : null}
            <line x1={left - 5} x2={left} />
            {text ? (
              <text x={left - 8} dy="0.32em" textAnchor="end">
                {text}
              </text>
            ) : null}
          </g>
        );
      })}
      <text className="pcv-axis-label" transform={`translate(12,${(top + bottom) / 2}) rotate(-90)`} textAnchor="middle">
        {label}
      </text>
    </g>
  );
}

function Markers({ markers, x, top, bottom, labels }: { markers: Marker[]; x: XScale; top: number; bottom: number; labels: boolean }) {
  return (
    <g aria-hidden="true">
      {markers.map((m, i) => {
        const px = x(m.x);
        if (!Number.isFinite(px)) return null;
        const colour = m.kind === 'prune' ? 'var(--pcv-prune)' : 'var(--pcv-grow)';
        return (
          <g key={i}>
            <line x1={px} x2={px} y1={top} y2={bottom} stroke={colour} strokeWidth={1.5} strokeDasharray="4 3" />
            {labels ? (
              <text x={px + 3} y={top - 16 + 11 * (m.stack % 2)} style={{ fill: colour, fontWeight: 600 }}>
                {m.label}
              </text>
            ) : null}
          </g>
        );
      })}
    </g>
  );
}

function Series({ points, x, y, colour, dashed }: { points: Point[]; x: XScale; y: (v: number) => number; colour: string; dashed?: boolean }) {
  const d = line<Point>()
    .x((p) => x(p[0]))
    .y((p) => y(p[1]))(points);
  return (
    <g>
      {d && points.length > 1 ? <path d={d} fill="none" stroke={colour} strokeWidth={2} strokeDasharray={dashed ? '6 3' : undefined} /> : null}
      {/* Dots make a single epoch visible (a one-point path draws nothing) and mark each measurement. */}
      {points.length <= 80 ? points.map((p, i) => <circle key={i} cx={x(p[0])} cy={y(p[1])} r={points.length === 1 ? 3.5 : 2.5} fill={colour} />) : null}
    </g>
  );
}

function BpdChart({
  width,
  x,
  train,
  valid,
  test,
  dense,
  markers,
  label,
}: {
  width: number;
  x: XScale;
  train: Point[];
  valid: Point[];
  test: Point[];
  dense: readonly DenseCurve[];
  markers: Marker[];
  label: string;
}) {
  const height = BPD_HEIGHT;
  const [y0, y1] = paddedExtent(
    [...train, ...valid, ...test, ...dense.flatMap((d) => d.valid)].map((p) => p[1]),
    0.08,
    0.05,
    [0, 8],
  );
  const y = scaleLinear()
    .domain([y0, y1])
    .nice()
    .range([height - MARGIN.bottom, MARGIN.top]);
  const fmt = y.tickFormat(5);
  return (
    <svg role="img" aria-label={label} height={height} viewBox={`0 0 ${width} ${height}`} data-testid="bpd-chart">
      <YAxis
        ticks={y.ticks(5)}
        y={y}
        fmt={fmt}
        left={MARGIN.left}
        right={width - MARGIN.right}
        label="bits per dimension"
        top={MARGIN.top}
        bottom={height - MARGIN.bottom}
      />
      <XAxis x={x} y={height - MARGIN.bottom} label="epoch" />
      <Markers markers={markers} x={x} top={MARGIN.top} bottom={height - MARGIN.bottom} labels />
      <Series points={train} x={x} y={y} colour="var(--pcv-train)" />
      <Series points={valid} x={x} y={y} colour="var(--pcv-valid)" />
      <Series points={test} x={x} y={y} colour="var(--pcv-test)" />
      {dense.map((d, i) => (
        <g key={i} data-testid="dense-curve" data-k={d.K}>
          <Series points={d.valid} x={x} y={y} colour="var(--pcv-dense-hclt)" dashed />
          <text
            x={x(d.valid[d.valid.length - 1][0]) - 4}
            y={y(d.valid[d.valid.length - 1][1])}
            dy="-0.6em"
            textAnchor="end"
            style={{ fill: 'var(--pcv-dense-hclt)', fontSize: 11 }}
          >
            dense K={d.K}
          </text>
        </g>
      ))}
    </svg>
  );
}

function SizeChart({
  width,
  x,
  edges,
  params,
  markers,
  label,
}: {
  width: number;
  x: XScale;
  edges: Point[];
  params: Point[];
  markers: Marker[];
  label: string;
}) {
  const height = SIZE_HEIGHT;
  const top = 10;
  const values = [...edges, ...params].map((p) => p[1]);
  const [lo, hi] = logExtent(values);
  // Log scale: prune removes a fraction (a constant drop on a log axis) and grow multiplies by ~4.
  const y = scaleLog()
    .domain([lo, hi])
    .range([height - MARGIN.bottom, top]);
  const decades = Math.log10(hi) - Math.log10(lo);
  const ticks = y.ticks(4);
  const si = format('.2~s');
  const fmtLog = y.tickFormat(decades > 1.5 ? 4 : 8, '.2~s');
  const fmt = (v: number) => (ticks.length <= 6 ? si(v) : fmtLog(v));
  return (
    <svg role="img" aria-label={label} height={height} viewBox={`0 0 ${width} ${height}`} data-testid="size-chart">
      <YAxis ticks={ticks} y={y} fmt={fmt} left={MARGIN.left} right={width - MARGIN.right} label="count (log)" top={top} bottom={height - MARGIN.bottom} />
      <XAxis x={x} y={height - MARGIN.bottom} label="epoch" />
      <Markers markers={markers} x={x} top={top} bottom={height - MARGIN.bottom} labels={false} />
      <Series points={edges} x={x} y={y} colour="var(--pcv-edges)" />
      <Series points={params} x={x} y={y} colour="var(--pcv-params)" dashed />
    </svg>
  );
}

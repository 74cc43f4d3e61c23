// The region view: one region's sum block (RegionDetail) drawn on a canvas, either as a matrix (rows =
// sum nodes, one per parent state; columns = the region's products; cell colour = the edge's flow on a
// log scale, pruned entries left blank, entries marked by a prune preview tinted and outlined) or as a
// bipartite graph (sum nodes on top, products below, one line per edge coloured and made opaque by its
// flow). Built for blocks up to 256 x 256 (65k edges): the matrix is one ImageData scaled up, the graph
// strokes its lines in 16 batched paths, and both keep the drawn block in an off-screen canvas so the
// hover tooltip only redraws its overlay. Props only.

import { useEffect, useId, useMemo, useRef, useState, type PointerEvent } from 'react';
import type { RegionDetail } from '../../worker/protocol.ts';
import { bipartiteHit, bipartiteLayout, findEntry, matrixHit, matrixLayout, nodeX, type BipartiteLayout, type MatrixLayout } from './block-layout.ts';
import { pick, prepareCanvas, useDevicePixelRatio, useElementSize, useThemeColors } from './canvas-hooks.ts';
import { colorLut, finiteMax, logT, lutIndex, positiveMin, rampThrough, rgba } from './scales.ts';
import './views.css';

export type RegionMode = 'matrix' | 'bipartite';

export interface RegionViewProps {
  detail: RegionDetail | null;
  mode: RegionMode;
  onMode: (mode: RegionMode) => void;
  /** Image side, to name the pixel's column and row (28 for MNIST). */
  side?: number;
}

const COLOR_NAMES = ['--pcv-cell', '--pcv-flow-lo', '--pcv-flow-mid', '--pcv-flow-hi', '--pcv-marked', '--pcv-node', '--pcv-selected', '--panel'] as const;
type Colors = Record<(typeof COLOR_NAMES)[number], string>;
const MAX_SIDE = 520;
const GRAPH_HEIGHT = 280;
/** Flow buckets of the bipartite graph: one stroke() each instead of one per edge. */
const BUCKETS = 16;
const intFormat = new Intl.NumberFormat('en-US');

/** What colours an entry: the flow, or (before any flows exist) the weight. */
interface Values {
  by: 'flow' | 'weight';
  values: Float32Array;
  lo: number;
  hi: number;
}

function valuesOf(d: RegionDetail): Values {
  const hasFlow = finiteMax(d.flows) > 0;
  const values = hasFlow ? d.flows : d.weights;
  const hi = finiteMax(values);
  // At most 6 decades: one vanishing outlier (1e-30) would otherwise squeeze every other entry into
  // the top of the ramp. Anything below the floor gets the lowest colour.
  return { by: hasFlow ? 'flow' : 'weight', values, lo: Math.max(positiveMin(values), hi * 1e-6), hi };
}

type Hover =
  { kind: 'entry'; row: number; col: number; entry: number; x: number; y: number } | { kind: 'node'; side: 'row' | 'col'; index: number; x: number; y: number };

export function RegionView({ detail, mode, onMode, side = 28 }: RegionViewProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const baseRef = useRef<HTMLCanvasElement | null>(null);
  const { width: boxWidth } = useElementSize(boxRef);
  const dpr = useDevicePixelRatio();
  const colors = useThemeColors(boxRef, COLOR_NAMES) as Colors;
  const [hover, setHover] = useState<Hover | null>(null);
  const headingId = useId();
  const captionId = useId();

  const values = useMemo(() => (detail ? valuesOf(detail) : null), [detail]);
  const lut = useMemo(
    () =>
      colorLut(rampThrough([pick(colors['--pcv-flow-lo'], '#eef3fb'), pick(colors['--pcv-flow-mid'], '#5b8def'), pick(colors['--pcv-flow-hi'], '#0a2463')])),
    [colors],
  );
  const width = Math.max(0, Math.min(MAX_SIDE, boxWidth));
  const matrix = useMemo(() => (detail ? matrixLayout(detail.rows, detail.cols, width, MAX_SIDE) : null), [detail, width]);
  const graph = useMemo(() => (detail ? bipartiteLayout(detail.rows, detail.cols, width, GRAPH_HEIGHT) : null), [detail, width]);

  // Draw the block into an off-screen canvas when the data, size, mode or theme change.
  useEffect(() => {
    setHover(null);
    if (!detail || !values || width === 0) {
      baseRef.current = null;
      return;
    }
    const base = baseRef.current ?? document.createElement('canvas');
    baseRef.current = base;
    const t0 = performance.now();
    if (mode === 'matrix' && matrix) {
      const ctx = prepareCanvas(base, matrix.width, matrix.height, dpr);
      if (ctx) drawMatrix(ctx, detail, values, matrix, lut, colors);
    } else if (graph) {
      const ctx = prepareCanvas(base, graph.width, graph.height, dpr);
      if (ctx) drawBipartite(ctx, detail, values, graph, lut, colors);
    }
    // How long the block took to draw, on the element for tests and for anyone profiling big blocks.
    canvasRef.current?.setAttribute('data-draw-ms', (performance.now() - t0).toFixed(1));
  }, [detail, values, mode, matrix, graph, lut, colors, dpr, width]);

  // Show the off-screen drawing plus the hover overlay.
  useEffect(() => {
    const canvas = canvasRef.current;
    const base = baseRef.current;
    if (!canvas || !detail) return;
    const w = mode === 'matrix' ? (matrix?.width ?? 0) : (graph?.width ?? 0);
    const h = mode === 'matrix' ? (matrix?.height ?? 0) : (graph?.height ?? 0);
    const ctx = prepareCanvas(canvas, w, h, dpr);
    if (!ctx || !base) return;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(base, 0, 0);
    ctx.restore();
    if (hover && values) drawHover(ctx, detail, values, hover, mode === 'matrix' ? matrix : null, mode === 'bipartite' ? graph : null, lut, colors);
  }, [detail, values, hover, mode, matrix, graph, dpr, lut, colors]);

  const onPointerMove = (e: PointerEvent<HTMLCanvasElement>) => {
    if (!detail) return;
    const r = e.currentTarget.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    if (mode === 'matrix' && matrix) {
      const hit = matrixHit(x, y, matrix);
      const entry = hit ? findEntry(detail.rowPtr, detail.colIdx, hit.row, hit.col) : -1;
      setHover(hit ? { kind: 'entry', row: hit.row, col: hit.col, entry, x, y } : null);
    } else if (graph) {
      const hit = bipartiteHit(x, y, graph);
      setHover(hit ? { kind: 'node', side: hit.side, index: hit.index, x, y } : null);
    }
  };

  // The canvas box is always rendered: its size (and the theme) is measured once, at mount.
  let header = (
    <h3 id={headingId} data-testid="region-title">
      Region
    </h3>
  );
  let body = <p className="pcv-empty">Select a pixel in the circuit view to see its region's sum block.</p>;
  let legend = null;
  if (detail && values) {
    const v = detail.variable;
    const nnz = detail.rowPtr[detail.rows] ?? detail.colIdx.length;
    const full = detail.rows * detail.cols;
    let marked = 0;
    for (let i = 0; i < detail.marked.length; i++) marked += detail.marked[i];
    const kept = full > 0 ? ((100 * nnz) / full).toFixed(1) : '0';
    const details =
      `${intFormat.format(nnz)} of ${intFormat.format(full)} edges kept (${kept} %)` +
      (marked > 0 ? `, ${intFormat.format(marked)} marked for pruning` : '') +
      `. Rows: the region's sum nodes, one per state of ${detail.parentVariable >= 0 ? `parent pixel ${detail.parentVariable}` : 'the root (one sum node)'}; columns: its products. ` +
      `Colour: ${values.by === 'flow' ? 'mean flow per image' : 'weight (no flows yet)'}, log scale from ${fmtNum(values.lo)} to ${fmtNum(values.hi)}.`;
    header = (
      <>
        <h3 id={headingId} data-testid="region-title">
          Region of pixel {v} (column {v % side}, row {Math.floor(v / side)})
        </h3>
        <div className="pcv-modes" role="group" aria-label="Draw the block as">
          <button type="button" aria-pressed={mode === 'matrix'} onClick={() => onMode('matrix')}>
            Matrix
          </button>
          <button type="button" aria-pressed={mode === 'bipartite'} onClick={() => onMode('bipartite')}>
            Bipartite graph
          </button>
        </div>
        <p className="pcv-caption" id={captionId}>
          Sum block{' '}
          <span data-testid="region-shape">
            {detail.rows} × {detail.cols}
          </span>
          : {details}
        </p>
      </>
    );
    body = (
      <>
        <canvas
          ref={canvasRef}
          data-testid="region-canvas"
          data-mode={mode}
          role="img"
          aria-label={`${mode === 'matrix' ? 'Matrix' : 'Bipartite graph'} of the ${detail.rows} by ${detail.cols} sum block of pixel ${v}.`}
          aria-describedby={captionId}
          onPointerMove={onPointerMove}
          onPointerLeave={() => setHover(null)}
        />
        {hover ? <Tooltip detail={detail} hover={hover} width={width} /> : null}
      </>
    );
    legend = (
      <p className="pcv-width-legend">
        <span>low {values.by}</span>
        <span className="pcv-ramp flow" aria-hidden="true" />
        <span>high {values.by}</span>
        {marked > 0 ? (
          <span>
            <span style={{ color: 'var(--pcv-marked)', fontWeight: 600 }} aria-hidden="true">
              ■
            </span>{' '}
            marked for pruning
          </span>
        ) : null}
      </p>
    );
  }

  return (
    <section className="pcv pcv-region" aria-labelledby={headingId}>
      {header}
      <div className="pcv-canvas-box" ref={boxRef}>
        {body}
      </div>
      {legend}
    </section>
  );
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  return Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toFixed(4) : v.toExponential(2);
}

function Tooltip({ detail, hover, width }: { detail: RegionDetail; hover: Hover; width: number }) {
  let lines: string[];
  if (hover.kind === 'entry') {
    const head = `sum node ${hover.row} → product ${hover.col}`;
    lines =
      hover.entry < 0
        ? [head, 'no edge (pruned)']
        : [
            head,
            `weight ${fmtNum(detail.weights[hover.entry])}`,
            `flow ${fmtNum(detail.flows[hover.entry])}`,
            ...(detail.marked[hover.entry] ? ['marked for pruning'] : []),
          ];
  } else if (hover.side === 'row') {
    const r = hover.index;
    let flow = 0;
    for (let e = detail.rowPtr[r]; e < detail.rowPtr[r + 1]; e++) flow += detail.flows[e];
    lines = [`sum node ${r}`, `${detail.rowPtr[r + 1] - detail.rowPtr[r]} edges`, `flow ${fmtNum(flow)}`];
  } else {
    const c = hover.index;
    let flow = 0;
    let n = 0;
    for (let e = 0; e < detail.colIdx.length; e++) {
      if (detail.colIdx[e] === c) {
        flow += detail.flows[e];
        n++;
      }
    }
    lines = [`product ${c}`, `${n} edges in`, `flow ${fmtNum(flow)}`, `expected intensity ${fmtNum(detail.inputMeans[c] ?? NaN)}`];
  }
  // Keep the tooltip inside the box: flip to the left of the pointer near the right edge.
  const left = hover.x > width - 170 ? hover.x - 170 : hover.x + 14;
  return (
    <div className="pcv-tooltip" role="tooltip" data-testid="region-tooltip" style={{ left: Math.max(0, left), top: hover.y + 14 }}>
      {lines.map((l, i) => (
        <div key={i}>{l}</div>
      ))}
    </div>
  );
}

/** Mixes RGBA `a` towards `b` by s (0..1), in place at `out[o..o+3]`. */
function mixInto(out: Uint8ClampedArray, o: number, a: ArrayLike<number>, ao: number, b: ArrayLike<number>, s: number): void {
  for (let k = 0; k < 3; k++) out[o + k] = a[ao + k] * (1 - s) + b[k] * s;
  out[o + 3] = 255;
}

function drawMatrix(ctx: CanvasRenderingContext2D, d: RegionDetail, vals: Values, m: MatrixLayout, lut: Uint8ClampedArray, colors: Colors): void {
  // One image pixel per block cell, scaled up without smoothing: 65k cells cost one drawImage.
  const img = new ImageData(d.cols, d.rows);
  const px = img.data;
  const empty = rgba(pick(colors['--pcv-cell'], '#eef1f5'));
  const markColor = rgba(pick(colors['--pcv-marked'], '#e11d48'));
  for (let i = 0; i < d.rows * d.cols; i++) px.set(empty, 4 * i);
  for (let r = 0; r < d.rows; r++) {
    for (let e = d.rowPtr[r]; e < d.rowPtr[r + 1]; e++) {
      const o = 4 * (r * d.cols + d.colIdx[e]);
      const li = 4 * lutIndex(logT(vals.values[e], vals.lo, vals.hi));
      if (d.marked[e]) mixInto(px, o, lut, li, markColor, 0.55);
      else px.set(lut.subarray(li, li + 4), o);
    }
  }
  const tile = document.createElement('canvas');
  tile.width = d.cols;
  tile.height = d.rows;
  tile.getContext('2d')!.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, 0, 0, m.width, m.height);
  // Outlines only where a cell is big enough to show one (below that the tint carries the mark).
  if (m.cell >= 6) {
    ctx.beginPath();
    for (let r = 0; r < d.rows; r++)
      for (let e = d.rowPtr[r]; e < d.rowPtr[r + 1]; e++) if (d.marked[e]) ctx.rect(d.colIdx[e] * m.cell + 1, r * m.cell + 1, m.cell - 2, m.cell - 2);
    ctx.strokeStyle = pick(colors['--pcv-marked'], '#e11d48');
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
  // Grid lines for small blocks help count rows and columns.
  if (m.cell >= 10) {
    ctx.strokeStyle = pick(colors['--panel'], '#ffffff');
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let r = 1; r < d.rows; r++) {
      ctx.moveTo(0, r * m.cell);
      ctx.lineTo(m.width, r * m.cell);
    }
    for (let c = 1; c < d.cols; c++) {
      ctx.moveTo(c * m.cell, 0);
      ctx.lineTo(c * m.cell, m.height);
    }
    ctx.stroke();
  }
}

function lutCss(lut: Uint8ClampedArray, i: number): string {
  return `rgb(${lut[4 * i]},${lut[4 * i + 1]},${lut[4 * i + 2]})`;
}

function drawBipartite(ctx: CanvasRenderingContext2D, d: RegionDetail, vals: Values, b: BipartiteLayout, lut: Uint8ClampedArray, colors: Colors): void {
  const n = lut.length / 4;
  // Edges grouped by flow bucket, weakest first so strong edges end up on top.
  const buckets: number[][] = Array.from({ length: BUCKETS }, () => []);
  const marked: number[] = [];
  for (let r = 0; r < d.rows; r++) {
    for (let e = d.rowPtr[r]; e < d.rowPtr[r + 1]; e++) {
      if (d.marked[e]) marked.push(r, d.colIdx[e]);
      else buckets[Math.min(BUCKETS - 1, Math.floor(logT(vals.values[e], vals.lo, vals.hi) * BUCKETS))].push(r, d.colIdx[e]);
    }
  }
  const nnz = d.colIdx.length;
  // Thousands of lines at full opacity would be a solid blot: thin them as the block fills up.
  const lineWidth = nnz > 8000 ? 0.5 : nnz > 1000 ? 0.8 : 1.2;
  const crowd = Math.min(1, 600 / Math.max(1, nnz));
  ctx.lineWidth = lineWidth;
  const stroke = (pairs: number[]) => {
    ctx.beginPath();
    for (let k = 0; k < pairs.length; k += 2) {
      ctx.moveTo(nodeX(pairs[k], d.rows, b), b.topY);
      ctx.lineTo(nodeX(pairs[k + 1], d.cols, b), b.bottomY);
    }
    ctx.stroke();
  };
  for (let q = 0; q < BUCKETS; q++) {
    if (buckets[q].length === 0) continue;
    const t = (q + 0.5) / BUCKETS;
    ctx.strokeStyle = lutCss(lut, lutIndex(0.25 + 0.75 * t, n));
    ctx.globalAlpha = Math.min(1, 0.04 + t * (0.25 + 0.75 * crowd));
    stroke(buckets[q]);
  }
  if (marked.length > 0) {
    ctx.strokeStyle = pick(colors['--pcv-marked'], '#e11d48');
    ctx.globalAlpha = Math.min(0.9, 0.15 + crowd);
    stroke(marked);
  }
  ctx.globalAlpha = 1;
  drawNodes(ctx, d, b, colors);
}

function drawNodes(ctx: CanvasRenderingContext2D, d: RegionDetail, b: BipartiteLayout, colors: Colors): void {
  const node = pick(colors['--pcv-node'], '#1d2330');
  ctx.fillStyle = node;
  ctx.beginPath();
  for (let r = 0; r < d.rows; r++) {
    ctx.moveTo(nodeX(r, d.rows, b) + b.radius, b.topY);
    ctx.arc(nodeX(r, d.rows, b), b.topY, b.radius, 0, 2 * Math.PI);
  }
  ctx.fill();
  // Products filled with the grey level their input expects (what the pixel looks like in that state).
  ctx.strokeStyle = node;
  ctx.lineWidth = b.radius >= 3 ? 1 : 0.5;
  for (let c = 0; c < d.cols; c++) {
    const g = Math.round(Math.min(255, Math.max(0, d.inputMeans[c] ?? 0)));
    ctx.fillStyle = `rgb(${g},${g},${g})`;
    ctx.beginPath();
    ctx.arc(nodeX(c, d.cols, b), b.bottomY, b.radius, 0, 2 * Math.PI);
    ctx.fill();
    if (b.radius >= 2) ctx.stroke();
  }
  ctx.fillStyle = node;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'bottom';
  ctx.fillText(`${d.rows} sum node${d.rows === 1 ? '' : 's'}`, b.pad, b.topY - b.radius - 3);
  ctx.textBaseline = 'top';
  ctx.fillText(`${d.cols} products (fill = expected intensity)`, b.pad, b.bottomY + b.radius + 3);
}

function drawHover(
  ctx: CanvasRenderingContext2D,
  d: RegionDetail,
  vals: Values,
  h: Hover,
  m: MatrixLayout | null,
  b: BipartiteLayout | null,
  lut: Uint8ClampedArray,
  colors: Colors,
): void {
  const sel = pick(colors['--pcv-selected'], '#111827');
  if (h.kind === 'entry' && m) {
    ctx.strokeStyle = sel;
    ctx.lineWidth = 2;
    const c = Math.max(m.cell, 3);
    ctx.strokeRect(h.col * m.cell - (c - m.cell) / 2, h.row * m.cell - (c - m.cell) / 2, c, c);
    return;
  }
  if (h.kind !== 'node' || !b) return;
  // The hovered node's edges on top, at full strength, coloured by their own flow.
  const n = lut.length / 4;
  ctx.lineWidth = 1.5;
  const one = (r: number, e: number) => {
    ctx.strokeStyle = d.marked[e] ? pick(colors['--pcv-marked'], '#e11d48') : lutCss(lut, lutIndex(0.3 + 0.7 * logT(vals.values[e], vals.lo, vals.hi), n));
    ctx.beginPath();
    ctx.moveTo(nodeX(r, d.rows, b), b.topY);
    ctx.lineTo(nodeX(d.colIdx[e], d.cols, b), b.bottomY);
    ctx.stroke();
  };
  if (h.side === 'row') {
    for (let e = d.rowPtr[h.index]; e < d.rowPtr[h.index + 1]; e++) one(h.index, e);
  } else {
    for (let r = 0; r < d.rows; r++) {
      const e = findEntry(d.rowPtr, d.colIdx, r, h.index);
      if (e >= 0) one(r, e);
    }
  }
  const x = nodeX(h.index, h.side === 'row' ? d.rows : d.cols, b);
  const y = h.side === 'row' ? b.topY : b.bottomY;
  ctx.strokeStyle = sel;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(x, y, b.radius + 3, 0, 2 * Math.PI);
  ctx.stroke();
}

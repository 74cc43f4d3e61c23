// The circuit view: the Chow-Liu tree of the HCLT drawn over the 28x28 pixel grid on a canvas (one
// cell per pixel, one line per tree edge from a pixel to its parent), with a summary of the whole
// circuit beside it. Line width shows the information the edge's flow carries, opacity (and drawing
// order) the information its two pixels share in the data, so background edges sink out of the way,
// line colour how much of the region's sum block is still kept; a pending prune preview turns the regions about to lose edges
// red and fades them out over the preview's hold time; a grow (K increased) animates every node of the
// summary's region splitting in two. Click or keyboard (arrows + Enter) selects a pixel's region.
// Props only; the canvas is redrawn imperatively (no React work per animation frame).

import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import type { CircuitSnapshot, PrunePreview } from '../../worker/protocol.ts';
import { pick, prepareCanvas, useDevicePixelRatio, useElementSize, useThemeColors } from './canvas-hooks.ts';
import { dotGrid, dotGridHeight, growDotPositions, growProgress, GROW_MS } from './grow-anim.ts';
import { keptFractions, moveFocus, pixelAt, pixelCentre, treeSegments } from './grid.ts';
import { edgeWidth, finiteMax, ramp, sqrtShare } from './scales.ts';
import './views.css';

export interface CircuitViewProps {
  snapshot: CircuitSnapshot | null;
  preview: PrunePreview | null;
  /** The selected variable (its region is shown in the region view), or null. */
  selected: number | null;
  onSelect: (variable: number) => void;
}

const COLOR_NAMES = ['--pcv-cell', '--pcv-sparse', '--pcv-dense', '--pcv-removed', '--pcv-selected', '--pcv-focus'] as const;
const MAX_SIZE = 560;
/** Shades of the kept-fraction ramp, computed once per theme instead of once per line per frame. */
const SHADES = 32;
const intFormat = new Intl.NumberFormat('en-US');

function prefersReducedMotion(): boolean {
  return typeof window !== 'undefined' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
}

export function CircuitView({ snapshot, preview, selected, onSelect }: CircuitViewProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const { width: boxWidth } = useElementSize(boxRef);
  const dpr = useDevicePixelRatio();
  const colors = useThemeColors(boxRef, COLOR_NAMES);
  const [focus, setFocus] = useState<number>(() => selected ?? 0);
  const [focused, setFocused] = useState(false);
  const statusId = useId();
  const headingId = useId();

  const side = snapshot?.side ?? 28;
  const numVars = snapshot?.numVars ?? side * side;
  const size = Math.max(0, Math.min(MAX_SIZE, boxWidth));
  const cell = size / side;

  // Geometry and per-region values change only with the snapshot (and the canvas size).
  const derived = useMemo(() => {
    if (!snapshot) return null;
    const segs = treeSegments(snapshot.parent, snapshot.side, cell);
    return {
      segments: segs,
      kept: keptFractions(snapshot.parent, snapshot.regionSize, snapshot.regionEdges),
      maxInfo: finiteMax(snapshot.edgeInformation),
      maxPixelInfo: finiteMax(snapshot.pixelInformation),
      // Edges between pixels that share little information in the data first (so underneath).
      order: Array.from(segs.child.keys()).sort((a, b) => snapshot.pixelInformation[segs.child[a]] - snapshot.pixelInformation[segs.child[b]]),
    };
  }, [snapshot, cell]);

  const shades = useMemo(() => {
    const r = ramp(pick(colors['--pcv-sparse'], '#d97706'), pick(colors['--pcv-dense'], '#2456c7'));
    return Array.from({ length: SHADES + 1 }, (_, i) => r(i / SHADES));
  }, [colors]);

  // When the current preview started showing (its fade runs over preview.holdMs from here).
  const previewAt = useMemo(() => (preview ? performance.now() : 0), [preview]);

  // A selection made elsewhere (e.g. the store restoring it) moves the keyboard focus along.
  useEffect(() => {
    if (selected !== null) setFocus(selected);
  }, [selected]);

  const draw = useCallback(
    (now: number) => {
      const canvas = canvasRef.current;
      if (!canvas) return;
      const ctx = prepareCanvas(canvas, size, size, dpr);
      if (!ctx || !snapshot || !derived) return;
      const fade = preview ? (preview.holdMs > 0 && !prefersReducedMotion() ? Math.min(1, (now - previewAt) / preview.holdMs) : 1) : 0;

      // Cells: a faint grid so the tree reads as lying over the image.
      ctx.fillStyle = pick(colors['--pcv-cell'], '#eef1f5');
      const gap = cell >= 8 ? 1 : 0;
      for (let v = 0; v < numVars; v++) {
        const x = (v % side) * cell;
        const y = Math.floor(v / side) * cell;
        ctx.fillRect(x + gap / 2, y + gap / 2, cell - gap, cell - gap);
      }

      // Tree edges.
      const { segments, kept, maxInfo, maxPixelInfo, order } = derived;
      const maxW = Math.max(1.5, Math.min(6, cell * 0.45));
      const removedColor = pick(colors['--pcv-removed'], '#dc2626');
      ctx.lineCap = 'round';
      const c = segments.coords;
      // Edges between pixels that share little information in the data first, faint and thin, so the
      // tree's structure over the image is on top and readable: the tree also links the constant
      // background pixels (information about 0, ties broken by pixel index, so often by long lines to
      // the first pixels), which would otherwise cover the picture. Width: the information the
      // circuit flow carries across the edge.
      for (const k of order) {
        const v = segments.child[k];
        const shared = pixelShare(snapshot.pixelInformation[v], maxPixelInfo);
        let alpha = 0.06 + 0.94 * shared;
        let stroke = shades[Math.round(kept[v] * SHADES)] ?? shades[0];
        if (preview) {
          const removed = preview.removedPerRegion[v] ?? 0;
          const edges = snapshot.regionEdges[v];
          if (removed > 0) {
            // Fade towards what stays: a region losing all its edges disappears, one losing 10 % dims a little.
            const frac = edges > 0 ? Math.min(1, removed / edges) : 1;
            stroke = removedColor;
            alpha *= 1 - fade * frac * 0.85;
          } else {
            alpha *= 0.45; // Step back so the regions about to change stand out.
          }
        }
        ctx.globalAlpha = alpha;
        ctx.strokeStyle = stroke;
        ctx.lineWidth = edgeWidth(snapshot.edgeInformation[v], maxInfo, 0.6, maxW) * (0.35 + 0.65 * shared);
        ctx.beginPath();
        ctx.moveTo(c[4 * k], c[4 * k + 1]);
        ctx.lineTo(c[4 * k + 2], c[4 * k + 3]);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;

      // Selection: the pixel (solid) and its parent (dashed), whose products are the block's rows.
      const outline = (v: number, colour: string, dash: number[], w: number) => {
        ctx.save();
        ctx.setLineDash(dash);
        ctx.strokeStyle = colour;
        ctx.lineWidth = w;
        ctx.strokeRect((v % side) * cell + w / 2, Math.floor(v / side) * cell + w / 2, cell - w, cell - w);
        ctx.restore();
      };
      if (selected !== null && selected >= 0 && selected < numVars) {
        const sel = pick(colors['--pcv-selected'], '#111827');
        const p = snapshot.parent[selected];
        if (p >= 0) {
          const a = pixelCentre(selected, side, cell);
          const b = pixelCentre(p, side, cell);
          ctx.strokeStyle = sel;
          ctx.lineWidth = Math.max(2, maxW * 0.6);
          ctx.beginPath();
          ctx.moveTo(a.x, a.y);
          ctx.lineTo(b.x, b.y);
          ctx.stroke();
          outline(p, sel, [3, 2], 1.5);
        }
        outline(selected, sel, [], 2);
      }
      if (focused) outline(focus, pick(colors['--pcv-focus'], '#2456c7'), [2, 2], 2);
    },
    [size, dpr, snapshot, derived, preview, previewAt, colors, cell, numVars, side, shades, selected, focused, focus],
  );

  // Redraw on every change; while a preview fades, redraw every frame until its hold time is over.
  useEffect(() => {
    draw(performance.now());
    if (!preview || !(preview.holdMs > 0) || prefersReducedMotion()) return;
    let raf = 0;
    const tick = (now: number) => {
      draw(now);
      if (now - previewAt < preview.holdMs) raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [draw, preview, previewAt]);

  const pointToVar = (e: PointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    return pixelAt(e.clientX - r.left, e.clientY - r.top, side, cell, numVars);
  };
  const onPointerDown = (e: PointerEvent<HTMLCanvasElement>) => {
    const v = pointToVar(e);
    if (v === null || !snapshot) return;
    setFocus(v);
    onSelect(v);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLCanvasElement>) => {
    if (!snapshot) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(focus);
      return;
    }
    const next = moveFocus(focus, e.key, side, numVars);
    if (next !== focus || e.key.startsWith('Arrow')) e.preventDefault();
    setFocus(next);
  };

  const focusText = snapshot ? describePixel(snapshot, focus, preview) : '';

  return (
    <section className="pcv pcv-circuit-view" aria-labelledby={headingId}>
      <h3 id={headingId}>Circuit: the Chow-Liu tree over the pixels</h3>
      <div className="pcv-circuit">
        <div className="pcv-tree-col">
          <div className="pcv-canvas-box" ref={boxRef}>
            {snapshot ? (
              <canvas
                ref={canvasRef}
                data-testid="circuit-canvas"
                tabIndex={0}
                role="application"
                aria-roledescription="pixel grid"
                aria-label={`Chow-Liu tree over ${side} by ${side} pixels. Arrow keys move, Enter selects a pixel's region.`}
                aria-describedby={statusId}
                onPointerDown={onPointerDown}
                onKeyDown={onKeyDown}
                onFocus={() => setFocused(true)}
                onBlur={() => setFocused(false)}
                style={{ cursor: 'pointer' }}
              />
            ) : (
              <p className="pcv-empty">No circuit yet: it appears once the model is built.</p>
            )}
          </div>
          <p id={statusId} className="pcv-caption" aria-live="polite">
            {focused ? focusText : selected !== null && snapshot ? `Selected: ${describePixel(snapshot, selected, preview)}` : ''}
          </p>
          {snapshot ? <TreeLegend maxInfo={derived?.maxInfo ?? 0} maxW={Math.max(1.5, Math.min(6, cell * 0.45))} preview={preview} /> : null}
        </div>
        <CircuitSummary snapshot={snapshot} preview={preview} />
      </div>
    </section>
  );
}

/** 0..1 on a square-root scale: how much information an edge's two pixels share, against the most
 *  any tree edge does (1 when nothing is known, so nothing is hidden). */
function pixelShare(bits: number, maxBits: number): number {
  return maxBits > 0 && Number.isFinite(maxBits) ? sqrtShare(bits, maxBits) : 1;
}

/** One line about pixel v for the live region: position, block fill and information. */
function describePixel(s: CircuitSnapshot, v: number, preview: PrunePreview | null): string {
  const p = s.parent[v];
  const rows = p >= 0 ? s.regionSize[p] : 1;
  const full = rows * s.regionSize[v];
  const info = s.edgeInformation[v];
  const shared = s.pixelInformation[v];
  const removed = preview?.removedPerRegion[v] ?? 0;
  return (
    `Pixel ${v} (column ${v % s.side}, row ${Math.floor(v / s.side)}), ` +
    (p >= 0 ? `parent ${p}: ` : 'root: ') +
    `${intFormat.format(s.regionEdges[v])} of ${intFormat.format(full)} edges kept, ` +
    `flow information ${Number.isFinite(info) ? info.toFixed(3) : '0'} bits, pixels share ${Number.isFinite(shared) ? shared.toFixed(3) : '0'} bits` +
    (removed > 0 ? `, ${intFormat.format(removed)} to be pruned.` : '.')
  );
}

function TreeLegend({ maxInfo, maxW, preview }: { maxInfo: number; maxW: number; preview: PrunePreview | null }) {
  const samples = [0, 0.25, 1].map((f) => f * maxInfo);
  return (
    <div aria-label="Legend of the tree drawing" role="group">
      <p className="pcv-width-legend">
        <span className="pcv-legend-title">Line width = information the circuit flow carries (bits, square-root scale):</span>
        {samples.map((b, i) => (
          <span key={i} style={{ display: 'inline-flex', alignItems: 'center', gap: '0.25rem' }}>
            <svg width="22" height="10" aria-hidden="true">
              <line x1="1" x2="21" y1="5" y2="5" stroke="currentColor" strokeWidth={edgeWidth(b, maxInfo, 0.6, maxW)} strokeLinecap="round" />
            </svg>
            {b.toFixed(b > 0 && b < 0.01 ? 4 : 2)}
          </span>
        ))}
      </p>
      <p className="pcv-caption">
        Faint, thin and underneath = the two pixels share little information in the training images (background pixels, which the tree links arbitrarily); solid
        = they share the most.
      </p>
      <p className="pcv-width-legend">
        <span className="pcv-legend-title">Colour = share of the block's edges kept:</span>
        <span>0 %</span>
        <span className="pcv-ramp kept" aria-hidden="true" />
        <span>100 %</span>
      </p>
      {preview ? (
        <p className="pcv-caption">
          <span style={{ color: 'var(--pcv-removed)', fontWeight: 600 }}>Red</span> = regions losing edges in the coming prune (
          {intFormat.format(preview.removed)} edges); they fade as the prune nears.
        </p>
      ) : null}
    </div>
  );
}

interface GrowAnim {
  from: number;
  to: number;
  start: number;
}

/** The whole-circuit figures and a region's K nodes as dots (which split when a grow doubles K). */
function CircuitSummary({ snapshot, preview }: { snapshot: CircuitSnapshot | null; preview: PrunePreview | null }) {
  const prevK = useRef<number>(0);
  const [anim, setAnim] = useState<GrowAnim | null>(null);
  const [t, setT] = useState(1);
  const K = snapshot?.K ?? 0;

  useEffect(() => {
    if (prevK.current > 0 && K > prevK.current && !prefersReducedMotion()) {
      setAnim({ from: prevK.current, to: K, start: performance.now() });
      setT(0);
    }
    prevK.current = K;
  }, [K]);

  useEffect(() => {
    if (!anim) return;
    let raf = 0;
    const tick = (now: number) => {
      const p = growProgress(now - anim.start, GROW_MS);
      setT(p);
      if (p < 1) raf = requestAnimationFrame(tick);
      else setAnim(null);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [anim]);

  if (!snapshot) return <div className="pcv-summary" />;
  // More than 128 dots stop reading as separate nodes: one dot then stands for `per` nodes.
  const target = anim ? anim.to : K;
  let per = 1;
  while (target / per > 128) per *= 2;
  const from = anim ? Math.max(1, Math.round(anim.from / per)) : 0;
  const to = Math.max(1, Math.round(target / per));
  const grid = dotGrid(to, 16, 12);
  const positions = growDotPositions(anim ? from : to, to, anim ? t : 1, 16, 12);
  const w = grid.cols * grid.gap;
  const h = dotGridHeight(grid);

  const rows: [string, number, string][] = [
    ['K (nodes per region)', snapshot.K, 'summary-k'],
    ['Layers', snapshot.layers, 'summary-layers'],
    ['Input nodes', snapshot.nodes.inputs, 'summary-inputs'],
    ['Product nodes', snapshot.nodes.products, 'summary-products'],
    ['Sum nodes', snapshot.nodes.sums, 'summary-sums'],
    ['Sum edges', snapshot.edges, 'summary-edges'],
    ['Parameters', snapshot.params, 'summary-params'],
  ];
  return (
    <div className="pcv-summary">
      <dl aria-label="Whole circuit">
        {rows.map(([label, value, testId]) => (
          <div key={label} style={{ display: 'contents' }}>
            <dt>{label}</dt>
            <dd data-testid={testId}>{intFormat.format(value)}</dd>
          </div>
        ))}
        {preview ? (
          <div style={{ display: 'contents' }}>
            <dt>Edges after prune</dt>
            <dd>{intFormat.format(Math.max(0, snapshot.edges - preview.removed))}</dd>
          </div>
        ) : null}
      </dl>
      <p className="pcv-caption">
        The {intFormat.format(snapshot.K)} nodes of a region{per > 1 ? ` (one dot = ${per} nodes)` : ''}
        {anim ? ': growing, every node splits in two' : ''}
      </p>
      <svg
        className="pcv-dots"
        width={w}
        height={h}
        role="img"
        aria-label={`${snapshot.K} nodes per region${anim ? ', splitting after a grow' : ''}`}
        data-testid="grow-dots"
        data-animating={anim ? 'true' : 'false'}
      >
        {Array.from({ length: grid.count }, (_, j) => (
          <circle key={j} className={anim && j >= from ? 'copy' : undefined} cx={positions[2 * j]} cy={positions[2 * j + 1]} r={Math.min(4, grid.gap * 0.35)} />
        ))}
      </svg>
    </div>
  );
}

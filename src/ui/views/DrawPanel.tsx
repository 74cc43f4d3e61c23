// "Draw a digit": the visitor draws with mouse, pen or touch; while they draw, the drawing is
// preprocessed like MNIST (src/data/preprocess.ts) and scored by the model (log-likelihood, bpd, where
// it falls among the validation digits, and the per-pixel surprise log p(x_i | rest) as a heatmap).
// In "Erase to fill in" mode the visitor paints over part of the canvas; those 28x28 pixels become
// missing and "Fill in" asks the model for completions. Props-driven (the page passes the queries);
// the timing rules of live scoring live in the pure state machine draw-live.ts, the geometry in
// draw-raster.ts / draw-mask.ts, the colours in draw-colour.ts.

import { useCallback, useEffect, useId, useMemo, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';
import { MNIST_SIDE, preprocessDrawing } from '../../data/preprocess.ts';
import type { Histogram, ImagesResult, ScoreResult } from '../../worker/protocol.ts';
import { infernoGradientCss, SURPRISE_SCALE_NATS, surpriseToRgba } from './draw-colour.ts';
import { betterThanPercent } from './draw-histogram.ts';
import { changed, finished, flushed, initialLiveState, plan, reset, skipped, started, type LiveState } from './draw-live.ts';
import { countMissing, drawingTransform, missingMask } from './draw-mask.ts';
import { createRaster, hasInk, paintSegment, type Raster } from './draw-raster.ts';
import { SampleGrid } from './SampleGrid.tsx';
import './draw.css';

export interface DrawPanelProps {
  /** A model exists: scoring and filling in work (drawing always does). */
  enabled: boolean;
  score(pixels: Uint8Array): Promise<ScoreResult>;
  inpaint(pixels: Uint8Array, missing: Uint8Array, count: number, seed: number): Promise<ImagesResult>;
  /** Per-image validation bpd, to place the drawing among real digits; null until known. */
  distribution: Histogram | null;
  /** Called (once per need) when a score is shown but no distribution is known yet. */
  onNeedDistribution?(): void;
  /** Changes whenever the model does (after training steps, an import): the drawing is scored again. */
  modelVersion?: number | string;
}

/** Raster (and canvas backing) side: 10 canvas pixels per MNIST pixel of a full-size digit. */
export const DRAW_SIDE = 280;
/** Ink brush radius: a 22-pixel stroke over a ~200-pixel digit is MNIST's 2-3 pixels after the 20x20 fit. */
export const INK_RADIUS = 11;
/** Erasing marks regions, not strokes: a broad brush. */
export const ERASE_RADIUS = 20;
/** Completions per "Fill in". */
export const FILL_COUNT = 8;

type Mode = 'draw' | 'erase';

interface Scored {
  result: ScoreResult;
}

/** The veil over erased canvas regions (a hatched blue, visible on black and on white ink). */
const ERASE_RGB: readonly [number, number, number] = [70, 130, 255];

/** Paints ink (white on black, as MNIST) with the erased regions veiled and hatched. */
function renderCanvas(ctx: CanvasRenderingContext2D, ink: Raster, erase: Raster): void {
  const { width, height } = ink;
  const img = ctx.createImageData(width, height);
  const d = img.data;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = y * width + x;
      const v = ink.data[k];
      let r = v;
      let g = v;
      let b = v;
      const e = erase.data[k];
      if (e) {
        // Diagonal hatching: the erased region reads as "removed" without relying on colour alone.
        const a = (e / 255) * (((x + y) >> 3) & 1 ? 0.75 : 0.5);
        r = r * (1 - a) + ERASE_RGB[0] * a;
        g = g * (1 - a) + ERASE_RGB[1] * a;
        b = b * (1 - a) + ERASE_RGB[2] * a;
      }
      d[4 * k] = r;
      d[4 * k + 1] = g;
      d[4 * k + 2] = b;
      d[4 * k + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

/** A 28x28 gray image with missing cells tinted like the canvas veil. */
function digitRgba(pixels: Uint8Array, missing: Uint8Array | null): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(pixels.length * 4);
  for (let k = 0; k < pixels.length; k++) {
    const v = pixels[k];
    const m = missing?.[k] ? 0.6 : 0;
    out[4 * k] = v * (1 - m) + ERASE_RGB[0] * m;
    out[4 * k + 1] = v * (1 - m) + ERASE_RGB[1] * m;
    out[4 * k + 2] = v * (1 - m) + ERASE_RGB[2] * m;
    out[4 * k + 3] = 255;
  }
  return out;
}

/** A 28x28 canvas scaled up crisply, drawn from RGBA bytes. */
function PixelCanvas({ rgba, label, testId }: { rgba: Uint8ClampedArray<ArrayBuffer> | null; label: string; testId?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (!ctx) return;
    if (rgba) ctx.putImageData(new ImageData(rgba, MNIST_SIDE, MNIST_SIDE), 0, 0);
    else {
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, MNIST_SIDE, MNIST_SIDE);
    }
  }, [rgba]);
  return <canvas ref={ref} className="draw-pixels" width={MNIST_SIDE} height={MNIST_SIDE} role="img" aria-label={label} data-testid={testId} />;
}

/** Bars of the validation bpd histogram with a marker where the drawing falls. */
function DistributionChart({ h, bpd }: { h: Histogram; bpd: number }) {
  const W = 240;
  const H = 56;
  const n = h.counts.length;
  let top = 1;
  for (let i = 0; i < n; i++) top = Math.max(top, h.counts[i]);
  const x = (v: number): number => ((v - h.min) / (h.max - h.min)) * W;
  const mx = Math.max(1, Math.min(W - 1, x(bpd)));
  const outside = bpd < h.min ? 'below' : bpd > h.max ? 'above' : null;
  return (
    <svg
      className="draw-dist"
      viewBox={`0 0 ${W} ${H + 14}`}
      role="img"
      aria-label={`Histogram of validation digits' bpd from ${h.min.toFixed(2)} to ${h.max.toFixed(2)}; your drawing at ${bpd.toFixed(2)}${outside ? `, ${outside} the range` : ''}.`}
    >
      {Array.from(h.counts, (c, i) => {
        const bh = (c / top) * (H - 4);
        return <rect key={i} className="draw-dist-bar" x={(i * W) / n + 0.5} width={Math.max(0.5, W / n - 1)} y={H - bh} height={bh} />;
      })}
      <line className="draw-dist-marker" x1={mx} x2={mx} y1={0} y2={H} />
      <text className="draw-dist-tick" x={0} y={H + 12}>
        {h.min.toFixed(2)}
      </text>
      <text className="draw-dist-tick" x={W} y={H + 12} textAnchor="end">
        {h.max.toFixed(2)} bpd
      </text>
    </svg>
  );
}

export function DrawPanel({ enabled, score, inpaint, distribution, onNeedDistribution, modelVersion }: DrawPanelProps) {
  const headingId = useId();
  const hintId = useId();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const ink = useRef<Raster>(createRaster(DRAW_SIDE, DRAW_SIDE));
  const erase = useRef<Raster>(createRaster(DRAW_SIDE, DRAW_SIDE));
  const live = useRef<LiveState>(initialLiveState());
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const stroke = useRef<{ id: number; x: number; y: number; mode: Mode } | null>(null);
  const frame = useRef<number | null>(null);
  const alive = useRef(true);
  // The latest props, read by callbacks that outlive a render (answers, timers).
  const props = useRef({ enabled, score, inpaint });
  props.current = { enabled, score, inpaint };

  const [mode, setMode] = useState<Mode>('draw');
  const [drawn, setDrawn] = useState(false);
  /** What the model sees now (28x28) and which of its pixels are erased. */
  const [view, setView] = useState<{ pixels: Uint8Array; missing: Uint8Array } | null>(null);
  const [scored, setScored] = useState<Scored | null>(null);
  const [scoreError, setScoreError] = useState<string | null>(null);
  /** Spoken summary, updated when a stroke ends (not on every live update). */
  const [announcement, setAnnouncement] = useState('');
  const [fill, setFill] = useState<{ images: ImagesResult; missing: Uint8Array; seed: number } | null>(null);
  const [filling, setFilling] = useState(false);
  const [fillError, setFillError] = useState<string | null>(null);
  const fillSeed = useRef(1);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      // Nulled too: StrictMode remounts, and a stale handle would block every later timer or frame.
      if (timer.current !== null) clearTimeout(timer.current);
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      timer.current = null;
      frame.current = null;
    };
  }, []);

  const scheduleRender = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      const ctx = canvasRef.current?.getContext('2d');
      if (ctx) renderCanvas(ctx, ink.current, erase.current);
    });
  }, []);

  useEffect(() => {
    scheduleRender();
  }, [scheduleRender]);

  /** Recomputes the 28x28 image and missing mask (after a stroke, a clear). */
  const updateView = useCallback(() => {
    const { data } = ink.current;
    const pixels = preprocessDrawing(data, DRAW_SIDE, DRAW_SIDE);
    const t = drawingTransform(data, DRAW_SIDE, DRAW_SIDE);
    setView({ pixels, missing: missingMask(erase.current.data, DRAW_SIDE, DRAW_SIDE, t) });
    setDrawn(hasInk(ink.current));
  }, []);

  /** Runs the live-scoring state machine: send, set a timer, or nothing. */
  const pump = useCallback(() => {
    const now = performance.now();
    const p = plan(live.current, now);
    if (p.kind === 'idle') return;
    if (p.kind === 'wait') {
      if (timer.current === null) {
        timer.current = setTimeout(
          () => {
            timer.current = null;
            pump();
          },
          Math.max(0, p.at - now),
        );
      }
      return;
    }
    if (!props.current.enabled || !hasInk(ink.current)) {
      // Nothing to ask: no model, or nothing drawn (no score call for an empty canvas).
      live.current = skipped(live.current);
      return;
    }
    const pixels = preprocessDrawing(ink.current.data, DRAW_SIDE, DRAW_SIDE);
    live.current = started(live.current, now);
    // The preview follows the strokes at the scoring rate; the missing mask is redone when the stroke ends.
    setView((v) => ({ pixels, missing: v?.missing ?? new Uint8Array(MNIST_SIDE * MNIST_SIDE) }));
    const version = p.version;
    const done = (result: ScoreResult | null, error: unknown): void => {
      const f = finished(live.current, version);
      live.current = f.state;
      if (!alive.current) return;
      if (f.accept) {
        if (result) {
          setScored({ result });
          setScoreError(null);
          if (!stroke.current) setAnnouncement(`Log-likelihood ${result.logLikelihood.toFixed(1)} nats, ${result.bpd.toFixed(3)} bits per dimension.`);
        } else setScoreError(error instanceof Error ? error.message : String(error));
      }
      pump();
    };
    props.current.score(pixels).then(
      (r) => done(r, null),
      (e: unknown) => done(null, e),
    );
  }, []);

  // A new model (or the first one): results so far are stale; score the drawing again.
  useEffect(() => {
    live.current = reset(live.current, enabled);
    setScored(null);
    setScoreError(null);
    pump();
  }, [enabled, modelVersion, pump]);

  const needDistribution = enabled && scored !== null && distribution === null;
  const needRef = useRef(onNeedDistribution);
  needRef.current = onNeedDistribution;
  useEffect(() => {
    // Once per transition into "needed" (not on every score): the parent asks the model, and the
    // answer arrives as the `distribution` prop.
    if (needDistribution) needRef.current?.();
  }, [needDistribution]);

  const point = (e: { clientX: number; clientY: number }): [number, number] => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return [((e.clientX - rect.left) * DRAW_SIDE) / rect.width, ((e.clientY - rect.top) * DRAW_SIDE) / rect.height];
  };

  const paint = (m: Mode, ax: number, ay: number, bx: number, by: number): void => {
    if (m === 'draw') paintSegment(ink.current, ax, ay, bx, by, INK_RADIUS);
    else paintSegment(erase.current, ax, ay, bx, by, ERASE_RADIUS);
  };

  const onPointerDown = (e: ReactPointerEvent<HTMLCanvasElement>): void => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (stroke.current) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture(e.pointerId);
    const [x, y] = point(e);
    stroke.current = { id: e.pointerId, x, y, mode };
    paint(mode, x, y, x, y);
    if (mode === 'draw') {
      live.current = changed(live.current);
      pump();
    }
    scheduleRender();
  };

  const onPointerMove = (e: ReactPointerEvent<HTMLCanvasElement>): void => {
    const s = stroke.current;
    if (!s || s.id !== e.pointerId) return;
    // Coalesced events keep fast strokes smooth (the browser may deliver one move per frame).
    const native = e.nativeEvent;
    const events = typeof native.getCoalescedEvents === 'function' ? native.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [native]) {
      const [x, y] = point(ev);
      paint(s.mode, s.x, s.y, x, y);
      s.x = x;
      s.y = y;
    }
    if (s.mode === 'draw') {
      live.current = changed(live.current);
      pump();
    }
    scheduleRender();
  };

  const endStroke = (e: ReactPointerEvent<HTMLCanvasElement>): void => {
    const s = stroke.current;
    if (!s || s.id !== e.pointerId) return;
    stroke.current = null;
    if (s.mode === 'draw') {
      live.current = flushed(live.current);
      pump();
    }
    updateView();
  };

  const clear = (): void => {
    ink.current.data.fill(0);
    erase.current.data.fill(0);
    live.current = reset(live.current, false);
    setScored(null);
    setScoreError(null);
    setFill(null);
    setFillError(null);
    setAnnouncement('Cleared.');
    updateView();
    scheduleRender();
  };

  const clearErased = (): void => {
    erase.current.data.fill(0);
    updateView();
    scheduleRender();
  };

  const missingCount = view ? countMissing(view.missing) : 0;

  const fillIn = (): void => {
    if (!view) return;
    const seed = fillSeed.current++;
    const { pixels, missing } = view;
    setFilling(true);
    setFillError(null);
    props.current.inpaint(pixels, missing, FILL_COUNT, seed).then(
      (images) => {
        if (!alive.current) return;
        setFill({ images, missing, seed });
        setFilling(false);
      },
      (e: unknown) => {
        if (!alive.current) return;
        setFillError(e instanceof Error ? e.message : String(e));
        setFilling(false);
      },
    );
  };

  const result = scored?.result ?? null;
  const previewRgba = useMemo(() => (view ? digitRgba(view.pixels, view.missing) : null), [view]);
  const surpriseRgba = useMemo(() => (result ? surpriseToRgba(result.surprise) : null), [result]);
  const better = result && distribution ? betterThanPercent(distribution, result.bpd) : null;
  let hottest = 0;
  if (result) for (let k = 0; k < result.surprise.length; k++) if (-result.surprise[k] >= SURPRISE_SCALE_NATS / 2) hottest++;

  return (
    <section className="draw-panel" aria-labelledby={headingId}>
      <h3 id={headingId} className="draw-heading">
        Draw a digit
      </h3>
      <div className="draw-layout">
        <div className="draw-pad">
          <canvas
            ref={canvasRef}
            className={`draw-canvas${mode === 'erase' ? ' draw-canvas-erase' : ''}`}
            width={DRAW_SIDE}
            height={DRAW_SIDE}
            aria-label="Draw a digit"
            aria-describedby={hintId}
            data-testid="draw-canvas"
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={endStroke}
            onPointerCancel={endStroke}
            onLostPointerCapture={endStroke}
          />
          <div className="draw-row">
            <button type="button" onClick={clear}>
              Clear
            </button>
            <button type="button" aria-pressed={mode === 'erase'} onClick={() => setMode(mode === 'erase' ? 'draw' : 'erase')}>
              Erase to fill in
            </button>
            <button type="button" className="primary" onClick={fillIn} disabled={!enabled || filling || missingCount === 0}>
              Fill in
            </button>
          </div>
          <p id={hintId} className="draw-hint">
            {!enabled
              ? 'No model yet: you can draw, and your digit is scored once a model is trained or loaded.'
              : mode === 'erase'
                ? 'Paint over the part of your digit the model should fill in, then press "Fill in".'
                : !drawn
                  ? 'Draw a digit from 0 to 9 with the mouse, a pen or a finger: the model scores it as you draw.'
                  : missingCount === 0
                    ? 'Press "Erase to fill in" and paint over part of the digit to let the model complete it.'
                    : 'Press "Fill in" for completions of the erased pixels.'}
            {missingCount > 0 && (
              <>
                {' '}
                <span data-testid="draw-missing">{missingCount}</span> of {MNIST_SIDE * MNIST_SIDE} pixels erased.
              </>
            )}
          </p>
          {missingCount > 0 && (
            <button type="button" className="draw-link" onClick={clearErased}>
              Un-erase all ({missingCount} pixels)
            </button>
          )}
        </div>

        <div className="draw-results">
          <dl className="draw-stats">
            <div>
              <dt>log p(x)</dt>
              <dd>
                <span data-testid="draw-ll">{result ? result.logLikelihood.toFixed(2) : '–'}</span> nats
              </dd>
            </div>
            <div>
              <dt>bits per dimension</dt>
              <dd data-testid="draw-bpd">{result ? result.bpd.toFixed(4) : '–'}</dd>
            </div>
          </dl>
          {scoreError && (
            <p className="draw-error" role="alert">
              Scoring failed: {scoreError}
            </p>
          )}
          <div className="draw-placement">
            {result && distribution && (
              <>
                <DistributionChart h={distribution} bpd={result.bpd} />
                <p data-testid="draw-percentile">
                  {better === null ? 'No validation digits to compare with.' : `Better than ${better} % of validation digits.`}
                </p>
              </>
            )}
            {result && !distribution && enabled && <p className="draw-muted">Measuring the validation digits…</p>}
          </div>
          <div className="draw-maps">
            <figure className="draw-figure">
              <PixelCanvas
                rgba={previewRgba}
                label={`What the model sees: your drawing at 28 by 28 pixels${missingCount ? `, ${missingCount} pixels erased` : ''}`}
                testId="draw-preview"
              />
              <figcaption className="draw-muted">What the model sees (28×28)</figcaption>
            </figure>
            <figure className="draw-figure">
              <PixelCanvas
                rgba={surpriseRgba}
                label={result ? `Surprise heatmap: ${hottest} pixels above ${SURPRISE_SCALE_NATS / 2} nats` : 'Surprise heatmap: nothing scored yet'}
                testId="draw-surprise"
              />
              <figcaption className="draw-muted">Surprise −log p(xᵢ | rest)</figcaption>
            </figure>
          </div>
          <div className="draw-legend" aria-hidden="true">
            <div className="draw-legend-bar" style={{ background: infernoGradientCss() }} />
            <div className="draw-legend-ticks">
              <span>0</span>
              <span>{SURPRISE_SCALE_NATS / 2}</span>
              <span>≥ {SURPRISE_SCALE_NATS} nats</span>
            </div>
          </div>
          <p className="draw-muted draw-small">Brighter = more surprising to the model given every other pixel.</p>
          <p className="draw-sr" aria-live="polite">
            {announcement}
          </p>
        </div>
      </div>

      {(fill || fillError || filling) && (
        <div className="draw-fill">
          {fillError && (
            <p className="draw-error" role="alert">
              Fill in failed: {fillError}
            </p>
          )}
          {filling && <p className="draw-muted">Filling in…</p>}
          {fill && (
            <figure className="draw-figure">
              <SampleGrid
                images={fill.images}
                columns={4}
                label={`Completions of the erased pixels, seed ${fill.seed}`}
                missing={fill.missing}
                testId="fill-grid"
              />
              <figcaption className="draw-muted">
                <span data-testid="fill-count">{fill.images.count}</span> completions: your pixels kept, the erased ones (amber) drawn from p(x
                <sub>missing</sub> | x<sub>observed</sub>).
              </figcaption>
            </figure>
          )}
        </div>
      )}
    </section>
  );
}

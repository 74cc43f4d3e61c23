// Grids of 28x28 digits on one canvas (unconditional samples, inpainting completions), and the
// "Draw samples" panel. Props-driven: the page passes the query functions; nothing here reads the
// store. The canvas holds one backing pixel per image pixel and is scaled up by a whole factor in CSS
// with pixelated rendering, so digits stay crisp at any zoom.

import { useEffect, useId, useRef, useState } from 'react';
import type { ImagesResult } from '../../worker/protocol.ts';
import { gridLayout, imagesToRgba } from './draw-grid.ts';
import './draw.css';

export interface SampleGridProps {
  images: ImagesResult | null;
  /** Images per row (fewer when there are fewer images). */
  columns: number;
  /** Accessible name of the grid (the image count is appended). */
  label: string;
  /** CSS pixels per image pixel (whole, for crisp pixels). Default 3. */
  scale?: number;
  /** 28x28 mask of pixels the model filled in (1): drawn in a warm tint. */
  missing?: Uint8Array | null;
  testId?: string;
}

export function SampleGrid({ images, columns, label, scale = 3, missing = null, testId }: SampleGridProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const count = images?.count ?? 0;
  const layout = gridLayout(count, columns);

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || !images) return;
    const { layout: l, rgba } = imagesToRgba(images.pixels, images.count, columns, missing);
    canvas.width = l.width;
    canvas.height = l.height;
    ctx.putImageData(new ImageData(rgba, l.width, l.height), 0, 0);
  }, [images, columns, missing]);

  if (!images || images.count === 0) return null;
  const s = Math.max(1, Math.round(scale));
  return (
    <canvas
      ref={canvasRef}
      className="draw-grid-canvas"
      role="img"
      aria-label={`${label} (${images.count} image${images.count === 1 ? '' : 's'})`}
      data-testid={testId}
      data-count={images.count}
      width={layout.width}
      height={layout.height}
      style={{ width: `${layout.width * s}px`, height: `${layout.height * s}px` }}
    />
  );
}

export interface SamplePanelProps {
  /** A model exists (else the button is off and a hint says why). */
  enabled: boolean;
  sample(count: number, seed: number): Promise<ImagesResult>;
  /** Draws per click (default 16). */
  count?: number;
  /** Grid columns (default 8). */
  columns?: number;
  /** First seed (default 1); every click uses the next one, so each click shows new digits. */
  initialSeed?: number;
}

export function SamplePanel({ enabled, sample, count = 16, columns = 8, initialSeed = 1 }: SamplePanelProps) {
  const headingId = useId();
  const [seed, setSeed] = useState(initialSeed);
  const [shown, setShown] = useState<{ images: ImagesResult; seed: number } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Answers that come back after unmount must not set state.
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const draw = (): void => {
    const s = seed;
    setSeed(s + 1);
    setBusy(true);
    setError(null);
    sample(count, s).then(
      (images) => {
        if (!alive.current) return;
        setShown({ images, seed: s });
        setBusy(false);
      },
      (e: unknown) => {
        if (!alive.current) return;
        setError(e instanceof Error ? e.message : String(e));
        setBusy(false);
      },
    );
  };

  return (
    <section className="draw-samples" aria-labelledby={headingId}>
      <h3 id={headingId} className="draw-heading">
        Samples from the model
      </h3>
      <div className="draw-row">
        <button type="button" className="primary" onClick={draw} disabled={!enabled || busy}>
          Draw samples
        </button>
        <span className="draw-muted">
          Next seed <span data-testid="sample-seed">{seed}</span>
        </span>
      </div>
      {!enabled && <p className="draw-hint">No model yet: train or load one, then draw samples from it.</p>}
      {error && (
        <p className="draw-error" role="alert">
          {error}
        </p>
      )}
      {shown && (
        <figure className="draw-figure">
          <SampleGrid images={shown.images} columns={columns} label={`Samples, seed ${shown.seed}`} testId="sample-grid" />
          <figcaption className="draw-muted">
            <span data-testid="sample-count">{shown.images.count}</span> independent draws x ~ p(x), seed {shown.seed}.
          </figcaption>
        </figure>
      )}
    </section>
  );
}

// The experiments' charts, in one place for the CLI and the page: a plot model (panels of series),
// a layout step that turns it into positioned primitives with d3 scales and paths (pure; d3-scale and
// d3-shape run in Node and in workers), and a dependency-free SVG writer for the CLI's <name>.svg.
// The playground's ExperimentsView renders the same layout as JSX, so the file and the page agree.
//
// Points with a non-finite coordinate (a vacuous bound, a missing value) are dropped here, once, so
// no NaN ever reaches an SVG attribute.

import { line as d3line, scaleLinear, scaleLog, type ScaleContinuousNumeric } from 'd3';

export interface Series {
  label: string;
  /** A colour with at least 3:1 contrast on white (the chart background). */
  color: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** SVG stroke-dasharray, e.g. "6 3"; absent: solid. */
  dash?: string;
  /** Draw the connecting line (default true) and/or a dot per point (default true). */
  line?: boolean;
  dots?: boolean;
  /** Text next to each point (same length as points), e.g. a round or a K. */
  pointLabels?: ReadonlyArray<string>;
  /** A shaded range per x: [x, low, high] (e.g. min..max over random seeds). */
  band?: ReadonlyArray<readonly [number, number, number]>;
}

/** A horizontal reference line (a threshold, a reference figure). */
export interface RefLine {
  label: string;
  y: number;
  color: string;
  dash?: string;
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  xScale?: 'linear' | 'log';
  yScale?: 'linear' | 'log';
  /** Draw x decreasing to the right (e.g. "fraction of edges kept" going from 1 down). */
  reverseX?: boolean;
  series: Series[];
  refLines?: RefLine[];
}

export interface Figure {
  title: string;
  subtitle?: string;
  panels: Panel[];
  /** Small print under the chart (data, sizes, seconds). */
  note?: string;
}

export interface Tick {
  pos: number;
  label: string;
}

export interface PathPrim {
  d: string;
  color: string;
  dash?: string;
  label: string;
}

export interface DotPrim {
  cx: number;
  cy: number;
  color: string;
  label: string;
  text?: string;
}

export interface PanelLayout {
  title: string;
  /** The plot area. */
  left: number;
  top: number;
  right: number;
  bottom: number;
  xTicks: Tick[];
  yTicks: Tick[];
  xLabel: string;
  yLabel: string;
  bands: Array<{ d: string; color: string }>;
  refLines: Array<{ y: number; color: string; dash?: string; label: string }>;
  paths: PathPrim[];
  dots: DotPrim[];
  /** One sentence of what the panel shows, for screen readers. */
  description: string;
}

export interface LegendItem {
  label: string;
  color: string;
  dash?: string;
  x: number;
  y: number;
}

export interface FigureLayout {
  width: number;
  height: number;
  title: string;
  /** The subtitle wrapped to the width (one entry per line; empty without a subtitle). */
  subtitleLines: string[];
  note?: string;
  legend: LegendItem[];
  panels: PanelLayout[];
}

const MARGIN = { top: 26, right: 16, bottom: 44, left: 62 };
/** Title baseline 20, subtitle lines from 38 every SUBTITLE_LINE px. */
const TITLE_H = 28;
const SUBTITLE_LINE = 16;
/** Average advance of a 12 px system-font character, for wrapping and legend spacing. */
const CHAR_W = 6.6;
const LEGEND_ROW = 18;
const NOTE_H = 20;

const finite = (v: number): boolean => Number.isFinite(v);
/** Rounded to 0.01 px: short attributes, and identical output for identical input. */
const r2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * Tick labels: thousands as "k" and millions as "M"; otherwise as many decimals as the tick spacing
 * `step` needs (so neighbouring ticks never read the same), or 3 significant digits without one.
 */
export function formatTick(v: number, step?: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a === 0) return '0';
  if (step !== undefined && step > 0 && Number.isFinite(step)) {
    const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
    return String(+v.toFixed(Math.min(decimals + (Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6 ? 1 : 0), 12)));
  }
  return String(+v.toPrecision(3));
}

function extent(values: number[], log: boolean): [number, number] {
  const vs = values.filter((v) => finite(v) && (!log || v > 0));
  if (vs.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (log) {
    if (lo === hi) return [lo / 1.5, hi * 1.5];
    const pad = Math.pow(hi / lo, 0.05);
    return [lo / pad, hi * pad];
  }
  if (lo === hi) {
    const d = Math.abs(lo) * 0.05 || 0.5;
    return [lo - d, hi + d];
  }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

function makeScale(kind: 'linear' | 'log', domain: [number, number], range: [number, number]): ScaleContinuousNumeric<number, number> {
  return (kind === 'log' ? scaleLog() : scaleLinear()).domain(domain).range(range);
}

function ticksOf(s: ScaleContinuousNumeric<number, number>, log: boolean, count: number): Tick[] {
  let ts = s.ticks(count);
  if (log && ts.length > count + 2) {
    // A log scale lists every integer multiple; keep the ones that read well.
    const keep = ts.filter((t) => {
      const m = t / Math.pow(10, Math.floor(Math.log10(t) + 1e-9));
      return Math.abs(m - 1) < 1e-9 || Math.abs(m - 2) < 1e-9 || Math.abs(m - 5) < 1e-9;
    });
    if (keep.length >= 2) ts = keep;
  }
  // Narrow log domains list every tick (0.0007, 0.0008, ...): thin them until the labels fit.
  while (ts.length > count + 1) ts = ts.filter((_, i) => i % 2 === 0);
  // Linear ticks are evenly spaced: label them to the spacing's precision.
  const step = !log && ts.length > 1 ? Math.abs(ts[1] - ts[0]) : undefined;
  return ts.filter(finite).map((t) => ({ pos: r2(s(t)), label: formatTick(t, step) }));
}

function describePanel(p: Panel): string {
  const parts = p.series
    .filter((s) => s.points.some(([x, y]) => finite(x) && finite(y)))
    .map((s) => {
      const pts = s.points.filter(([x, y]) => finite(x) && finite(y));
      const ys = pts.map((q) => q[1]);
      return `${s.label}: ${pts.length} point${pts.length === 1 ? '' : 's'}, ${p.yLabel} from ${formatTick(Math.min(...ys))} to ${formatTick(Math.max(...ys))}`;
    });
  return `${p.title}. ${p.yLabel} against ${p.xLabel}. ${parts.join('; ')}.`;
}

/**
 * Positions everything: panels side by side (one row when the width allows ~300 px each, otherwise
 * stacked), a shared legend above them, scales fitted to the data (and reference lines).
 */
export function layoutFigure(fig: Figure, width = 960, panelHeight = 300): FigureLayout {
  const n = Math.max(1, fig.panels.length);
  const perRow = width / n >= 300 ? n : 1;
  const panelW = width / perRow;
  // Legend: every distinct series / reference line label once, wrapped into rows.
  const legend: LegendItem[] = [];
  const seen = new Set<string>();
  const subtitleLines = fig.subtitle ? wrapText(fig.subtitle, Math.max(20, Math.floor((width - MARGIN.left - 8) / CHAR_W))) : [];
  let lx = MARGIN.left;
  let ly = TITLE_H + SUBTITLE_LINE * subtitleLines.length + 4;
  const add = (label: string, color: string, dash?: string): void => {
    if (seen.has(label)) return;
    seen.add(label);
    const w = 34 + label.length * CHAR_W;
    if (lx + w > width - 8 && lx > MARGIN.left) {
      lx = MARGIN.left;
      ly += LEGEND_ROW;
    }
    legend.push({ label, color, dash, x: r2(lx), y: r2(ly) });
    lx += w + 14;
  };
  for (const p of fig.panels) {
    for (const s of p.series) if (s.points.some(([x, y]) => finite(x) && finite(y))) add(s.label, s.color, s.line === false ? undefined : s.dash);
    for (const l of p.refLines ?? []) if (finite(l.y)) add(l.label, l.color, l.dash ?? '4 4');
  }
  const top0 = ly + LEGEND_ROW;
  const rows = Math.ceil(n / perRow);
  const panels = fig.panels.map((p, i): PanelLayout => {
    const col = i % perRow;
    const row = Math.floor(i / perRow);
    const ox = col * panelW;
    const oy = top0 + row * panelHeight;
    const left = ox + MARGIN.left;
    const right = ox + panelW - MARGIN.right;
    const top = oy + MARGIN.top;
    const bottom = oy + panelHeight - MARGIN.bottom;
    const xLog = p.xScale === 'log';
    const yLog = p.yScale === 'log';
    const xs: number[] = [];
    const ys: number[] = [];
    for (const s of p.series) {
      for (const [x, y] of s.points) {
        if (finite(x) && finite(y)) {
          xs.push(x);
          ys.push(y);
        }
      }
      for (const [x, lo, hi] of s.band ?? []) {
        if (finite(x) && finite(lo) && finite(hi)) {
          xs.push(x);
          ys.push(lo, hi);
        }
      }
    }
    for (const l of p.refLines ?? []) if (finite(l.y)) ys.push(l.y);
    const xDom = extent(xs, xLog);
    const yDom = extent(ys, yLog);
    const x = makeScale(xLog ? 'log' : 'linear', p.reverseX ? [xDom[1], xDom[0]] : xDom, [left, right]);
    const y = makeScale(yLog ? 'log' : 'linear', yDom, [bottom, top]);
    const ok = (px: number, py: number): boolean => finite(px) && finite(py) && (!xLog || px > 0) && (!yLog || py > 0);
    const paths: PathPrim[] = [];
    const dots: DotPrim[] = [];
    const bands: Array<{ d: string; color: string }> = [];
    for (const s of p.series) {
      const band = (s.band ?? [])
        .filter(([bx, lo, hi]) => ok(bx, lo) && ok(bx, hi))
        .slice()
        .sort((a, b) => a[0] - b[0]);
      if (band.length > 1) {
        const upper = band.map(([bx, , hi]) => `${r2(x(bx))},${r2(y(hi))}`);
        const lower = band.map(([bx, lo]) => `${r2(x(bx))},${r2(y(lo))}`).reverse();
        bands.push({ d: `M${upper.join('L')}L${lower.join('L')}Z`, color: s.color });
      }
      const pts = s.points.map((q, k) => ({ q, k })).filter(({ q }) => ok(q[0], q[1]));
      if (s.line !== false && pts.length > 1) {
        const d = d3line<{ q: readonly [number, number] }>()
          .x(({ q }) => r2(x(q[0])))
          .y(({ q }) => r2(y(q[1])))(pts);
        if (d) paths.push({ d, color: s.color, dash: s.dash, label: s.label });
      }
      if (s.dots !== false) {
        for (const { q, k } of pts) dots.push({ cx: r2(x(q[0])), cy: r2(y(q[1])), color: s.color, label: s.label, text: s.pointLabels?.[k] });
      }
    }
    const refLines = (p.refLines ?? []).filter((l) => ok(xDom[0], l.y)).map((l) => ({ y: r2(y(l.y)), color: l.color, dash: l.dash ?? '4 4', label: l.label }));
    return {
      title: p.title,
      left: r2(left),
      top: r2(top),
      right: r2(right),
      bottom: r2(bottom),
      xTicks: ticksOf(x, xLog, Math.max(2, Math.floor((right - left) / 70))),
      yTicks: ticksOf(y, yLog, Math.max(2, Math.floor((bottom - top) / 45))),
      xLabel: p.xLabel,
      yLabel: p.yLabel,
      bands,
      refLines,
      paths,
      dots,
      description: describePanel(p),
    };
  });
  const height = top0 + rows * panelHeight + (fig.note ? NOTE_H : 4);
  return { width, height: r2(height), title: fig.title, subtitleLines, note: fig.note, legend, panels };
}

/** Greedy word wrap to lines of at most `maxChars` characters (a longer word gets a line of its own). */
export function wrapText(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + word.length > maxChars) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return lines;
}

/** Baseline of subtitle line `i`. */
export const subtitleY = (i: number): number => 38 + i * SUBTITLE_LINE;

/** XML text escaping for element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';

/** The layout as a standalone SVG document (white background, fixed colours: readable anywhere). */
export function renderSvg(l: FigureLayout): string {
  const out: string[] = [];
  const e = escapeXml;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" role="img" aria-labelledby="fig-title fig-desc" ${FONT} font-size="12">`,
  );
  out.push(`<title id="fig-title">${e(l.title)}</title>`);
  out.push(`<desc id="fig-desc">${e(l.panels.map((p) => p.description).join(' '))}</desc>`);
  out.push(`<rect width="${l.width}" height="${l.height}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN.left}" y="20" font-size="15" font-weight="600" fill="#111827">${e(l.title)}</text>`);
  l.subtitleLines.forEach((t, i) => out.push(`<text x="${MARGIN.left}" y="${subtitleY(i)}" fill="#4b5563">${e(t)}</text>`));
  for (const it of l.legend) {
    out.push(
      `<g transform="translate(${it.x},${it.y})"><line x1="0" x2="26" y1="0" y2="0" stroke="${it.color}" stroke-width="2.5"${it.dash ? ` stroke-dasharray="${it.dash}"` : ''}/><circle cx="13" cy="0" r="2.5" fill="${it.color}"/><text x="32" y="4" fill="#111827">${e(it.label)}</text></g>`,
    );
  }
  for (const p of l.panels) {
    out.push('<g>');
    out.push(`<text x="${p.left}" y="${r2(p.top - 10)}" font-weight="600" fill="#111827">${e(p.title)}</text>`);
    for (const t of p.yTicks) {
      out.push(`<line x1="${p.left}" x2="${p.right}" y1="${t.pos}" y2="${t.pos}" stroke="#e5e7eb"/>`);
      out.push(`<text x="${r2(p.left - 6)}" y="${r2(t.pos + 4)}" text-anchor="end" fill="#4b5563">${e(t.label)}</text>`);
    }
    for (const t of p.xTicks) {
      out.push(`<line x1="${t.pos}" x2="${t.pos}" y1="${p.bottom}" y2="${r2(p.bottom + 5)}" stroke="#6b7280"/>`);
      out.push(`<text x="${t.pos}" y="${r2(p.bottom + 18)}" text-anchor="middle" fill="#4b5563">${e(t.label)}</text>`);
    }
    out.push(`<line x1="${p.left}" x2="${p.right}" y1="${p.bottom}" y2="${p.bottom}" stroke="#6b7280"/>`);
    out.push(`<line x1="${p.left}" x2="${p.left}" y1="${p.top}" y2="${p.bottom}" stroke="#6b7280"/>`);
    out.push(`<text x="${r2((p.left + p.right) / 2)}" y="${r2(p.bottom + 36)}" text-anchor="middle" fill="#111827">${e(p.xLabel)}</text>`);
    out.push(
      `<text transform="translate(${r2(p.left - 46)},${r2((p.top + p.bottom) / 2)}) rotate(-90)" text-anchor="middle" fill="#111827">${e(p.yLabel)}</text>`,
    );
    for (const b of p.bands) out.push(`<path d="${b.d}" fill="${b.color}" fill-opacity="0.15" stroke="none"/>`);
    for (const r of p.refLines)
      out.push(
        `<line x1="${p.left}" x2="${p.right}" y1="${r.y}" y2="${r.y}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="${r.dash}"><title>${e(r.label)}</title></line>`,
      );
    for (const q of p.paths)
      out.push(
        `<path d="${q.d}" fill="none" stroke="${q.color}" stroke-width="2"${q.dash ? ` stroke-dasharray="${q.dash}"` : ''}><title>${e(q.label)}</title></path>`,
      );
    for (const d of p.dots) {
      out.push(`<circle cx="${d.cx}" cy="${d.cy}" r="3" fill="${d.color}"/>`);
      if (d.text) out.push(`<text x="${r2(d.cx + 5)}" y="${r2(d.cy - 6)}" font-size="10" fill="${d.color}">${e(d.text)}</text>`);
    }
    out.push('</g>');
  }
  if (l.note) out.push(`<text x="${MARGIN.left}" y="${r2(l.height - 6)}" font-size="10" fill="#4b5563">${e(l.note)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The colours every experiment uses for the same things (3:1 or better on white). */
export const COLORS = {
  flow: '#1d4ed8',
  magnitude: '#b45309',
  random: '#6b7280',
  bound: '#b91c1c',
  sparse: '#1d4ed8',
  dense: '#b45309',
  valid: '#047857',
  test: '#1d4ed8',
  threshold: '#b91c1c',
  params: '#7c3aed',
  reference: '#374151',
} as const;

// Geometry of the region view's two drawings of a sum block (RegionDetail): the matrix (rows = sum
// nodes, columns = products, one cell per possible edge) and the bipartite graph (sum nodes on a top
// line, products on a bottom line). Sizes, hit testing of the pointer, and finding an entry of the
// sparse (CSR) block by row and column. Pure (no DOM), in CSS pixels.

export interface MatrixLayout {
  rows: number;
  cols: number;
  /** Cell size; cells are square so a 16x16 block looks like one. */
  cell: number;
  width: number;
  height: number;
}

/**
 * Square cells as large as fit in maxWidth x maxHeight (fractional: a 256-column block in 300 px gets
 * 1.17 px cells, drawn through an image scaled to fit). Empty blocks get a 0 x 0 layout.
 */
export function matrixLayout(rows: number, cols: number, maxWidth: number, maxHeight: number): MatrixLayout {
  if (!(rows > 0) || !(cols > 0) || !(maxWidth > 0) || !(maxHeight > 0))
    return { rows: Math.max(0, rows | 0), cols: Math.max(0, cols | 0), cell: 0, width: 0, height: 0 };
  const cell = Math.min(maxWidth / cols, maxHeight / rows, 40);
  return { rows, cols, cell, width: cell * cols, height: cell * rows };
}

/** The matrix cell under (x, y), or null outside the matrix. */
export function matrixHit(x: number, y: number, m: MatrixLayout): { row: number; col: number } | null {
  if (!(m.cell > 0) || !Number.isFinite(x) || !Number.isFinite(y) || x < 0 || y < 0 || x >= m.width || y >= m.height) return null;
  const row = Math.min(m.rows - 1, Math.floor(y / m.cell));
  const col = Math.min(m.cols - 1, Math.floor(x / m.cell));
  return { row, col };
}

/**
 * Index of entry (row, col) in a CSR block, or -1 when that edge is not in the block (pruned). Columns
 * within a row are sorted (structure.ts keeps them so), which makes this a binary search.
 */
export function findEntry(rowPtr: Int32Array, colIdx: Int32Array, row: number, col: number): number {
  if (row < 0 || row + 1 >= rowPtr.length) return -1;
  let lo = rowPtr[row];
  let hi = rowPtr[row + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = colIdx[mid];
    if (c === col) return mid;
    if (c < col) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export interface BipartiteLayout {
  width: number;
  height: number;
  /** y of the sum nodes' line and of the products' line. */
  topY: number;
  bottomY: number;
  /** Left and right margin of both lines (room for the end nodes' dots). */
  pad: number;
  rows: number;
  cols: number;
  radius: number;
}

export function bipartiteLayout(rows: number, cols: number, width: number, height: number): BipartiteLayout {
  const n = Math.max(rows, cols, 1);
  // Dots shrink as nodes crowd the line, but stay visible (>= 1 px) on a 256-node line.
  const radius = Math.max(1, Math.min(6, (width - 16) / n / 2.5));
  const pad = Math.max(8, radius + 2);
  return { width, height, topY: pad + 12, bottomY: height - pad - 12, pad, rows, cols, radius };
}

/** x of node i of n spread evenly over the line (a single node sits in the middle). */
export function nodeX(i: number, n: number, b: Pick<BipartiteLayout, 'width' | 'pad'>): number {
  if (n <= 1) return b.width / 2;
  return b.pad + (i * (b.width - 2 * b.pad)) / (n - 1);
}

/** The node nearest (x, y) within `slop` px of its line: a sum node (row) or a product (col); else null. */
export function bipartiteHit(x: number, y: number, b: BipartiteLayout, slop = 8): { side: 'row' | 'col'; index: number } | null {
  const near = (lineY: number) => Math.abs(y - lineY) <= Math.max(slop, b.radius + 2);
  const nearest = (n: number) => {
    if (n <= 0) return -1;
    if (n === 1) return Math.abs(x - b.width / 2) <= slop ? 0 : -1;
    const step = (b.width - 2 * b.pad) / (n - 1);
    const i = Math.round((x - b.pad) / step);
    if (i < 0 || i >= n) return -1;
    return Math.abs(x - nodeX(i, n, b)) <= Math.max(slop, step / 2) ? i : -1;
  };
  if (near(b.topY)) {
    const i = nearest(b.rows);
    if (i >= 0) return { side: 'row', index: i };
  }
  if (near(b.bottomY)) {
    const i = nearest(b.cols);
    if (i >= 0) return { side: 'col', index: i };
  }
  return null;
}

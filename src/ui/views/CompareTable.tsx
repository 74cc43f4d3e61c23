// The comparison table (Compare with dense): per ended round of prune -> grow -> EM, the sparse
// circuit's K, sum edges, parameters and validation bpd next to the dense HCLT with the nearest
// number of sum edges trained for as many epochs, and the difference, coloured by who wins. Props
// only: the rows come from src/ui/compare.ts.

import type { ComparisonRow } from '../compare.ts';

const bpd = (v: number | null): string => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(4));
const count = new Intl.NumberFormat('en-US');

export interface CompareTableProps {
  rows: readonly ComparisonRow[];
  /** The dense run's state, for the rows it has not reached yet. */
  status: 'waiting' | 'training' | 'paused' | 'done' | 'failed';
}

export function CompareTable({ rows, status }: CompareTableProps) {
  if (rows.length === 0) {
    return (
      <p className="note" data-testid="compare-empty">
        Sparse against dense: the first row appears when the first round of prune, grow and EM ends; a second worker then trains the dense HCLT with the same
        number of sum edges for as many epochs.
      </p>
    );
  }
  const pending = status === 'failed' ? 'stopped' : status === 'paused' ? 'paused' : 'training…';
  return (
    <div className="compare-wrap">
      <table className="epochs compare-table" data-testid="compare-table">
        <caption>Sparse against the dense HCLT with the same number of sum edges (validation bpd; lower is better)</caption>
        <thead>
          <tr>
            <th scope="col">Round</th>
            <th scope="col">K</th>
            <th scope="col">Sum edges</th>
            <th scope="col">Parameters</th>
            <th scope="col">Sparse</th>
            <th scope="col">Dense</th>
            <th scope="col">Dense HCLT</th>
            <th scope="col">Sparse − dense</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const wins = r.delta === null ? '' : r.delta < 0 ? 'sparse-wins' : r.delta > 0 ? 'dense-wins' : '';
            const who = r.delta === null ? '' : r.delta < 0 ? ' (sparse wins)' : r.delta > 0 ? ' (dense wins)' : ' (tie)';
            return (
              <tr key={r.round} data-testid="compare-row">
                <th scope="row">{r.round}</th>
                <td>{r.k}</td>
                <td>{count.format(r.edges)}</td>
                <td>{count.format(r.params)}</td>
                <td data-testid="compare-sparse">{bpd(r.validBpd)}</td>
                <td data-testid="compare-dense">{r.denseValidBpd === null ? pending : bpd(r.denseValidBpd)}</td>
                <td>
                  K={r.denseK}
                  {r.denseEdges === null ? '' : `, ${count.format(r.denseEdges)} edges`}
                </td>
                <td data-testid="compare-delta" className={wins}>
                  {r.delta === null ? '–' : `${r.delta > 0 ? '+' : ''}${r.delta.toFixed(4)}${who}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

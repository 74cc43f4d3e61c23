// Test page for DrawPanel and SamplePanel with a real model (test/e2e/draw.test.ts): fetches the
// embedded digits like the playground, fits a small HCLT (K = 8) with a few full-batch EM steps on
// 800 of them on the CPU engine, and answers score / inpaint / samples / the validation bpd histogram
// with CpuQueries, on the page's thread. Every answer is delayed a little (`?latency=`, ms, default
// 40) like a worker round trip, so live scoring's throttling is exercised; window.__draw counts the
// calls and the most requests ever in flight at once for the test to check.

import { StrictMode, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { buildHclt } from '../../src/circuit/hclt.ts';
import { subset } from '../../src/data/dataset.ts';
import { embeddedDataUrl, fetchEmbeddedDataset } from '../../src/data/fetch.ts';
import { splitTrainValid } from '../../src/data/split.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { CpuQueries } from '../../src/engines/cpu/queries.ts';
import type { Histogram, ImagesResult, ScoreResult } from '../../src/worker/protocol.ts';
import { DrawPanel } from '../../src/ui/views/DrawPanel.tsx';
import { histogramOf } from '../../src/worker/histogram.ts';
import { SamplePanel } from '../../src/ui/views/SampleGrid.tsx';
import { bitsPerDim } from '../../src/util/math.ts';
import '../../src/ui/styles.css';

export interface DrawStats {
  scoreCalls: number;
  inFlight: number;
  maxInFlight: number;
  needDistributionCalls: number;
  lastInpaint: { pixels: number[]; missing: number[]; result: number[]; count: number } | null;
}

declare global {
  interface Window {
    __draw: DrawStats;
  }
}

const stats: DrawStats = { scoreCalls: 0, inFlight: 0, maxInFlight: 0, needDistributionCalls: 0, lastInpaint: null };
window.__draw = stats;
const params = new URLSearchParams(location.search);
const LATENCY = Number(params.get('latency') ?? 40);
const delay = (): Promise<void> => new Promise((r) => setTimeout(r, LATENCY));

interface Model {
  queries: CpuQueries;
  validBpd: Float64Array;
  summary: string;
}

async function fitModel(): Promise<Model> {
  // The data file sits at the site root (public/data), not next to this page.
  const data = await fetchEmbeddedDataset(embeddedDataUrl(`${location.origin}/`));
  const { train: allTrain, valid: allValid } = splitTrainValid(data, 0.1, 1);
  const train = subset(
    allTrain,
    Int32Array.from({ length: 800 }, (_, i) => i),
  );
  const valid = subset(
    allValid!,
    Int32Array.from({ length: 300 }, (_, i) => i),
  );
  const cc = compileCircuit(buildHclt(train, { K: 8, seed: 1 }));
  const engine = new CpuEngine({ precision: 'float64' });
  await engine.load(cc);
  const batch = { pixels: train.pixels, count: train.count };
  for (let epoch = 0; epoch < 6; epoch++) {
    engine.resetFlows();
    await engine.accumulateFlows(batch);
    await engine.emStep({ step: 1, pseudocount: 0.1 });
  }
  await engine.syncParams();
  engine.dispose();
  const queries = new CpuQueries(cc);
  const ll = queries.marginalSync({ pixels: valid.pixels, count: valid.count });
  const validBpd = ll.map((v) => bitsPerDim(v, cc.numVars));
  const mean = validBpd.reduce((a, b) => a + b, 0) / validBpd.length;
  return { queries, validBpd, summary: `K=8, ${train.count} train, ${valid.count} valid, mean valid bpd ${mean.toFixed(3)}` };
}

function Fixture() {
  const [model, setModel] = useState<Model | null>(null);
  const [status, setStatus] = useState('training');
  const [distribution, setDistribution] = useState<Histogram | null>(null);

  useEffect(() => {
    let live = true;
    fitModel().then(
      (m) => {
        if (!live) return;
        setModel(m);
        setStatus(`ready: ${m.summary}`);
      },
      (e: unknown) => live && setStatus(`error: ${e instanceof Error ? e.message : String(e)}`),
    );
    return () => {
      live = false;
    };
  }, []);

  const score = useCallback(
    async (pixels: Uint8Array): Promise<ScoreResult> => {
      stats.scoreCalls++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await delay();
        const q = model!.queries;
        const logLikelihood = q.marginalSync({ pixels, count: 1 })[0];
        // The protocol promises finite surprise values; an impossible pixel gets a very large one.
        const surprise = Float32Array.from(q.conditionalSurpriseSync(pixels), (s) => Math.max(s, -1e6));
        return { kind: 'score', logLikelihood, bpd: bitsPerDim(logLikelihood, pixels.length), surprise };
      } finally {
        stats.inFlight--;
      }
    },
    [model],
  );

  const inpaint = useCallback(
    async (pixels: Uint8Array, missing: Uint8Array, count: number, seed: number): Promise<ImagesResult> => {
      await delay();
      const out = model!.queries.sampleSync(count, seed, { pixels, missing });
      stats.lastInpaint = { pixels: Array.from(pixels), missing: Array.from(missing), result: Array.from(out), count };
      return { kind: 'images', count, pixels: out };
    },
    [model],
  );

  const sample = useCallback(
    async (count: number, seed: number): Promise<ImagesResult> => {
      await delay();
      return { kind: 'images', count, pixels: model!.queries.sampleSync(count, seed) };
    },
    [model],
  );

  const needDistribution = useCallback(() => {
    stats.needDistributionCalls++;
    if (!model) return;
    setTimeout(() => setDistribution(histogramOf(model.validBpd, 24)), LATENCY);
  }, [model]);

  return (
    <main style={{ padding: '1rem', maxWidth: 1000 }}>
      <p data-testid="fixture-status">{status}</p>
      <DrawPanel enabled={model !== null} score={score} inpaint={inpaint} distribution={distribution} onNeedDistribution={needDistribution} />
      <hr />
      <SamplePanel enabled={model !== null} sample={sample} />
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Fixture />
  </StrictMode>,
);

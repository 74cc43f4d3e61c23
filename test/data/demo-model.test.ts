// The demo model the playground opens with (public/models/, built by scripts/build-demo-model.ts): the
// shipped file is the one its JSON describes (size, SHA-256, at most 3 MB), loads as .spc version 2,
// is a circuit after prune and grow, and scores the embedded validation digits of the split the JSON
// records at the validation bpd recorded there (CPU engine, float64).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileCircuit } from '../../src/circuit/compile.ts';
import { decodeSpc } from '../../src/circuit/formats/spc.ts';
import { latentStates, latentStateSpread } from '../../src/circuit/structure.ts';
import { loadEmbeddedDataset } from '../../src/data/load.ts';
import { splitFirstImages } from '../../src/data/split.ts';
import { CpuEngine } from '../../src/engines/cpu/engine.ts';
import { datasetBpd } from '../../src/training/trainer.ts';
import { checkDemoInfo, DEMO_INFO_FILE, DEMO_MODEL_FILE, describeDemo } from '../../src/ui/demo.ts';
import { checkRunConfig } from '../../src/worker/validation.ts';

const publicDir = new URL('../../public/', import.meta.url);
const info = checkDemoInfo(JSON.parse(readFileSync(new URL(DEMO_INFO_FILE, publicDir), 'utf8')));
const bytes = new Uint8Array(readFileSync(new URL(DEMO_MODEL_FILE, publicDir)));

describe('the shipped demo model', () => {
  it('is the file its JSON describes, at most 3 MB, in .spc version 2', () => {
    expect(bytes.length).toBe(info.bytes);
    expect(bytes.length).toBeLessThanOrEqual(3 * 1024 * 1024);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(info.sha256);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true)).toBe(2);
    expect(info.format).toBe(2);
    // The page sends these settings to the training worker as they are: they must pass its checks.
    expect(() => checkRunConfig(info.settings)).not.toThrow();
    expect(describeDemo(info)).toMatch(/^a K = \d+ HCLT .* validation bpd \d\.\d{4}$/);
  });

  it('is a sparse circuit after prune and grow, with the structure the JSON records', () => {
    const { circuit, meta } = decodeSpc(bytes, 'demo.spc');
    expect(meta).toMatchObject({ config: info.settings, K: info.structure.K, edges: info.structure.edges });
    const cc = compileCircuit(circuit);
    expect(cc.numEdges).toBe(info.structure.edges);
    const spread = latentStateSpread(circuit);
    expect([latentStates(circuit), spread.min, spread.median, spread.max]).toEqual([
      info.structure.K,
      info.structure.kMin,
      info.structure.kMedian,
      info.structure.kMax,
    ]);
    // Grown: K doubled from the HCLT's; pruned: regions lost states, and far fewer edges than a dense HCLT of that K.
    expect(info.settings.rounds).toBeGreaterThanOrEqual(1);
    expect(latentStates(circuit)).toBe(2 * info.settings.K);
    expect(spread.min).toBeLessThan(spread.max);
    const K = latentStates(circuit);
    expect(cc.numEdges).toBeLessThan(0.5 * ((circuit.numVars - 1) * K * K + K));
  });

  it('scores the embedded validation digits of the recorded split at the recorded bpd (CPU float64)', async () => {
    const s = info.settings;
    const data = await loadEmbeddedDataset();
    const { train, valid } = splitFirstImages(data, s.images, s.validFrac, s.seed);
    expect([train.count, valid!.count]).toEqual([info.split.train, info.split.valid]);
    const engine = new CpuEngine({ threads: 1, precision: 'float64' });
    await engine.load(compileCircuit(decodeSpc(bytes, 'demo.spc').circuit));
    const bpd = await datasetBpd(engine, valid!);
    engine.dispose();
    expect(Math.abs(bpd - info.validBpd) / info.validBpd).toBeLessThan(1e-9);
    // Saving it compactly moved the bpd by little.
    expect(Math.abs(info.validBpd - info.validBpdBeforeSaving)).toBeLessThan(1e-3);
  }, 60_000);
});

// `cli train --engine gpu` (Dawn in Node on Chromium's SwiftShader) against `--engine cpu`: the same
// seed reaches the same validation bpd within 0.01. Trains on a real IDX file of 1,500 embedded
// digits written for the test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddedSubset, idxImagesBytes } from '../helpers/data.ts';

const root = new URL('../..', import.meta.url).pathname;

function train(engine: string, file: string): Array<Record<string, unknown>> {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'train',
      '--train',
      file,
      '--engine',
      engine,
      '--k',
      '3',
      '--epochs',
      '2',
      '--batch',
      '256',
      '--valid-frac',
      '0.3',
      '--threads',
      '1',
      '--json',
    ],
    { cwd: root, encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('cli train --engine gpu', () => {
  it("reaches the CPU engine's validation bpd within 0.01 with the same seed", async () => {
    const data = await embeddedSubset(1500, 11);
    const dir = mkdtempSync(join(tmpdir(), 'spc-gpu-'));
    const file = join(dir, 'digits-images-idx3-ubyte');
    writeFileSync(file, idxImagesBytes(data.pixels, data.count));
    const cpu = train('cpu', file);
    const gpu = train('gpu', file);
    rmSync(dir, { recursive: true, force: true });
    expect(gpu.map((e) => e.event)).toEqual(['epoch', 'epoch', 'done']);
    const cpuDone = cpu[cpu.length - 1];
    const gpuDone = gpu[gpu.length - 1];
    expect(Number(cpuDone.valid_bpd)).toBeLessThan(3);
    expect(Math.abs(Number(gpuDone.valid_bpd) - Number(cpuDone.valid_bpd))).toBeLessThan(0.01);
    expect(gpuDone.edges).toBe(cpuDone.edges);
  });
});

// The action registry: one place for labels, shortcuts and enabled rules; Space toggles play/pause.
import { describe, expect, it } from 'vitest';
import { ACTIONS, actionForKey, ariaShortcuts, type ActionState } from '../../src/ui/actions.ts';
import type { ModelInfo } from '../../src/worker/protocol.ts';
import type { Status } from '../../src/ui/store.ts';

const MODEL: ModelInfo = {
  backend: 'CPU',
  engine: 'cpu',
  gpuBytes: 0,
  dataBytes: 0,
  edges: 1,
  params: 1,
  K: 2,
  trainCount: 1,
  validCount: 1,
  datasetName: 'x',
};

function state(status: Status, withModel: boolean): ActionState & { calls: string[] } {
  const calls: string[] = [];
  return {
    status,
    model: withModel ? MODEL : null,
    demo: null,
    play: () => calls.push('play'),
    pause: () => calls.push('pause'),
    step: (unit) => calls.push(`step:${unit}`),
    reset: () => calls.push('reset'),
    share: () => calls.push('share'),
    calls,
  };
}

describe('action registry', () => {
  it('names the buttons as the tests and screen readers expect, with unique ids and keys', () => {
    expect(ACTIONS.map((a) => a.label)).toEqual(['Play', 'Pause', 'Step', 'Epoch', 'Prune', 'Grow', 'Reset', 'Share']);
    expect(new Set(ACTIONS.map((a) => a.id)).size).toBe(ACTIONS.length);
    expect(ACTIONS.map(ariaShortcuts)).toEqual(['Space P', 'Space', 'S', 'E', 'X', 'G', 'R', 'L']);
    // Apart from Space (play / pause toggle), every key belongs to one action.
    const keys = ACTIONS.flatMap((a) => a.keys.filter((k) => k !== ' '));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('Space plays when idle and pauses while training; R resets; keys need an enabled action', () => {
    const idle = state('idle', false);
    expect(actionForKey(' ', idle)?.id).toBe('play');
    expect(actionForKey('P', idle)?.id).toBe('play');
    expect(actionForKey('r', idle)).toBeUndefined();
    const training = state('training', true);
    expect(actionForKey(' ', training)?.id).toBe('pause');
    expect(actionForKey('p', training)).toBeUndefined();
    expect(actionForKey('r', training)?.id).toBe('reset');
    // Pausing already requested: Space does nothing until the worker stops.
    expect(actionForKey(' ', state('pausing', true))).toBeUndefined();
    // The schedule is done: nothing left to play, but steps still work.
    expect(actionForKey(' ', state('finished', true))).toBeUndefined();
    expect(actionForKey('x', state('finished', true))?.id).toBe('prune');
    actionForKey(' ', training)!.run(training);
    expect(training.calls).toEqual(['pause']);
  });

  it('steps run one unit; Prune and Grow need a model; nothing steps while busy; Share always works', () => {
    const paused = state('paused', true);
    for (const k of ['s', 'e', 'x', 'g', 'l']) actionForKey(k, paused)!.run(paused);
    expect(paused.calls).toEqual(['step:batch', 'step:epoch', 'step:prune', 'step:grow', 'share']);
    const fresh = state('idle', false);
    expect(actionForKey('s', fresh)?.id).toBe('step');
    expect(actionForKey('x', fresh)).toBeUndefined();
    expect(actionForKey('g', fresh)).toBeUndefined();
    // The demo model: Play and steps start a new model; it is not pruned or grown.
    const demo = { ...state('paused', true), demo: { description: 'demo', validBpd: 1.5 } };
    expect(actionForKey(' ', demo)?.id).toBe('play');
    expect(actionForKey('e', demo)?.id).toBe('epoch');
    expect(actionForKey('x', demo)).toBeUndefined();
    expect(actionForKey('g', demo)).toBeUndefined();
    expect(actionForKey('r', demo)?.id).toBe('reset');
    const busy = state('stepping', true);
    for (const k of ['s', 'e', 'x', 'g']) expect(actionForKey(k, busy)).toBeUndefined();
    expect(actionForKey('l', busy)?.id).toBe('share');
  });
});

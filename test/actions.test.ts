// The action registry: one place for labels, shortcuts and enabled rules; Space toggles play/pause.
import { describe, expect, it } from 'vitest';
import { ACTIONS, actionForKey, ariaShortcuts, type ActionState } from '../src/ui/actions.ts';
import { DEFAULT_SETTINGS, type Status } from '../src/ui/store.ts';

function state(status: Status, withModel: boolean, epochsDone = 0): ActionState & { calls: string[] } {
  const calls: string[] = [];
  return {
    status,
    model: withModel ? { backend: 'CPU', edges: 1, params: 1, trainCount: 1, validCount: 1 } : null,
    epochs: Array.from({ length: epochsDone }, (_, i) => ({ epoch: i + 1, trainBpd: 2, validBpd: 2, seconds: 1, edges: 1, params: 1 })),
    settings: DEFAULT_SETTINGS,
    play: () => calls.push('play'),
    pause: () => calls.push('pause'),
    reset: () => calls.push('reset'),
    calls,
  } as ActionState & { calls: string[] };
}

describe('action registry', () => {
  it('names the buttons as the tests and screen readers expect, with unique ids', () => {
    expect(ACTIONS.map((a) => a.label)).toEqual(['Play', 'Pause', 'Reset']);
    expect(new Set(ACTIONS.map((a) => a.id)).size).toBe(ACTIONS.length);
    expect(ACTIONS.map(ariaShortcuts)).toEqual(['Space P', 'Space', 'R']);
  });

  it('Space plays when idle and pauses while training; R resets; keys need an enabled action', () => {
    const idle = state('idle', false);
    expect(actionForKey(' ', idle)?.id).toBe('play');
    expect(actionForKey('P', idle)?.id).toBe('play');
    expect(actionForKey('r', idle)).toBeUndefined();
    const training = state('training', true, 1);
    expect(actionForKey(' ', training)?.id).toBe('pause');
    expect(actionForKey('p', training)).toBeUndefined();
    expect(actionForKey('r', training)?.id).toBe('reset');
    // Pausing already requested: Space does nothing until the epoch ends.
    expect(actionForKey(' ', state('pausing', true, 1))).toBeUndefined();
    // Finished all epochs: nothing left to play.
    expect(actionForKey(' ', state('paused', true, DEFAULT_SETTINGS.epochs))).toBeUndefined();
    actionForKey(' ', training)!.run(training);
    expect(training.calls).toEqual(['pause']);
  });
});

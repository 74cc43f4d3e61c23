// Live scoring's timing rules: throttled sends, one request in flight, flush on pointerup, stale drops.
import { describe, expect, it } from 'vitest';
import { changed, finished, flushed, hasShown, initialLiveState, plan, reset, skipped, started } from '../../../src/ui/views/draw-live.ts';

describe('live scoring state machine', () => {
  it('sends the first change at once and throttles the next to the interval', () => {
    let s = initialLiveState();
    expect(plan(s, 0)).toEqual({ kind: 'idle' });
    s = changed(s);
    expect(plan(s, 1000)).toEqual({ kind: 'send', version: 1 });
    s = started(s, 1000);
    ({ state: s } = finished(s, 1));
    s = changed(s);
    expect(plan(s, 1050, 120)).toEqual({ kind: 'wait', at: 1120 });
    expect(plan(s, 1120, 120)).toEqual({ kind: 'send', version: 2 });
  });

  it('keeps one request in flight and then sends only the newest drawing', () => {
    let s = changed(initialLiveState());
    s = started(s, 0);
    for (let k = 0; k < 5; k++) s = changed(s);
    expect(plan(s, 500)).toEqual({ kind: 'idle' });
    const f = finished(s, 1);
    expect(f.accept).toBe(true);
    s = f.state;
    expect(s.shownVersion).toBe(1);
    expect(plan(s, 500)).toEqual({ kind: 'send', version: 6 });
    s = started(s, 500);
    expect(s.inFlight).toBe(6);
    ({ state: s } = finished(s, 6));
    expect(plan(s, 10_000)).toEqual({ kind: 'idle' });
  });

  it('flushes on pointerup without waiting for the interval', () => {
    let s = started(changed(initialLiveState()), 0);
    ({ state: s } = finished(s, 1));
    s = changed(s, true);
    expect(plan(s, 10, 120)).toEqual({ kind: 'send', version: 2 });
    s = started(s, 10);
    expect(s.flush).toBe(false);
    // A flush asked while a request is in flight is honoured once it returns.
    s = flushed(changed(s));
    expect(plan(s, 20, 120)).toEqual({ kind: 'idle' });
    ({ state: s } = finished(s, 2));
    expect(plan(s, 30, 120)).toEqual({ kind: 'send', version: 3 });
  });

  it('drops results from before a Clear, and sends nothing for the cleared drawing', () => {
    let s = started(changed(initialLiveState()), 0);
    s = reset(s, false);
    expect(plan(s, 1000)).toEqual({ kind: 'idle' });
    const f = finished(s, 1);
    expect(f.accept).toBe(false);
    expect(hasShown(f.state)).toBe(false);
    expect(f.state.inFlight).toBeNull();
    s = changed(f.state);
    expect(plan(s, 1000)).toEqual({ kind: 'send', version: 3 });
  });

  it('rescores the current drawing after a model change and ignores older answers', () => {
    let s = started(changed(initialLiveState()), 0);
    ({ state: s } = finished(s, 1));
    expect(hasShown(s)).toBe(true);
    s = reset(s, true);
    expect(hasShown(s)).toBe(false);
    expect(plan(s, 1)).toEqual({ kind: 'send', version: 2 });
    s = started(s, 1);
    const f = finished(s, 2);
    expect(f.accept).toBe(true);
    expect(hasShown(f.state)).toBe(true);
    // An answer for an older version than the one shown is never shown.
    expect(finished(f.state, 1).accept).toBe(false);
  });

  it('skips a drawing that needs no request (empty) without blocking later ones', () => {
    let s = skipped(changed(initialLiveState()));
    expect(plan(s, 0)).toEqual({ kind: 'idle' });
    s = changed(s);
    expect(plan(s, 0)).toEqual({ kind: 'send', version: 2 });
  });
});

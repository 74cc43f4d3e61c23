// Live scoring while the visitor draws, as a pure state machine so its timing rules are testable
// without timers or a model. Rules:
//   - every change of the drawing bumps `version`;
//   - at most one score request is in flight (a slow model must not build a queue that keeps
//     answering for strokes long gone); changes made meanwhile are sent, as one request for the
//     newest drawing, when the answer comes back;
//   - requests start at most every `intervalMs`, except that a flush (pointerup: the stroke is
//     finished) sends as soon as nothing is in flight;
//   - an answer is shown only if it is newer than the one on screen and not older than the last
//     reset (Clear, a new model): a result for a drawing that was cleared is stale.
// The component turns `plan` into a request (`start` + the call), a timer (`wait`), or nothing.

export interface LiveState {
  /** Version of the current drawing (bumped by every change). */
  version: number;
  /** Newest version sent (or deliberately skipped, e.g. an empty drawing). */
  sentVersion: number;
  /** Version of the request in flight, or null. */
  inFlight: number | null;
  /** When the last request started (ms, any monotonic clock). */
  lastStart: number;
  /** Version of the result on screen (-1: none). */
  shownVersion: number;
  /** Results for versions below this are stale (set by `reset`). */
  floor: number;
  /** A flush is pending: send without waiting for the interval. */
  flush: boolean;
}

export type LivePlan =
  | { kind: 'send'; version: number }
  /** Call plan again at `at` (ms). */
  | { kind: 'wait'; at: number }
  | { kind: 'idle' };

export const LIVE_INTERVAL_MS = 120;

export function initialLiveState(): LiveState {
  return { version: 0, sentVersion: 0, inFlight: null, lastStart: -Infinity, shownVersion: -1, floor: 0, flush: false };
}

/** The drawing changed; `flush` when the stroke just ended (pointerup). */
export function changed(s: LiveState, flush = false): LiveState {
  return { ...s, version: s.version + 1, flush: s.flush || flush };
}

/** Asks for a send without a change (pointerup after moves already counted). */
export function flushed(s: LiveState): LiveState {
  return { ...s, flush: true };
}

/**
 * The drawing was cleared or the model changed: results for earlier versions are stale. With
 * `rescore`, the current drawing still needs a score (a new model); without it, there is nothing to
 * send (a cleared drawing).
 */
export function reset(s: LiveState, rescore: boolean): LiveState {
  const version = s.version + 1;
  return { ...s, version, floor: version, sentVersion: rescore ? s.sentVersion : version, flush: rescore, shownVersion: -1 };
}

/** Whether a result is currently displayed that belongs to the current reset period. */
export function hasShown(s: LiveState): boolean {
  return s.shownVersion >= s.floor;
}

export function plan(s: LiveState, now: number, intervalMs = LIVE_INTERVAL_MS): LivePlan {
  if (s.inFlight !== null || s.sentVersion >= s.version) return { kind: 'idle' };
  if (!s.flush && now - s.lastStart < intervalMs) return { kind: 'wait', at: s.lastStart + intervalMs };
  return { kind: 'send', version: s.version };
}

/** A request for the current version starts now. */
export function started(s: LiveState, now: number): LiveState {
  return { ...s, inFlight: s.version, sentVersion: s.version, lastStart: now, flush: false };
}

/** The current drawing needs no request (e.g. it is empty): mark it handled. */
export function skipped(s: LiveState): LiveState {
  return { ...s, sentVersion: s.version, flush: false };
}

/**
 * The request for `version` ended (answer or error). `accept`: show it (newer than what is shown and
 * not from before a reset).
 */
export function finished(s: LiveState, version: number): { state: LiveState; accept: boolean } {
  const accept = version >= s.floor && version > s.shownVersion;
  return { state: { ...s, inFlight: s.inFlight === version ? null : s.inFlight, shownVersion: accept ? version : s.shownVersion }, accept };
}

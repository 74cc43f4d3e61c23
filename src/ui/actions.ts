// The playground's one registry of actions: buttons, keyboard shortcuts (and later menus) are all
// drawn from it, so a label, a shortcut or an enabled-rule lives in exactly one place. Pure (no DOM,
// no React): the page reads `enabled` with the store's state and calls `run` with its actions.

import { canPlay, isBusy, type PlaygroundState } from './store.ts';

/** What an action reads and calls (a slice of the store). */
export type ActionState = Pick<PlaygroundState, 'status' | 'model' | 'epochs' | 'settings' | 'play' | 'pause' | 'reset'>;

export interface Action {
  id: 'play' | 'pause' | 'reset';
  /** The button's accessible name. */
  label: string;
  /** KeyboardEvent.key values that trigger it (no modifiers); shown as aria-keyshortcuts. */
  keys: readonly string[];
  /** Human-readable shortcut for titles and help. */
  shortcutLabel: string;
  enabled(s: ActionState): boolean;
  run(s: ActionState): void;
}

export const ACTIONS: readonly Action[] = [
  {
    id: 'play',
    label: 'Play',
    keys: [' ', 'p'],
    shortcutLabel: 'Space or P',
    enabled: (s) => canPlay(s),
    run: (s) => s.play(),
  },
  {
    id: 'pause',
    label: 'Pause',
    // Space toggles: it plays when Play is enabled, pauses while training.
    keys: [' '],
    shortcutLabel: 'Space',
    enabled: (s) => isBusy(s.status) && s.status !== 'pausing',
    run: (s) => s.pause(),
  },
  {
    id: 'reset',
    label: 'Reset',
    keys: ['r'],
    shortcutLabel: 'R',
    enabled: (s) => s.status !== 'idle',
    run: (s) => s.reset(),
  },
];

export function actionById(id: Action['id']): Action {
  return ACTIONS.find((a) => a.id === id)!;
}

/** The action a key press triggers now: the first enabled action bound to that key, if any. */
export function actionForKey(key: string, s: ActionState): Action | undefined {
  const k = key.length === 1 ? key.toLowerCase() : key;
  return ACTIONS.find((a) => a.keys.includes(k) && a.enabled(s));
}

/** aria-keyshortcuts value of an action ("Space" for ' '). */
export function ariaShortcuts(a: Action): string {
  return a.keys.map((k) => (k === ' ' ? 'Space' : k.toUpperCase())).join(' ');
}

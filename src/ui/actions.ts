// The playground's one registry of actions: buttons, keyboard shortcuts and the help line are all
// drawn from it, so a label, a shortcut or an enabled-rule lives in exactly one place. Pure (no DOM,
// no React): the page reads `enabled` with the store's state and calls `run` with its actions (plus
// `share`, which the page provides because it touches the address bar and clipboard).

import { canPlay, canStep, isBusy, type PlaygroundState } from './store.ts';

/** What an action reads and calls: the store's state and actions, and the page's Share. */
export type ActionState = Pick<PlaygroundState, 'status' | 'model' | 'demo' | 'play' | 'pause' | 'step' | 'reset'> & {
  share(): void;
};

export type ActionId = 'play' | 'pause' | 'step' | 'epoch' | 'prune' | 'grow' | 'reset' | 'share';

export interface Action {
  id: ActionId;
  /** The button's accessible name. */
  label: string;
  /** What it does, for the button's title and the help list. */
  description: string;
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
    description: 'Run the schedule: EM epochs, then rounds of prune, grow and EM',
    keys: [' ', 'p'],
    shortcutLabel: 'Space or P',
    enabled: (s) => canPlay(s),
    run: (s) => s.play(),
  },
  {
    id: 'pause',
    label: 'Pause',
    description: 'Stop after the current mini-batch',
    // Space toggles: it plays when Play is enabled, pauses while training.
    keys: [' '],
    shortcutLabel: 'Space',
    enabled: (s) => isBusy(s.status) && s.status !== 'pausing',
    run: (s) => s.pause(),
  },
  {
    id: 'step',
    label: 'Step',
    description: 'Train one mini-batch',
    keys: ['s'],
    shortcutLabel: 'S',
    enabled: (s) => canStep(s),
    run: (s) => s.step('batch'),
  },
  {
    id: 'epoch',
    label: 'Epoch',
    description: 'Train one EM epoch',
    keys: ['e'],
    shortcutLabel: 'E',
    enabled: (s) => canStep(s),
    run: (s) => s.step('epoch'),
  },
  {
    id: 'prune',
    label: 'Prune',
    description: 'Remove the chosen fraction of edges (lowest scores first)',
    keys: ['x'],
    shortcutLabel: 'X',
    // A model of this run: the demo is not pruned or grown here (Play trains a new model).
    enabled: (s) => canStep(s) && s.model !== null && s.demo === null,
    run: (s) => s.step('prune'),
  },
  {
    id: 'grow',
    label: 'Grow',
    description: 'Split every node in two (the latent space doubles)',
    keys: ['g'],
    shortcutLabel: 'G',
    enabled: (s) => canStep(s) && s.model !== null && s.demo === null,
    run: (s) => s.step('grow'),
  },
  {
    id: 'reset',
    label: 'Reset',
    description: 'Stop and discard the model (settings stay)',
    keys: ['r'],
    shortcutLabel: 'R',
    enabled: (s) => s.status !== 'idle',
    run: (s) => s.reset(),
  },
  {
    id: 'share',
    label: 'Share',
    description: 'Put the configuration in the address bar and copy the link',
    keys: ['l'],
    shortcutLabel: 'L',
    enabled: () => true,
    run: (s) => s.share(),
  },
];

export function actionById(id: ActionId): Action {
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

// How commands report: one JSON object per line with --json, readable lines otherwise, and a
// progress bar on stderr when it is a terminal.

export interface Reporter {
  json: boolean;
  event(obj: Record<string, unknown>, text: string): void;
  progress(label: string, done: number, total: number): void;
}

export function createReporter(json: boolean): Reporter {
  const tty = Boolean(process.stderr.isTTY) && !json;
  let barShown = false;
  const clearBar = (): void => {
    if (barShown) process.stderr.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    json,
    event(obj, text) {
      clearBar();
      process.stdout.write((json ? JSON.stringify(obj) : text) + '\n');
    },
    progress(label, done, total) {
      if (!tty) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      barShown = true;
      if (done >= total) clearBar();
    },
  };
}

export const fmt = (x: number | null, digits = 4): string => (x === null ? 'n/a' : x.toFixed(digits));

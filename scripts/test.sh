#!/usr/bin/env bash
# The project's test command (`npm test`): browser prerequisite, type check, lint (import boundaries,
# eslint.config.js) and formatting (Prettier), then every test (unit tests and the headless-Chromium
# end-to-end test under test/e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-test-deps.sh
npx tsc --noEmit -p .
npx eslint .
npx prettier --check . > /dev/null || { npx prettier --list-different .; echo 'Prettier: the files above are not formatted (npm run format fixes them).' >&2; exit 1; }
npx vitest run

#!/usr/bin/env bash
# The project's test command (`npm test`): browser prerequisite, type check, then every test
# (unit tests and the headless-Chromium end-to-end test under test/e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-test-deps.sh
npx tsc --noEmit -p .
npx vitest run

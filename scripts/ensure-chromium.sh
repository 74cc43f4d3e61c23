#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the headless browser tests (DESIGN.md
# section 4). Installs it with apt when we can (root or sudo); never downloads a browser any other way
# (no `npx playwright install`).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    SUDO="none"
  fi
fi

if [ "$SUDO" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing; install Debian's 'chromium' package (apt-get install chromium) and run the tests again." >&2
  exit 1
fi

echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium package with apt-get..." >&2
# Quiet on success; apt-get still prints errors to stderr.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing; install Debian's 'chromium' package by hand." >&2
  exit 1
fi
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)." >&2

#!/usr/bin/env bash
# Makes sure the Debian packages the tests need are installed (docs/architecture.md, "Testing"):
#   chromium   /usr/bin/chromium for the headless browser tests, and its SwiftShader Vulkan driver
#              (/usr/lib/chromium/vk_swiftshader_icd.json), the WebGPU adapter of the Node GPU tests;
#   libvulkan1 the Vulkan loader Dawn (the `webgpu` package) needs in Node.
# Installs them with apt when we can (root or sudo); never downloads a browser any other way
# (no `npx playwright install`).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then missing+=(libvulkan1); fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
fi
if [ "$SUDO" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: missing Debian packages: ${missing[*]}; install them (apt-get install ${missing[*]}) and run the tests again." >&2
  exit 1
fi

echo "ensure-test-deps: installing ${missing[*]} with apt-get..." >&2
# Quiet on success; apt-get still prints errors to stderr.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [ ! -x /usr/bin/chromium ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  echo "ensure-test-deps: apt-get finished but chromium or libvulkan1 is still missing; install them by hand." >&2
  exit 1
fi
echo "ensure-test-deps: installed ${missing[*]}." >&2

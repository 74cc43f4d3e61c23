#!/usr/bin/env bash
# Packs the bundled command line, the WGSL shaders and the embedded digits for the lent GPU machine
# (../shared/device/README.md): makes .device-pack/. Then one device run, for example:
#   SPC_DATA_DIR=. bash .device-pack/run.sh bench --engine gpu --k 32,128 --prune 0.75 --json
# (run.sh starts in .device-pack/, where shaders/ and the data file are.)
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build-node.mjs
bash ../shared/device/pack.sh dist-node/cli.mjs dist-node/shard-worker.node.mjs shaders public/data/mnist-train-10k.bin

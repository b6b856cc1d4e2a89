#!/usr/bin/env bash
# The main job with its embedded default: what `npm start` runs on a fresh machine.
# Shows the seed thread's proposal on the Linux 6.12 policy: effective types per guest PAT, hazards, and the
# scenarios where it differs from what 6.12 does today.
set -euo pipefail
cd "$(dirname "$0")/.."
node bin/kspec.js explain --policy linux-6.12+non-coherent-dma
echo
node bin/kspec.js explain --policy linux-6.12+non-coherent-dma --vs linux-6.12

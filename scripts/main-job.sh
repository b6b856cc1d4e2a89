#!/usr/bin/env bash
# The main job with its embedded default, what `npm start` runs: the KVM_MEM_NON_COHERENT_DMA series for the
# Debian 6.12 tree (obtained and committed by the project's scripts), written to kspec-out/, then verified.
# Override with KSPEC_VERSION (6.1|6.12), KSPEC_PROPOSAL (non-coherent-dma|mem-wc|mem-dma), KSPEC_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${KSPEC_VERSION:-6.12}
proposal=${KSPEC_PROPOSAL:-non-coherent-dma}
out=${KSPEC_OUT:-kspec-out/linux-$version-$proposal}
read -r _ tree _ < <(scripts/kernel-git.sh "$version")
node bin/kspec.cjs gen --kernel "$tree" --policy "$proposal" --flag "$proposal" --out "$out" --force
echo
node bin/kspec.cjs verify-patch --kernel "$tree" --policy "$proposal" "$out"/*.patch | tail -n 4

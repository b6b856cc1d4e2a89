#!/usr/bin/env bash
# Emit stage goldens: regenerates out/ — the series kspec emits for the Debian trees — from the trees' git
# repositories (scripts/kernel-git.sh), so that the cover letters carry a reproducible base-commit.
#
# Usage: scripts/goldens.sh [OUT_DIR]     (default: out; CI regenerates and fails on a diff)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
while read -r version policy; do
	repo=$(scripts/kernel-git.sh "$version" | cut -d' ' -f2)
	node bin/kspec.cjs gen --kernel "$repo" --policy "$policy" --flag "$policy" \
		--out "$out/linux-$version/$policy" --force >/dev/null
	echo "$out/linux-$version/$policy"
done <<'LIST'
6.1 non-coherent-dma
6.12 non-coherent-dma
6.12 mem-wc
6.12 mem-dma
LIST

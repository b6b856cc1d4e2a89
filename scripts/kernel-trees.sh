#!/usr/bin/env bash
# Real trees: makes Debian's linux-source-6.1 and linux-source-6.12 available, extracted once into a cache
# outside the repository, and prints one line per tree: "<version> <directory>".
#
# Usage: scripts/kernel-trees.sh [6.1|6.12 ...]     (default: both)
# Cache: $KSPEC_CACHE (default ~/.cache/kspec). Installs the packages with apt-get when they are missing,
# which needs root; the exact Debian versions are pinned below so that out/ goldens stay byte-stable, with a
# fall-back to the archive's candidate (and a warning) when a pinned version has left the archive.
set -euo pipefail

cache="${KSPEC_CACHE:-$HOME/.cache/kspec}"
declare -A pin=([6.1]="6.1.192-2" [6.12]="6.12.117-1~deb12u1")
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(6.1 6.12)

apt_updated=0
install_pkg() {
	local v=$1 pkg=linux-source-$1
	if [ "$(id -u)" != 0 ]; then
		echo "kernel-trees: $pkg is not installed and installing needs root (apt-get install $pkg)" >&2
		exit 3
	fi
	if [ $apt_updated = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg=${pin[$v]}" >&2; then
		echo "kernel-trees: warning: $pkg=${pin[$v]} is not in the archive; installing the candidate" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >&2
	fi
}

for v in "${versions[@]}"; do
	[ -n "${pin[$v]:-}" ] || { echo "kernel-trees: unknown version '$v' (known: ${!pin[*]})" >&2; exit 2; }
	tarball=/usr/src/linux-source-$v.tar.xz
	[ -f "$tarball" ] || install_pkg "$v"
	pkgver=$(dpkg-query -W -f='${Version}' "linux-source-$v" 2>/dev/null || echo unknown)
	dest="$cache/trees/linux-source-$v"
	stamp="$dest/.kspec-extracted"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$pkgver" ]; then
		# Extract beside the destination and rename, so that an interrupted run never leaves a half tree.
		tmp=$(mktemp -d "$cache/trees/.extract.XXXXXX" 2>/dev/null || { mkdir -p "$cache/trees"; mktemp -d "$cache/trees/.extract.XXXXXX"; })
		tar -xJf "$tarball" -C "$tmp"
		echo "$pkgver" > "$tmp/linux-source-$v/.kspec-extracted"
		rm -rf "$dest"
		mv "$tmp/linux-source-$v" "$dest"
		rmdir "$tmp"
	fi
	echo "$v $dest"
done

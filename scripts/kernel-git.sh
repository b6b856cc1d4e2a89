#!/usr/bin/env bash
# Real trees in git: turns an extracted Debian kernel tree into a git repository with one deterministic base
# commit (tag kspec-base), so that kspec's patch series can be checked with `git am` in throw-away worktrees.
#
# Usage: scripts/kernel-git.sh VERSION                       prints "<version> <worktree-dir> <base-commit>"
#        scripts/kernel-git.sh VERSION --fresh-worktree DIR  DIR becomes a clean checkout of kspec-base
# VERSION is 6.1 or 6.12. Cache: $KSPEC_CACHE (default ~/.cache/kspec); the repository is
# $KSPEC_CACHE/git/linux-source-VERSION, created once (about a minute) from scripts/kernel-trees.sh's tree,
# which is only read. A fresh worktree is a full checkout (tens of seconds on a slow disk); resetting an
# existing one takes a second or two, so callers should reuse DIR.
set -euo pipefail

[ $# = 1 ] || { [ $# = 3 ] && [ "$2" = --fresh-worktree ]; } || {
	echo "usage: $0 VERSION [--fresh-worktree DIR]" >&2
	exit 2
}
version=$1
cache="${KSPEC_CACHE:-$HOME/.cache/kspec}"
repo="$cache/git/linux-source-$version"

# The base commit hash must only depend on the tree's bytes: ignore the user's and the system's git config
# (autocrlf, signing, hooks paths...), and fix identities, dates and the message.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=kspec GIT_AUTHOR_EMAIL=kspec@invalid GIT_AUTHOR_DATE="2000-01-01T00:00:00+0000"
export GIT_COMMITTER_NAME=kspec GIT_COMMITTER_EMAIL=kspec@invalid GIT_COMMITTER_DATE="2000-01-01T00:00:00+0000"

line=$("$(dirname "$0")/kernel-trees.sh" "$version") # "<version> <dir>"
tree=${line#* }
message="Debian linux-source-$version $(cat "$tree/.kspec-extracted")"

mkdir -p "$cache/git"
exec 9>"$cache/git/.lock-$version"
flock 9 # one creator at a time; also serialises worktree bookkeeping

# (Re)create when missing or made from another package version (the message records it).
if [ "$(git -C "$repo" log -1 --format=%s kspec-base 2>/dev/null)" != "$message" ]; then
	echo "kernel-git: creating $repo" >&2
	tmp=$(mktemp -d "$cache/git/.create.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT # an interrupted creation leaves nothing behind
	# A copy, not `git --work-tree=$tree`: the extracted tree stays untouched for the other tools, and a
	# copy is as fast as checking the commit out again. The stamp file is ours, not the tarball's.
	cp -a "$tree" "$tmp/w"
	rm "$tmp/w/.kspec-extracted"
	git -C "$tmp/w" init -q -b base
	git -C "$tmp/w" config core.autocrlf false
	git -C "$tmp/w" config gc.auto 0
	# -f: the kernel's .gitignore files must not drop any file of the tarball.
	git -C "$tmp/w" add -A -f .
	git -C "$tmp/w" commit -q --no-verify --no-gpg-sign -m "$message"
	git -C "$tmp/w" tag kspec-base
	[ -z "$(git -C "$tmp/w" status --porcelain --ignored)" ] || { echo "kernel-git: tree not fully committed" >&2; exit 1; }
	want=$(cd "$tree" && find . \( -type f -o -type l \) ! -path ./.kspec-extracted | wc -l)
	[ "$(git -C "$tmp/w" ls-files | wc -l)" = "$want" ] || { echo "kernel-git: file count differs from $tree" >&2; exit 1; }
	# Identity for the `git am` runs of the tests (the global config is ignored above, not by them).
	git -C "$tmp/w" config user.name kspec
	git -C "$tmp/w" config user.email kspec@invalid
	rm -rf "$repo"
	mv "$tmp/w" "$repo"
	rmdir "$tmp"
	git -C "$repo" worktree prune
fi
base=$(git -C "$repo" rev-parse kspec-base)

if [ $# = 1 ]; then
	echo "$version $repo $base"
	exit 0
fi

dir=$(realpath -m "$3")
git -C "$repo" worktree prune # forget worktrees whose directory was deleted
if git -C "$repo" worktree list --porcelain | grep -qxF "worktree $dir"; then
	# Reuse: much faster than a new checkout, and only files that differ get new mtimes, so an incremental
	# kernel build of this worktree recompiles only what the last series touched.
	if [ -e "$(git -C "$dir" rev-parse --git-path rebase-apply)" ]; then git -C "$dir" am --quit; fi
	git -C "$dir" checkout -q -f --detach kspec-base
	git -C "$dir" clean -q -f -d -x
else
	# A worktree of a previous, replaced repository: its .git file points to a gitdir that no longer exists.
	if grep -qsxF "gitdir: $repo/.git/worktrees/$(basename "$dir")" "$dir/.git"; then rm -rf "$dir"; fi
	if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		echo "kernel-git: $dir exists and is not a worktree of $repo" >&2
		exit 1
	fi
	git -C "$repo" worktree add -q --detach "$dir" kspec-base
fi
echo "$version $dir $base"

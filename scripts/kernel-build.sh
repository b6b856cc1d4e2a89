#!/usr/bin/env bash
# Real build: compiles single objects of a kernel tree with the kernel's own build, out of tree, in a KVM
# configuration where KVM's warnings are errors, so that a patched tree is proven to compile.
#
# Usage: scripts/kernel-build.sh SRC_DIR BUILD_DIR OBJ...
#   e.g. scripts/kernel-build.sh ~/.cache/kspec/work/6.12 ~/.cache/kspec/build/6.12 \
#          virt/kvm/kvm_main.o arch/x86/kvm/x86.o arch/x86/kvm/vmx/vmx.o
# BUILD_DIR is configured once (x86_64_defconfig + KVM, KVM_INTEL, KVM_WERROR); later runs are incremental,
# make recompiles only what changed sources affect. SRC_DIR is never written (make O=BUILD_DIR). Exits
# non-zero, after make has printed the compiler's errors, when an object does not build. Jobs: $KSPEC_JOBS
# (default: number of CPUs).
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 SRC_DIR BUILD_DIR OBJ..." >&2; exit 2; }
src=$(realpath "$1")
build=$(realpath -m "$2")
shift 2
[ -f "$src/arch/x86/Makefile" ] || { echo "kernel-build: $src is not a kernel tree" >&2; exit 2; }

# An empty LOCALVERSION with LOCALVERSION_AUTO off keeps scripts/setlocalversion from asking git about SRC_DIR:
# a git worktree with applied patches would otherwise change the kernel release string, and so utsrelease.h.
export LOCALVERSION=
kmake() { make -C "$src" O="$build" -j"${KSPEC_JOBS:-$(nproc)}" "$@"; }
config_value() { sed -n "s/^CONFIG_$1=//p" "$build/.config"; }

mkdir -p "$build"
exec 9>"$build/.kspec-lock"
flock 9 # one build per BUILD_DIR at a time

# The stamp records the source tree: object dependencies name sources by absolute path, so a BUILD_DIR made
# for another SRC_DIR would miss changes; start it again (only when it is ours, i.e. has a stamp).
stamp="$build/.kspec-configured"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" != "$src" ]; then
	find "$build" -mindepth 1 -maxdepth 1 ! -name .kspec-lock -exec rm -rf {} +
fi
if [ ! -f "$stamp" ]; then
	kmake -s x86_64_defconfig
	# KVM_WERROR depends on EXPERT on 6.1; on 6.12 the defconfig's WERROR=y already allows it. EXPERT is only
	# added where needed, so that each tree keeps the smallest change from its defconfig.
	for extra in "" EXPERT; do
		"$src/scripts/config" --file "$build/.config" -d LOCALVERSION_AUTO \
			-e KVM -e KVM_INTEL -e KVM_WERROR ${extra:+-e $extra}
		kmake -s olddefconfig
		[ "$(config_value KVM_WERROR)" != y ] || break
	done
	for opt in KVM KVM_INTEL KVM_WERROR; do
		[ "$(config_value $opt)" = y ] || { echo "kernel-build: CONFIG_$opt is not =y in $build/.config" >&2; exit 1; }
	done
	echo "$src" > "$stamp"
fi

# Single-object goals make the top Makefile run `prepare` (generated headers, objtool) first, then only the
# directories holding the objects. -k: report every object that fails, not just the first.
kmake -k "$@"

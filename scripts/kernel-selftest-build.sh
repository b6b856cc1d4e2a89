#!/usr/bin/env bash
# Real selftests: builds the KVM selftests of a kernel tree against that tree's own UAPI headers, out of tree,
# so that a patch series touching tools/testing/selftests/kvm is proven to compile and link.
#
# Usage: scripts/kernel-selftest-build.sh SRC_DIR BUILD_DIR [TEST...]
#   e.g. scripts/kernel-selftest-build.sh ~/.cache/kspec/work/6.1 ~/.cache/kspec/selftest/6.1 set_memory_region_test
# Headers go to BUILD_DIR/usr/include (make O=BUILD_DIR headers_install), test binaries to BUILD_DIR/kselftest/kvm
# (OUTPUT=); SRC_DIR is never written. Every test is attempted (make -k) and the ones that fail are listed.
# Exit status: without TEST arguments, that of the whole build; with them (names relative to the kvm directory,
# e.g. x86_64/smm_test), zero exactly when each of them is built and up to date, so that known failures of
# unrelated tests (6.1: dirty_log_test, steal_time) do not hide or fake a result. Jobs: $KSPEC_JOBS.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 SRC_DIR BUILD_DIR [TEST...]" >&2; exit 2; }
src=$(realpath "$1")
build=$(realpath -m "$2")
shift 2
kvm="$src/tools/testing/selftests/kvm"
out="$build/kselftest/kvm"
[ -f "$kvm/Makefile" ] || { echo "kernel-selftest-build: $kvm/Makefile not found" >&2; exit 2; }
jobs=-j"${KSPEC_JOBS:-$(nproc)}"

mkdir -p "$build"
exec 9>"$build/.kspec-selftest-lock"
flock 9 # one build per BUILD_DIR at a time

# Objects and dependency files name their source by absolute path: never mix two source trees in one output.
if [ "$(cat "$build/.kspec-selftest-src" 2>/dev/null)" != "$src" ]; then
	rm -rf "$out"
	echo "$src" > "$build/.kspec-selftest-src"
fi
# Before 6.12-era Makefiles (-MD), tests do not depend on the headers they include, so an incremental build
# could keep stale binaries; a full build takes seconds there, so start from scratch.
grep -q -- '-MD' "$kvm/Makefile" || rm -rf "$out"

make -s -C "$src" O="$build" "$jobs" headers_install
# The selftests' own variables: OUTPUT for every generated file, and both header paths (the defaults point
# into SRC_DIR/usr, i.e. an in-tree headers_install).
kvm_make() {
	make -C "$kvm" "$jobs" OUTPUT="$out" INSTALL_HDR_PATH="$build/usr" KHDR_INCLUDES="-isystem $build/usr/include" "$@"
}

mkdir -p "$out"
log="$build/kselftest/kvm-build.log"
status=0
kvm_make -k > "$log" 2>&1 || status=$?
failed=$(sed -n "s|^make[^:]*: \*\*\* \[.*: $out/\(.*\)\] Error [0-9]*\$|\1|p" "$log" | sort -u | tr '\n' ' ')
if [ $status != 0 ]; then
	grep -E 'error|warning|undefined reference' "$log" >&2 || true
	echo "kernel-selftest-build: failed targets: ${failed:-?} (full log: $log)" >&2
fi
[ $# -gt 0 ] || exit $status

# make -q: up to date, i.e. built from the current sources, not a binary left over from an earlier run.
for t in "$@"; do
	if ! kvm_make -q "$out/$t" > /dev/null 2>&1; then
		echo "kernel-selftest-build: required test $t was not built" >&2
		exit 1
	fi
done
echo "kernel-selftest-build: built $*" >&2

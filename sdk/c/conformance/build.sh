#!/bin/sh
# Builds the C conformance probe freestanding: clang and lld only, no libc.
#   usage: build.sh OUT.wasm      (OUT is relative to the caller's directory)
# Needs (Debian): apt-get install -y clang lld
# CLANG overrides the compiler. Nothing is rebuilt when OUT is newer than
# every input.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUT.wasm" >&2
	exit 2
fi
case $1 in
/*) out=$1 ;;
*) out=$(pwd)/$1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
sdk=$(cd "$here/.." && pwd)

fail() {
	echo "build.sh (c probe): $*" >&2
	exit 1
}

cc=${CLANG:-}
if [ -z "$cc" ]; then
	for c in clang clang-14; do
		if command -v "$c" >/dev/null 2>&1; then
			cc=$c
			break
		fi
	done
fi
[ -n "$cc" ] && command -v "$cc" >/dev/null 2>&1 || fail "clang not found; install it: apt-get install -y clang lld"
ld=$("$cc" -print-prog-name=wasm-ld)
command -v "$ld" >/dev/null 2>&1 || [ -x "$ld" ] || fail "wasm-ld not found; install it: apt-get install -y lld"

inputs="$here/probe.c $sdk/sluice.h $here/build.sh"
if [ -f "$out" ]; then
	fresh=1
	for f in $inputs; do
		[ "$out" -nt "$f" ] || fresh=0
	done
	[ $fresh -eq 0 ] || exit 0
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$cc" --target=wasm32 -O2 -nostdlib -Wall -Wextra -Wmissing-prototypes -I"$sdk" \
	-Wl,--no-entry -Wl,--strip-all -o "$tmp" "$here/probe.c"
mv "$tmp" "$out"

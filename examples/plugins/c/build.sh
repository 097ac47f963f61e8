#!/bin/sh
# Builds the C example filter with clang and wasi-libc as a reactor module.
#   usage: build.sh OUT.wasm      (OUT is relative to the caller's directory)
# Needs (Debian): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
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
sdk=$(cd "$here/../../../sdk/c" && pwd)

fail() {
	echo "build.sh (c example): $*" >&2
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
[ -n "$cc" ] && command -v "$cc" >/dev/null 2>&1 || fail "clang not found; install it: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"
ld=$("$cc" -print-prog-name=wasm-ld)
command -v "$ld" >/dev/null 2>&1 || [ -x "$ld" ] || fail "wasm-ld not found; install it: apt-get install -y lld"
libc=$("$cc" --target=wasm32-wasi -print-file-name=libc.a)
[ -f "$libc" ] || fail "wasi-libc not found for $cc; install it: apt-get install -y wasi-libc"
rt=$("$cc" --target=wasm32-wasi -print-libgcc-file-name)
[ -f "$rt" ] || fail "$rt not found; install it: apt-get install -y libclang-rt-14-dev-wasm32"

inputs="$here/filter.c $sdk/sluice.h $here/build.sh"
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
"$cc" --target=wasm32-wasi -O2 -mexec-model=reactor -Wall -Wextra -Wmissing-prototypes -I"$sdk" \
	-Wl,--strip-all -o "$tmp" "$here/filter.c"
mv "$tmp" "$out"

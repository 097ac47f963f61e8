#!/bin/sh
# Builds one C plugin source file against sluice.h as a reactor module.
#   usage: build-plugin.sh wasi|freestanding SRC.c OUT.wasm
# wasi: clang + wasi-libc (apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32)
# freestanding: clang + lld only, no libc (apt-get install -y clang lld)
# Paths are relative to the caller's directory. CLANG overrides the compiler.
# Nothing is rebuilt when OUT is newer than the source, sluice.h and the scripts.
set -eu

if [ $# -ne 3 ]; then
	echo "usage: $0 wasi|freestanding SRC.c OUT.wasm" >&2
	exit 2
fi
mode=$1
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
src=$(abs "$2")
out=$(abs "$3")
sdk=$(cd "$(dirname "$0")" && pwd)

fail() {
	echo "build-plugin.sh ($src): $*" >&2
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
case $mode in
wasi)
	libc=$("$cc" --target=wasm32-wasi -print-file-name=libc.a)
	[ -f "$libc" ] || fail "wasi-libc not found for $cc; install it: apt-get install -y wasi-libc"
	rt=$("$cc" --target=wasm32-wasi -print-libgcc-file-name)
	[ -f "$rt" ] || fail "$rt not found; install it: apt-get install -y libclang-rt-14-dev-wasm32"
	flags="--target=wasm32-wasi -mexec-model=reactor"
	;;
freestanding)
	flags="--target=wasm32 -nostdlib -Wl,--no-entry"
	;;
*)
	fail "unknown mode $mode (wasi or freestanding)"
	;;
esac

inputs="$src $sdk/sluice.h $sdk/build-plugin.sh"
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
# shellcheck disable=SC2086 # flags are words
"$cc" $flags -O2 -Wall -Wextra -Wmissing-prototypes -I"$sdk" -Wl,--strip-all -o "$tmp" "$src"
mv "$tmp" "$out"

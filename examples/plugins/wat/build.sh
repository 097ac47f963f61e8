#!/bin/sh
# Builds the hand-written WAT example filter: ./build.sh OUT.wasm (any cwd).
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUT.wasm" >&2
	exit 2
fi
if ! command -v wat2wasm >/dev/null 2>&1; then
	echo "$0: wat2wasm is not on PATH (Debian: apt-get install -y wabt)" >&2
	exit 1
fi
case $1 in
/*) out=$1 ;;
*) out=$(pwd)/$1 ;;
esac
src=$(cd "$(dirname "$0")" && pwd)/example.wat
mkdir -p "$(dirname "$out")"
if [ "$out" -nt "$src" ] && [ "$out" -nt "$0" ]; then
	exit 0 # up to date
fi
wat2wasm "$src" -o "$out"

#!/bin/sh
# Builds the Go example filter: ./build.sh OUT.wasm (any cwd).
# A Go plugin must be a reactor, hence -buildmode=c-shared (sdk/ABI.md §1).
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUT.wasm" >&2
	exit 2
fi
if ! command -v go >/dev/null 2>&1; then
	echo "$0: the Go toolchain (1.24 or later) is not on PATH" >&2
	exit 1
fi
case $1 in
/*) out=$1 ;;
*) out=$(pwd)/$1 ;;
esac
mkdir -p "$(dirname "$out")"
cd "$(dirname "$0")"
# Inside the Sluice module, so the SDK resolves from the checkout; Go's
# build cache makes an unchanged rebuild a relink only.
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$out" .

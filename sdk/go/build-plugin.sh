#!/bin/sh
# Builds a Go plugin package inside the Sluice module as a reactor
# (-buildmode=c-shared, sdk/ABI.md §1): build-plugin.sh PKGDIR OUT.wasm
# (paths relative to the caller's directory). Go's build cache makes an
# unchanged rebuild a relink only.
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 PKGDIR OUT.wasm" >&2
	exit 2
fi
if ! command -v go >/dev/null 2>&1; then
	echo "$0: the Go toolchain (1.24 or later) is not on PATH" >&2
	exit 1
fi
case $2 in
/*) out=$2 ;;
*) out=$(pwd)/$2 ;;
esac
mkdir -p "$(dirname "$out")"
cd "$1"
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o "$out" .

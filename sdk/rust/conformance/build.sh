#!/bin/sh
# build.sh OUT.wasm: builds the Rust probe (sdk/CONFORMANCE.md §2).
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 OUT.wasm" >&2
	exit 2
fi
case $1 in
/*) out=$1 ;;
*) out=$PWD/$1 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-plugin.sh" "$here" "$out"

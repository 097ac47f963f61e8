#!/bin/sh
# Builds a hand-written WAT plugin: build-plugin.sh SRC.wat OUT.wasm (paths
# relative to the caller's directory). Needs wabt (apt-get install -y wabt).
set -eu
if [ $# -ne 2 ]; then
	echo "usage: $0 SRC.wat OUT.wasm" >&2
	exit 2
fi
if ! command -v wat2wasm >/dev/null 2>&1; then
	echo "$0: wat2wasm is not on PATH (Debian: apt-get install -y wabt)" >&2
	exit 1
fi
mkdir -p "$(dirname "$2")"
if [ "$2" -nt "$1" ] && [ "$2" -nt "$0" ]; then
	exit 0 # up to date
fi
wat2wasm "$1" -o "$2"

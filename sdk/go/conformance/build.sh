#!/bin/sh
# Builds the Go SDK's conformance probe (sdk/CONFORMANCE.md §2): ./build.sh OUT.wasm (any cwd).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-plugin.sh" "$here" "$@"

#!/bin/sh
# Builds the Go example filter: ./build.sh OUT.wasm (any cwd).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../../sdk/go/build-plugin.sh" "$here" "$@"

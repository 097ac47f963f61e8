#!/bin/sh
# Builds the hand-written WAT example filter: ./build.sh OUT.wasm (any cwd).
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../../sdk/wat/build-plugin.sh" "$here/example.wat" "$@"

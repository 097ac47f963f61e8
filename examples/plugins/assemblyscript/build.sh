#!/usr/bin/env bash
# Builds the AssemblyScript example filter (sdk/CONFORMANCE.md §1).
# Usage: build.sh OUT.wasm (relative to the caller's cwd).
# The compiler is sdk/assemblyscript/node_modules/.bin/asc; asbuild.sh runs
# `npm ci` there first if it is missing.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT.wasm" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../../../sdk/assemblyscript/asbuild.sh" "$here/plugin.ts" "$1" "$here"

#!/usr/bin/env bash
# Builds the AssemblyScript conformance probe (sdk/CONFORMANCE.md §2).
# Usage: build.sh OUT.wasm (relative to the caller's cwd).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT.wasm" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../asbuild.sh" "$here/probe.ts" "$1" "$here"

#!/bin/sh
# Builds the C conformance probe freestanding: clang and lld only, no libc.
#   usage: build.sh OUT.wasm      (OUT is relative to the caller's directory)
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../build-plugin.sh" freestanding "$here/probe.c" "$@"

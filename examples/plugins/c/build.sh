#!/bin/sh
# Builds the C example filter with clang and wasi-libc as a reactor module.
#   usage: build.sh OUT.wasm      (OUT is relative to the caller's directory)
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../../sdk/c/build-plugin.sh" wasi "$here/filter.c" "$@"

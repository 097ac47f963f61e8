#!/bin/sh
# Runs the example filter's unit tests natively, against the C SDK's mock
# host (sdk/c/sluice_mock.c). No WebAssembly is involved.
#   usage: test.sh      (from any directory; CC picks the compiler, default cc)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sdk=$(cd "$here/../../../sdk/c" && pwd)
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || { echo "test.sh: $cc not found; install gcc or clang" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cc" -std=c11 -Wall -Wextra -Wmissing-prototypes -Werror -DSLUICE_MOCK -I"$sdk" \
	-o "$tmp/filter_test" "$here/filter.c" "$here/filter_test.c" "$sdk/sluice_mock.c"
"$tmp/filter_test"

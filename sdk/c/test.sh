#!/bin/sh
# Runs the C SDK's tests: the SDK and the mock host, the probe, the example
# filter and the tutorial plugin, natively against the mock (with -Werror,
# and again under AddressSanitizer/UBSan when the compiler supports them);
# then builds the same plugins for wasm in both modes (wasi-libc and
# freestanding, with and without bulk memory), and checks with wasm-objdump
# (when installed) that only a module calling sluice_caps.h imports the
# capability functions.
#   usage: sdk/c/test.sh          (from any directory)
# CC picks the native compiler (default cc); CLANG the wasm one (default clang).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
example=$(cd "$here/../../examples/plugins/c" && pwd)
cc=${CC:-cc}
clang=${CLANG:-clang}
command -v "$cc" >/dev/null 2>&1 || { echo "test.sh: $cc not found; install gcc or clang" >&2; exit 1; }
command -v "$clang" >/dev/null 2>&1 || { echo "test.sh: $clang not found; apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

flags="-std=c11 -Wall -Wextra -Wmissing-prototypes -pedantic -Werror -DSLUICE_MOCK -I$here"
san=""
if echo 'int main(void){return 0;}' | "$cc" -x c -fsanitize=address,undefined -o "$tmp/san" - >/dev/null 2>&1; then
	san="-g -fsanitize=address,undefined -fno-sanitize-recover=undefined"
fi

# native NAME SOURCES...: build and run one test program, plain and sanitized.
native() {
	name=$1
	shift
	echo "== $name"
	"$cc" $flags -O2 -o "$tmp/$name" "$@" "$here/sluice_mock.c"
	"$tmp/$name"
	if [ -n "$san" ]; then
		"$cc" $flags $san -o "$tmp/$name-san" "$@" "$here/sluice_mock.c"
		ASAN_OPTIONS=detect_leaks=0 "$tmp/$name-san" >/dev/null
	fi
}

native sdk_test "$here/test/sdk_test.c"
native caps_test "$here/test/caps_test.c"
native probe_test "$here/conformance/probe.c" "$here/conformance/probe_test.c"
native filter_test "$example/filter.c" "$example/filter_test.c"
native hello_test "$here/examples/hello/hello.c" "$here/examples/hello/hello_test.c"

# wasm MODE NAME SOURCE: build for wasm with -Werror in one mode.
wasm() {
	mode=$1 name=$2 src=$3
	case $mode in
	wasi) "$clang" --target=wasm32-wasi -O2 -mexec-model=reactor -Wall -Wextra -Wmissing-prototypes -Werror -I"$here" -Wl,--strip-all -o "$tmp/$name.wasm" "$src" ;;
	free) "$clang" --target=wasm32 -O2 -nostdlib -Wall -Wextra -Wmissing-prototypes -Werror -I"$here" -Wl,--no-entry -Wl,--strip-all -o "$tmp/$name.wasm" "$src" ;;
	bulk) "$clang" --target=wasm32 -O2 -mbulk-memory -nostdlib -Wall -Wextra -Wmissing-prototypes -Werror -I"$here" -Wl,--no-entry -Wl,--strip-all -o "$tmp/$name.wasm" "$src" ;;
	esac
	echo "== wasm $mode $name: $(wc -c <"$tmp/$name.wasm") bytes"
}

for mode in wasi free bulk; do
	wasm $mode probe "$here/conformance/probe.c"
	wasm $mode filter "$example/filter.c"
	wasm $mode hello "$here/examples/hello/hello.c"
	wasm $mode caps "$here/test/caps_plugin.c"
done

# Capability functions need a grant (ABI.md §4.8-§4.12): only a module that
# calls them may import them.
if command -v wasm-objdump >/dev/null 2>&1; then
	caps='kv_get|kv_set|kv_incr|kv_delete|dns_lookup|dkim_sign|auth_check|auth_value|scan|scan_value'
	for name in probe filter hello; do
		if wasm-objdump -x -j Import "$tmp/$name.wasm" | grep -Eq "sluice\.($caps)"; then
			echo "test.sh: $name.wasm imports a capability function it does not use" >&2
			exit 1
		fi
	done
	got=$(wasm-objdump -x -j Import "$tmp/caps.wasm" | grep -Eo "sluice\.($caps)" | sort -u | tr '\n' ' ')
	[ "$got" = "sluice.auth_check sluice.auth_value sluice.dkim_sign sluice.dns_lookup sluice.kv_delete sluice.kv_get sluice.kv_incr sluice.kv_set sluice.scan sluice.scan_value " ] || {
		echo "test.sh: caps.wasm imports [$got], want every capability function" >&2
		exit 1
	}
	echo "== imports: capability functions only where used"
fi
echo "ok"

#!/bin/sh
# test.sh: runs the native unit tests of the Rust SDK (src/, tests/, doc
# examples), of the tutorial plugin (examples/hello/), of the probe
# (conformance/) and of the example filter
# (examples/plugins/rust/) against the SDK's mock host, with Debian's
# toolchain, offline. Cargo's target directory goes to $SLUICE_RUST_TARGET
# (default: $TMPDIR/sluice-rust-test), not into the source tree.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/toolchain.sh"
target=${SLUICE_RUST_TARGET:-${TMPDIR:-/tmp}/sluice-rust-test}
for crate in "$here" "$here/examples/hello" "$here/conformance" "$here/../../examples/plugins/rust"; do
	echo "== cargo test: $crate"
	(cd "$crate" && RUSTC=$rustc RUSTDOC=$rustdoc CARGO_TARGET_DIR=$target "$cargo" test --offline)
done

#!/bin/sh
# build-plugin.sh CRATE_DIR OUT.wasm
#
# Builds the Rust plugin crate in CRATE_DIR to OUT.wasm with Debian's rustc
# 1.63 and cargo, offline, for wasm32-unknown-unknown, with a 64 KiB stack
# (3 pages of memory at start instead of 18). Cargo's target directory is
# kept beside OUT (OUT's dir/.rust-target), outside the source tree, so a
# second build with nothing changed is a no-op.
#
# Debian's toolchain is used even when rustup's is earlier on PATH (see
# toolchain.sh).
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 CRATE_DIR OUT.wasm" >&2
	exit 2
fi
crate=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out=$2
case $out in
/*) ;;
*) out=$PWD/$out ;;
esac

. "$here/toolchain.sh"

name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$crate/Cargo.toml" | head -n 1 | tr - _)
target_dir=$(dirname "$out")/.rust-target
mkdir -p "$target_dir"

cd "$crate"
RUSTC=$rustc RUSTFLAGS="-C link-arg=-zstack-size=65536" CARGO_TARGET_DIR=$target_dir \
	"$cargo" build --quiet --offline --release --target wasm32-unknown-unknown

cp "$target_dir/wasm32-unknown-unknown/release/$name.wasm" "$out.tmp"
mv "$out.tmp" "$out"

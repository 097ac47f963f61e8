# toolchain.sh: sourced by build-plugin.sh and test.sh. Sets $rustc,
# $rustdoc and $cargo to Debian's toolchain (rustc 1.63, cargo 0.66), which
# has the wasm32 std; rustup's, often earlier on PATH, does not. Override
# with SLUICE_RUSTC, SLUICE_RUSTDOC and SLUICE_CARGO. Exits with a message
# when a tool is missing.

need="install it with: apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld"

# debian_tool TOOL PACKAGE: the path of Debian's TOOL binary, or "".
debian_tool() {
	p=$(dpkg -L "$2" 2>/dev/null | grep -v /share/ | grep "/bin/$1\$" | head -n 1) || true
	if [ -z "$p" ] && [ -x "/usr/bin/$1" ]; then
		p=/usr/bin/$1
	fi
	echo "$p"
}

rustc=${SLUICE_RUSTC:-$(debian_tool rustc rustc)}
rustdoc=${SLUICE_RUSTDOC:-$(debian_tool rustdoc rustc)}
cargo=${SLUICE_CARGO:-$(debian_tool cargo cargo)}
for t in "rustc:$rustc" "rustdoc:$rustdoc" "cargo:$cargo"; do
	if [ -z "${t#*:}" ] || [ ! -x "${t#*:}" ]; then
		echo "sluice rust sdk: Debian's ${t%%:*} was not found; $need" >&2
		exit 1
	fi
done
if [ ! -d "$("$rustc" --print sysroot)/lib/rustlib/wasm32-unknown-unknown" ]; then
	echo "sluice rust sdk: $rustc has no std for wasm32-unknown-unknown; $need" >&2
	exit 1
fi

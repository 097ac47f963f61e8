#!/usr/bin/env bash
# asbuild.sh ENTRY.ts OUT.wasm [WATCH_DIR...]
#
# Compiles one AssemblyScript plugin with the SDK's pinned compiler
# (node_modules/.bin/asc, installed from package-lock.json by `npm ci` when
# missing). Works from any directory; relative paths are taken from the
# caller's cwd. Does nothing when OUT.wasm is newer than the entry, every
# .ts file under the WATCH_DIRs and the SDK, and the lock file.
#
# Flags: -O3 --runtime incremental. The incremental runtime frees memory
# (the stub runtime never does), so memory stays flat over many calls.
set -euo pipefail

die() { echo "asbuild: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: asbuild.sh ENTRY.ts OUT.wasm [WATCH_DIR...]"

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac; }
entry=$(abspath "$1")
out=$(abspath "$2")
shift 2
watch=()
for d in "$@"; do watch+=("$(abspath "$d")"); done

sdk=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
asc="$sdk/node_modules/.bin/asc"

[ -f "$entry" ] || die "no such file: $entry"
command -v node >/dev/null 2>&1 ||
  die "node not found: AssemblyScript needs Node.js 20 or later and npm (Debian: apt-get install nodejs npm)"

if [ ! -x "$asc" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found: install npm, then run 'npm ci' in $sdk"
  echo "asbuild: installing the pinned AssemblyScript compiler (npm ci in $sdk)" >&2
  (cd "$sdk" && npm ci --no-audit --no-fund --silent) ||
    die "'npm ci' failed in $sdk (it needs the npm registry or a warm npm cache)"
  [ -x "$asc" ] || die "npm ci did not install $asc"
fi

# Up to date: nothing that feeds the module is newer than it.
if [ -f "$out" ]; then
  newer=$(find "$entry" "$sdk/assembly" "$sdk/package-lock.json" "${BASH_SOURCE[0]}" "${watch[@]}" \
    -newer "$out" \( -name '*.ts' -o -name '*.json' -o -name '*.sh' \) -print -quit 2>/dev/null)
  [ -n "$newer" ] || exit 0
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# Compile from the entry's directory so the file names that abort messages
# carry are relative, and the module does not depend on the checkout path.
(cd "$(dirname "$entry")" && "$asc" "$(basename "$entry")" -O3 --runtime incremental -o "$tmp")
mv -f "$tmp" "$out"

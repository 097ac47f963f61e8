#!/usr/bin/env bash
# Rebuilds the console's vendored chart library from package-lock.json
# (make console-assets): uPlot's own browser build, copied as it is, so
# that `go build` needs no npm and the page loads nothing from the network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts --silent
mkdir -p ../assets/vendor
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css ../assets/vendor/
cp node_modules/uplot/LICENSE ../assets/vendor/uPlot.LICENSE

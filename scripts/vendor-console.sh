#!/usr/bin/env bash
# Re-vendors the audit console's libraries (assets/vendor/console) from the npm registry at pinned
# versions and checks them against the recorded checksums: uPlot draws the charts, graphql-ws
# carries the live feed. The files are committed, so neither the build nor the README commands
# need the network.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/assets/vendor/console"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent uplot@1.6.32 graphql-ws@6.0.6 >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
cp uplot-1.6.32/package/dist/uPlot.iife.min.js uplot-1.6.32/package/dist/uPlot.min.css "$out/"
cp uplot-1.6.32/package/LICENSE "$out/LICENSE.uplot"
cp graphql-ws-6.0.6/package/umd/graphql-ws.min.js "$out/"
cp graphql-ws-6.0.6/package/LICENSE.md "$out/LICENSE.graphql-ws"
cd "$out" && sha256sum -c SHA256SUMS

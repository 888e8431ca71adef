#!/usr/bin/env bash
# Re-vendors the GraphiQL playground that the binary embeds (assets/vendor/graphiql), from the
# npm registry at pinned versions, and checks the files against the recorded checksums. The
# server build and the README commands never need the network: the files are committed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/assets/vendor/graphiql"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent graphiql@3.8.3 react@18.3.1 react-dom@18.3.1 >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
cp graphiql-3.8.3/package/graphiql.min.js graphiql-3.8.3/package/graphiql.min.css "$out/"
cp graphiql-3.8.3/package/LICENSE "$out/LICENSE.graphiql"
cp react-18.3.1/package/umd/react.production.min.js "$out/"
cp react-18.3.1/package/LICENSE "$out/LICENSE.react"
cp react-dom-18.3.1/package/umd/react-dom.production.min.js "$out/"
cd "$out" && sha256sum -c SHA256SUMS

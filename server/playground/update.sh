#!/usr/bin/env bash
# update.sh re-fetches the GraphiQL playground's third-party assets into
# vendor/ from the npm registry, at the pinned versions below, so the
# playground works with no internet. npm pack checks every tarball against
# the registry's integrity hash, and SHA256SUMS records what was copied:
# re-running this script must leave `git diff` empty. To upgrade, change a
# version here, run it, and check the playground in a browser.
#
# Needs: npm, tar, sha256sum, sed. Run from anywhere.
set -euo pipefail

GRAPHIQL_VERSION=3.8.3 # the last major with a UMD build (window.GraphiQL)
REACT_VERSION=18.3.1   # React 19 ships no UMD builds

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

graphiql="graphiql-$GRAPHIQL_VERSION"
react="react-$REACT_VERSION"
reactdom="react-dom-$REACT_VERSION"

cd "$tmp"
npm pack --silent "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" >/dev/null
for pkg in "$graphiql" "$react" "$reactdom"; do
	mkdir "$pkg"
	tar -xzf "$pkg.tgz" -C "$pkg"
done

vendor="$here/vendor"
rm -rf "$vendor"
mkdir -p "$vendor"
cp "$graphiql/package/graphiql.min.js" "$vendor/$graphiql.min.js"
cp "$graphiql/package/graphiql.min.css" "$vendor/$graphiql.min.css"
cp "$graphiql/package/LICENSE" "$vendor/LICENSE.graphiql"
cp "$react/package/umd/react.production.min.js" "$vendor/$react.production.min.js"
cp "$reactdom/package/umd/react-dom.production.min.js" "$vendor/$reactdom.production.min.js"
cp "$react/package/LICENSE" "$vendor/LICENSE.react"

# The file names carry the versions (so they can be cached forever);
# index.html names them.
sed -i -E \
	-e "s/graphiql-[0-9]+\.[0-9]+\.[0-9]+/$graphiql/g" \
	-e "s/react-dom-[0-9]+\.[0-9]+\.[0-9]+/$reactdom/g" \
	-e "s/react-[0-9]+\.[0-9]+\.[0-9]+/$react/g" \
	"$here/index.html"

cd "$vendor"
LC_ALL=C sha256sum -- * >"$here/SHA256SUMS"
echo "updated $vendor:"
LC_ALL=C ls -l "$vendor"

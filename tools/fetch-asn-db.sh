#!/usr/bin/env bash
# Installs the offline IP-to-ASN dataset that `exhunt campaign` attributes addresses with: the npm package
# `@ip-location-db/asn` (CC BY 4.0; see README.md "Data credits"), read with `npm pack` from the npm registry (npm
# checks the tarball against the registry's integrity hash). Into DIR go `asn-ipv4.csv`, `asn-ipv6.csv`, the
# package's licence files and README, and `VERSION`.
#
#   tools/fetch-asn-db.sh                              # the pinned version below, into ~/.cache/exhunt/asn
#   EXHUNT_ASN_VERSION=latest tools/fetch-asn-db.sh    # the newest published version
#   EXHUNT_ASN_DIR=/srv/exhunt/asn tools/fetch-asn-db.sh
#
# Nothing is fetched when DIR already holds that version. A new version replaces the old one in one rename.
# The pinned version keeps CI and the benchmark figures reproducible. Note: the package's README (June 2026) says
# npm updates are deprecated, that the npm data has known errors, and points to the project's GitHub releases.
set -euo pipefail
PACKAGE="@ip-location-db/asn"
VERSION="${EXHUNT_ASN_VERSION:-2.3.2026061719}"
DIR="${EXHUNT_ASN_DIR:-$HOME/.cache/exhunt/asn}"
FILES=(asn-ipv4.csv asn-ipv6.csv ROUTEVIEWS-LICENSE DBIP-LICENSE NRO_LICENSE MODIFICATIONS README.md package.json)

command -v npm >/dev/null || { echo "fetch-asn-db: npm is not installed; install it (apt-get install npm) and run again" >&2; exit 3; }
if [[ "$VERSION" == latest ]]; then
  VERSION="$(npm view "$PACKAGE" version)"
fi
if [[ -s "$DIR/asn-ipv4.csv" && -s "$DIR/asn-ipv6.csv" && "$(cat "$DIR/VERSION" 2>/dev/null)" == "$VERSION" ]]; then
  echo "fetch-asn-db: $PACKAGE $VERSION is already in $DIR"
  exit 0
fi

mkdir -p "$(dirname "$DIR")"
WORK="$(mktemp -d "$(dirname "$DIR")/.fetch-asn-db.XXXXXX")"   # beside DIR, so that the last step is a rename
trap 'rm -rf "$WORK"' EXIT
TARBALL="$(cd "$WORK" && npm pack --silent "$PACKAGE@$VERSION" | tail -1)"
tar -xzf "$WORK/$TARBALL" -C "$WORK" "${FILES[@]/#/package/}"
echo "$VERSION" > "$WORK/package/VERSION"
if [[ -e "$DIR" ]]; then mv "$DIR" "$WORK/old"; fi
mv "$WORK/package" "$DIR"
echo "fetch-asn-db: $PACKAGE $VERSION in $DIR: $(wc -l < "$DIR/asn-ipv4.csv") IPv4 rows, $(wc -l < "$DIR/asn-ipv6.csv") IPv6 rows"

#!/usr/bin/env bash
# Writes the checksums of release VERSION into action.yml, so that the commit carrying them pins
# the binary the Action installs:
#
#   .github/pin-action.sh v0.2.0 dist/SHA256SUMS [action.yml]
#
# SHA256SUMS is the file the release workflow computed (its "SHA256SUMS" step): one line per
# archive, "<sha256>  setup-<target>.<ext>". The release workflow runs this and uploads the result
# as the artifact action-pins; committing it is step 3 of docs/development.md, Releasing.
set -euo pipefail

version="${1:?usage: pin-action.sh VERSION SHA256SUMS [action.yml]}"
sums="${2:?usage: pin-action.sh VERSION SHA256SUMS [action.yml]}"
action="${3:-action.yml}"

if ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  echo "pin-action.sh: $version is not a release version like v0.2.0" >&2
  exit 1
fi
line=""
while read -r sum name; do
  if ! [[ "$sum" =~ ^[0-9a-f]{64}$ && "$name" =~ ^\*?setup-[A-Za-z0-9_.-]+\.(tar\.gz|zip)$ ]]; then
    echo "pin-action.sh: $sums has a line that is not \"<sha256>  setup-<target>.<ext>\": $sum $name" >&2
    exit 1
  fi
  line="${line:+$line }$sum ${name#\*}"
done < "$sums"
[ -n "$line" ] || { echo "pin-action.sh: $sums lists no archive" >&2; exit 1; }

for key in SETUP_PINNED_VERSION SETUP_PINNED_SHA256SUMS; do
  [ "$(grep -c "^        $key: " "$action")" = 1 ] ||
    { echo "pin-action.sh: $action has no single line \"        $key: \"" >&2; exit 1; }
done
tmp="$action.pinning"
sed -e "s|^        SETUP_PINNED_VERSION: .*|        SETUP_PINNED_VERSION: \"$version\"|" \
    -e "s|^        SETUP_PINNED_SHA256SUMS: .*|        SETUP_PINNED_SHA256SUMS: \"$line\"|" \
    "$action" > "$tmp"
mv "$tmp" "$action"
echo "action.yml now installs $version only against: $line"

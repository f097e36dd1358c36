#!/usr/bin/env bash
# Fail when notebooks are not clean (nbdev_clean would change them) or when the library has
# drifted from the notebooks (nbdev_export would change it). Works on a scratch copy of the
# tracked and untracked files of the tree given (default: this repository), changing nothing.
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$src" && git ls-files -co --exclude-standard -z) | (cd "$src" && xargs -0 cp --parents -t "$scratch")
cd "$scratch"
git init -q && git add -A && git -c user.name=check -c user.email=check@localhost commit -qm snapshot
status=0
nbdev_clean >/dev/null
if [ -n "$(git status --porcelain)" ]; then
    echo "error: notebooks are not clean; run nbdev_clean and commit:" >&2; git status --porcelain >&2; status=1
fi
git checkout -q . && nbdev_export >/dev/null
if [ -n "$(git status --porcelain)" ]; then
    echo "error: library and notebooks have drifted apart; run nbdev_export and commit:" >&2; git status --porcelain >&2; status=1
fi
[ $status -eq 0 ] && echo "notebooks clean and library in sync with them"
exit $status

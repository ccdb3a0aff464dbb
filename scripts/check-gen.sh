#!/usr/bin/env bash
# Fails when src/generated/ is not what scripts/gen.sh makes from proto/ today.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/gen.sh >/dev/null
if ! git diff --quiet --exit-code -- src/generated || [ -n "$(git ls-files --others --exclude-standard src/generated)" ]; then
  echo "src/generated is stale: run 'npm run gen' and commit the result" >&2
  git --no-pager diff --stat -- src/generated >&2
  exit 1
fi
echo "src/generated is fresh"

#!/usr/bin/env bash
# Machine-level set-up that pip cannot do (a Docker engine, the sandbox image, vLLM's own venv).
# Runs every scripts/setup.d/*.sh in name order. Each script is idempotent, finishes quickly when
# its part is already there, and, when its part cannot be set up here (not root, no apt), prints
# why and exits 0 so that the tests needing that part skip with a clear reason.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in scripts/setup.d/*.sh; do
    [ -e "$script" ] || continue
    echo "== $script"
    bash "$script"
done

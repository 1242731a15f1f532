#!/usr/bin/env bash
# `make test`'s last step: pytest, with tiny-base's pretraining (15-25 min) started beside it.
# The build runs on one thread in the background while the other tests run (many of them wait on
# servers, sandboxes and browsers); the tests that need tiny-base run last (tests/conftest.py) and
# wait for this build on its lock (agents.models.write_tiny_base) rather than starting their own.
# A cached current tiny-base makes the background step a no-op.  Exit status: pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
log=$(mktemp -t tiny-base-build.XXXXXX)
build=
if "$VENV/bin/python" -c "import torch, transformers" 2>/dev/null; then
    OMP_NUM_THREADS=1 "$VENV/bin/turngym" models tiny-base >"$log" 2>&1 &
    build=$!
    echo "run-tests: building tiny-base in the background (pid $build, log $log)"
fi
"$VENV/bin/python" -m pytest "$@"
status=$?
if [ -n "$build" ]; then
    if kill -0 "$build" 2>/dev/null; then
        echo "run-tests: tiny-base's build is still running after the tests; stopping it"
        kill "$build" 2>/dev/null
    fi
    wait "$build" 2>/dev/null
    echo "run-tests: tiny-base build log:"; tail -n 3 "$log"
fi
exit $status

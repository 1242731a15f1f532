#!/usr/bin/env bash
# A Docker engine and the sandbox image (turngym-sandbox:1), for the sandbox tests and the code env.
# Idempotent: skips what is already there. Where it cannot set up (not root, no apt-get, the engine
# will not start), it says why and exits 0, and the Docker sandbox tests skip with that reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
LOG=${TURNGYM_DOCKERD_LOG:-/tmp/turngym-dockerd.log}

skip() { echo "20-docker: $*; Docker sandbox tests will skip"; exit 0; }

if ! docker info >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || skip "no running Docker engine and not root, so cannot start one"
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || skip "no dockerd and no apt-get to install it"
        echo "20-docker: installing docker.io, debootstrap and bubblewrap (for the local backend)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap bubblewrap; } >/tmp/turngym-apt.log 2>&1 \
            || skip "apt-get install docker.io debootstrap bubblewrap failed (see /tmp/turngym-apt.log)"
    fi
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        echo "20-docker: starting dockerd (log: $LOG)"
        # No iptables and no bridge: sandboxes use network_mode=none, and this machine may not allow either.
        nohup dockerd --iptables=false --bridge=none >"$LOG" 2>&1 &
    fi
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || skip "dockerd did not come up within 60 s (see $LOG)"
fi
echo "20-docker: engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"

if "$PY" -c "import docker, sys; from sandboxes.image import IMAGE, image_exists; sys.exit(0 if image_exists(docker.from_env(), IMAGE) else 1)" 2>/dev/null; then
    echo "20-docker: sandbox image present"
    exit 0
fi
[ "$(id -u)" = 0 ] || skip "sandbox image missing and the offline build needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || skip "sandbox image missing and no debootstrap to build it"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/tmp/turngym-apt.log 2>&1 \
        || skip "apt-get install debootstrap failed (see /tmp/turngym-apt.log)"
fi
echo "20-docker: building the sandbox image offline (debootstrap + docker import, about a minute or two)"
"$PY" -m turngym.cli sandbox build --offline || skip "offline image build failed"

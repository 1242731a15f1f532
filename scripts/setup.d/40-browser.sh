#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the GUI envs (Playwright drives /usr/bin/chromium and
# downloads no browser; MiniWoB++ uses chromedriver). Idempotent: skips when both are there. Where
# it cannot install (not root, no apt-get, apt fails), it says why and exits 0: GUI tests then skip.
set -uo pipefail
skip() { echo "40-browser: $*; GUI tests will skip"; exit 0; }

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "40-browser: chromium and chromedriver present ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
    exit 0
fi
[ "$(id -u)" = 0 ] || skip "chromium or chromedriver missing and not root, so cannot apt-get install them"
command -v apt-get >/dev/null 2>&1 || skip "chromium or chromedriver missing and no apt-get"
echo "40-browser: installing chromium and chromium-driver"
install() { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
if command -v flock >/dev/null 2>&1; then
    flock /tmp/apt.lock bash -c "$(declare -f install); install" >/tmp/turngym-apt-browser.log 2>&1
else
    install >/tmp/turngym-apt-browser.log 2>&1
fi || skip "apt-get install chromium chromium-driver failed (see /tmp/turngym-apt-browser.log)"
[ -x /usr/bin/chromium ] || skip "chromium installed but /usr/bin/chromium is missing"
echo "40-browser: installed $(/usr/bin/chromium --version 2>/dev/null | head -1)"

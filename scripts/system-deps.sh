#!/bin/sh
# System packages the test suite drives, installed from Debian's archive when missing:
# - chromium: the browser tests (ml_assets_tests/test_ui.py) drive Debian's Chromium through
#   Playwright; Playwright's own browser download does not work offline.
# - postgresql-15: the team profile's tests (a real PostgreSQL server).
# `make test` calls this; ML_ASSETS_SYSTEM_DEPS=skip skips it (the tests that need a missing
# package then fail or skip with a message naming it).
set -eu

[ "${ML_ASSETS_SYSTEM_DEPS:-install}" = skip ] && exit 0

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
dpkg -L postgresql-15 >/dev/null 2>&1 || missing="$missing postgresql-15"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing$missing; install them with apt-get (as root), or run" \
        "with ML_ASSETS_SYSTEM_DEPS=skip" >&2
    exit 1
fi
echo "system-deps: installing$missing (apt-get, once)"
# One `apt-get update` per install: the package lists of a fresh machine are empty.
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null

#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then run every test.
# The README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[synapse,test]'

# The browser tests drive Debian's Chromium (never a downloaded browser). The PostgreSQL
# tests use the machine's server on 127.0.0.1:5432 when it answers, else a throwaway
# cluster from Debian's postgresql binaries (tests/db_fixture.py).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    # Install without starting the system's PostgreSQL service: the tests start their own.
    # policy-rc.d is Debian's switch for that; ours is removed again, one already there kept.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$(trap -p EXIT)" ]; then rm -f "$policy" && trap - EXIT; fi
  elif [[ " ${missing[*]} " == *" chromium "* ]]; then
    echo "Debian's chromium is missing: sudo apt-get install ${missing[*]}" >&2
    exit 1
  else
    echo "Debian's postgresql is missing (sudo apt-get install postgresql): the PostgreSQL" \
      "tests pass only with a server at 127.0.0.1:5432 or UNGECHAT_TEST_POSTGRES" >&2
  fi
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests for this selection" >&2
  exit 0
fi
exit "$status"

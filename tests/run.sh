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
# cluster from Debian's postgresql binaries (tests/db_fixture.py). The deploy files'
# proxy config is checked by Debian's nginx (`nginx -t`, and run on loopback ports by
# tests/test_deploy_files.py; the system's nginx service is not started). The scale-out
# stack (tests/test_scale.py) runs nginx too, and Redis: the machine's on 6379, else a
# throwaway redis-server.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    # Install without starting the system's PostgreSQL or nginx service: the tests start
    # their own.
    # policy-rc.d is Debian's switch for that; ours is removed again, one already there kept.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    if [ "$(trap -p EXIT)" ]; then rm -f "$policy" && trap - EXIT; fi
  elif [[ " ${missing[*]} " =~ " "(chromium|nginx)" " ]]; then
    echo "Debian packages the tests need are missing: sudo apt-get install ${missing[*]}" >&2
    exit 1
  else
    echo "Missing: ${missing[*]} (sudo apt-get install ${missing[*]}): the PostgreSQL" \
      "tests then need a server at 127.0.0.1:5432 or UNGECHAT_TEST_POSTGRES, the scale" \
      "tests a Redis at 127.0.0.1:6379" >&2
  fi
fi

# kubectl renders the Kubernetes files (`kubectl kustomize`); it is no Debian package.
command -v kubectl >/dev/null 2>&1 ||
  echo "kubectl is missing: the Kubernetes deploy-file tests will fail (install kubectl)" >&2

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests for this selection" >&2
  exit 0
fi
exit "$status"

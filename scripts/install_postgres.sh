#!/usr/bin/env bash
# Debian's PostgreSQL server, for the shared-log tests (tests/pgserver.py starts a
# throwaway cluster from these binaries; nothing is left running). Idempotent. Where it
# cannot install, it says so and the PostgreSQL tests skip; under CI (CI=true) that is
# an error instead, so CI never skips them quietly.
set -euo pipefail
cannot() {
  echo "install_postgres.sh: $1" >&2
  if [[ -n "${CI:-}" && "${CI:-}" != "false" ]]; then
    exit 1
  fi
  echo "install_postgres.sh: the PostgreSQL tests will be skipped." >&2
  exit 0
}
if compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; then
  exit 0
fi
command -v apt-get > /dev/null 2>&1 || cannot "no apt-get on this machine"
[[ $(id -u) -eq 0 ]] || cannot "installing packages needs root"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq > /dev/null || cannot "apt-get update failed"
apt-get install -y -qq --no-install-recommends postgresql > /dev/null \
  || cannot "apt-get install postgresql failed"

#!/usr/bin/env bash
# Install Debian's chromium (and a font) for the browser test, tests/test_browser.py.
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (or sudo) and apt;
# works with no TTY (CI). Playwright drives this browser: `playwright install` is never
# run, so nothing else is downloaded. Where it cannot install, it says so and the test
# skips; under CI (CI=true) that is an error instead, so CI never skips the test quietly.
set -euo pipefail
cannot() {
  echo "install_browser.sh: $1" >&2
  if [[ -n "${CI:-}" && "${CI:-}" != "false" ]]; then
    exit 1
  fi
  echo "install_browser.sh: the browser test will be skipped." >&2
  exit 0
}
if [[ -x /usr/bin/chromium ]]; then
  echo "chromium is already installed: $(/usr/bin/chromium --version 2>/dev/null || true)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  cannot "apt-get not found; install chromium at /usr/bin/chromium yourself."
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    cannot "run it as root (or with passwordless sudo) to install chromium."
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version 2>/dev/null || true

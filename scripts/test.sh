#!/usr/bin/env bash
# Install mjnb with its test extras into .venv and run the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m reliability`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
bash scripts/install_browser.sh  # Debian's chromium, for tests/test_browser.py
bash scripts/install_postgres.sh  # Debian's PostgreSQL, for the shared-log tests
python -m pytest -n 2 "$@"

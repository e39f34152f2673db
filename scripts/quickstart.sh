#!/usr/bin/env bash
# Install mjnb into .venv and run notebooks/quickstart.ipynb headless on the built-in
# simulator; writes the executed notebook and an HTML copy to notebooks/executed/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
python scripts/run_notebooks.py notebooks/quickstart.ipynb
echo
echo "Open it in a browser:  xdg-open notebooks/executed/quickstart.html"
echo "Or live in JupyterLab: .venv/bin/jupyter lab notebooks/"

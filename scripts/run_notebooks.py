"""Execute notebooks headless on the embedded simulator and save them with an HTML copy.

    python scripts/run_notebooks.py notebooks/quickstart.ipynb [more.ipynb ...] [--out DIR]

Each notebook runs in a fresh kernel with its own MJNB_HOME (under DIR), so a demo
never touches ~/.mjnb. Exits non-zero if any cell fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets.config import Config

# The HTML copy is for reading offline: each mjnb card's static image and summary, not
# the live widget (whose JavaScript would have to come from a CDN).
STATIC_FIRST = Config(
    {
        "NbConvertBase": {
            "display_data_priority": [
                "text/html",
                "text/markdown",
                "image/svg+xml",
                "image/png",
                "image/jpeg",
                "text/plain",
            ]
        }
    }
)


def run(path: Path, out: Path) -> tuple[Path, Path]:
    nb = nbformat.read(path, as_version=4)
    home = out / "mjnb-home" / path.stem
    os.environ["MJNB_HOME"] = str(home)  # the kernel inherits the environment
    os.environ.setdefault("MJNB_SIM_LATENCY", "1.5")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    out.mkdir(parents=True, exist_ok=True)
    executed = out / path.name
    nbformat.write(nb, executed)
    html, _ = HTMLExporter(config=STATIC_FIRST).from_notebook_node(nb)
    page = executed.with_suffix(".html")
    page.write_text(html, encoding="utf-8")
    return executed, page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("notebooks/executed"))
    args = parser.parse_args()
    for path in args.notebooks:
        started = time.perf_counter()
        executed, page = run(path, args.out.resolve())
        size = executed.stat().st_size / 1024
        print(f"{path}: ran in {time.perf_counter() - started:.1f} s")
        print(f"  executed notebook: {executed} ({size:.0f} KiB)")
        print(f"  HTML copy:         {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

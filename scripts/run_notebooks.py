"""Execute notebooks headless on the embedded simulator and save them with an HTML copy.

    python scripts/run_notebooks.py notebooks/quickstart.ipynb [more.ipynb ...] [--out DIR]

Each notebook runs in a fresh kernel, in its own folder (so relative paths work as in
JupyterLab), with its own MJNB_HOME under DIR, so a demo never touches ~/.mjnb.
MJNB_SIM_LATENCY (seconds per simulated job) defaults to 1.5. The executed notebook and
its HTML copy are written to DIR even when a cell fails, so the failure can be read
there; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets.config import Config

#: seconds a simulated job takes unless MJNB_SIM_LATENCY says otherwise
DEFAULT_LATENCY = "1.5"
#: ipykernel warns on every start that a loopback TCP kernel is unencrypted; quieten it
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
#: The HTML copy is for reading offline: each mjnb card's static image and summary, not
#: the live widget (whose JavaScript would have to come from a CDN).
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


def kernel_environment(path: Path, out: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    """The kernel's environment: ours, on the simulator, with MJNB_HOME under ``out``.

    A provider or base URL set in the shell is ignored (a demo must not spend money on
    a real service); ``env`` overrides everything.
    """
    merged = {k: v for k, v in os.environ.items() if k not in ("MJNB_PROVIDER", "MJNB_BASE_URL")}
    merged["MJNB_HOME"] = str(out / "mjnb-home" / path.stem)
    merged.setdefault("MJNB_SIM_LATENCY", DEFAULT_LATENCY)
    merged.update(env or {})
    return merged


def run(
    path: Path, out: Path, *, env: Mapping[str, str] | None = None, timeout: int = 600
) -> tuple[Path, Path]:
    """Execute ``path`` in a fresh kernel; write ``out/<name>.ipynb`` and ``.html``.

    The kernel runs on the simulator with ``MJNB_HOME=out/mjnb-home/<name>`` and
    ``MJNB_SIM_LATENCY`` from this process (default 1.5); ``env`` adds to and overrides
    that environment. Raises
    ``nbclient.exceptions.CellExecutionError`` if a cell fails, after writing both files.
    """
    path, out = Path(path).resolve(), Path(out).resolve()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=KERNEL_ARGUMENTS,
        resources={"metadata": {"path": str(path.parent)}},
    )
    out.mkdir(parents=True, exist_ok=True)
    executed = out / path.name
    page = executed.with_suffix(".html")
    try:
        client.execute(env=kernel_environment(path, out, env))
    finally:
        nbformat.write(nb, executed)
        exporter = HTMLExporter(config=STATIC_FIRST)
        html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        page.write_text(html, encoding="utf-8")
    return executed, page


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("notebooks/executed"))
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    failed = 0
    for path in args.notebooks:
        started = time.perf_counter()
        out = args.out.resolve()
        try:
            executed, page = run(path, out, timeout=args.timeout)
        except CellExecutionError as exc:
            failed += 1
            print(f"{path}: a cell failed:\n{exc}", file=sys.stderr)
            executed = out / path.name
            page = executed.with_suffix(".html")
        size = executed.stat().st_size / 1024
        print(f"{path}: ran in {time.perf_counter() - started:.1f} s")
        print(f"  executed notebook: {executed} ({size:.0f} KiB)")
        print(f"  HTML copy:         {page}")
    if failed:
        print(f"{failed} notebook(s) failed; the HTML copies show where.", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The panel in a real browser: JupyterLab (and Notebook 7) driven by Chromium.

The test starts the front end's server (this venv's ``python -m jupyterlab``) on a
loopback port with a temp ``MJNB_HOME`` and root dir, opens a notebook whose cell shows
``mjnb.Panel()``, runs it, types a prompt (first an invalid one: Submit must be
disabled), clicks Submit, waits until the card's progress bar reaches 100% and its grid
is shown and the history table lists the task, clicks U1 and waits for the child card.
Screenshots go to ``artifacts/`` (gitignored). The same flow runs in Notebook 7 (the
``notebook`` package, in the ``notebook`` extra; the test skips it where it is missing).

It drives Debian's ``chromium`` (``/usr/bin/chromium``, installed by
``scripts/install_browser.sh``) through the ``playwright`` package; ``playwright
install`` is never run, so nothing is downloaded. Without either, the test skips and
says why. Timings (click -> card shown -> first progress -> finished) are printed and
written to ``artifacts/<front end>-timings.json``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
#: without the background-networking flags, Chromium hangs on a closed network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PROMPT = "a red fox in snow, golden hour"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium): run "
        "scripts/install_browser.sh (as root), as .ci/run does.",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the playwright package is not installed: pip install -e '.[test]'.",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("jupyterlab") is None,
        reason="jupyterlab is not installed: pip install -e '.[notebook]'.",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _notebook(*sources: str) -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {},
             "outputs": [], "source": source}
            for i, source in enumerate(sources)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


@dataclass(frozen=True)
class Frontend:
    """A Jupyter front end: how to start its server and open a notebook in it."""

    name: str
    module: str  # python -m <module>
    options: tuple[str, ...]
    path: str  # URL path of a notebook, before its name

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


LAB = Frontend(
    "jupyterlab",
    "jupyterlab",
    (
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ),
    "/doc/tree/",  # the notebook alone, no sidebar
)
NOTEBOOK7 = Frontend(
    "notebook7", "notebook", ("--JupyterNotebookApp.expose_app_in_browser=True",), "/notebooks/"
)


@contextlib.contextmanager
def jupyter_server(frontend: Frontend, root: Path, home: Path) -> Iterator[str]:
    """The front end's server on ``root``, on a free loopback port; yields its base URL."""
    import httpx

    port = _free_port()
    env = dict(os.environ)
    env.update(
        MJNB_HOME=str(home),
        MJNB_SIM_LATENCY="1.5",
        JUPYTER_CONFIG_DIR=str(root.parent / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(root.parent / "jupyter-runtime"),
        IPYTHONDIR=str(root.parent / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    # no "get Jupyter news?" toast over the screenshots
    labconfig = root.parent / "jupyter-config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    log = (root.parent / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            frontend.module,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--allow-root",  # CI containers run as root
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.terminals_enabled=False",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            *frontend.options,
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"{frontend.name} exited with {process.returncode}:\n"
                    + (root.parent / "jupyter.log").read_text(errors="replace")[-3000:]
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"{frontend.name} did not answer within 60 s")
            time.sleep(0.25)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the server shuts its kernels down
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a kernel left behind, if any
        log.close()


#: text of the first card's progress bar ("45%"), or null
_PROGRESS_JS = """
(selector) => {
  const bar = document.querySelector(selector);
  if (!bar) return null;
  const match = (bar.textContent || '').match(/(\\d+)%/);
  return match ? Number(match[1]) : null;
}
"""
#: true once the card holds a loaded <img> and a U1 button (the final grid)
_FINISHED_JS = """
(card) => {
  const el = document.querySelector(card);
  if (!el) return false;
  const img = el.querySelector('img.mjnb-card-image');
  const buttons = Array.from(el.querySelectorAll('.mjnb-card-actions button'));
  const bar = el.querySelector('.mjnb-card-progress');
  return !!img && img.complete && img.naturalWidth > 0
    && buttons.some(b => b.textContent.trim() === 'U1')
    && !!bar && bar.textContent.includes('100%');
}
"""


def wait_for_kernel(page: Any) -> None:
    """Until JupyterLab's current notebook has a kernel session."""
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
    )


def run_cell(page: Any, index: int) -> None:
    """Run cell ``index`` of JupyterLab's current notebook."""
    page.evaluate(
        "(index) => { const panel = window.jupyterapp.shell.currentWidget;"
        " panel.content.activeCellIndex = index;"
        " return window.jupyterapp.commands.execute('notebook:run-cell'); }",
        index,
    )


@pytest.mark.parametrize(
    "frontend",
    [
        LAB,
        pytest.param(
            NOTEBOOK7,
            marks=pytest.mark.skipif(
                not NOTEBOOK7.available,
                reason="Notebook 7 is not installed (pip install notebook); JupyterLab is tested.",
            ),
        ),
    ],
    ids=lambda f: f.name,
)
def test_the_panel_in_a_browser(frontend: Frontend, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    home = tmp_path / "mjnb-home"
    notebook = root / "panel.ipynb"
    notebook.write_text(
        json.dumps(_notebook("import mjnb\npanel = mjnb.Panel()\npanel")), encoding="utf-8"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    timings: dict[str, float] = {}
    started = time.monotonic()

    shots = f"{frontend.name}-" if frontend is not LAB else ""
    with jupyter_server(frontend, root, home) as url, sync_playwright() as pw:
        timings["server_start_s"] = time.monotonic() - started
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1100})
            page.set_default_timeout(45_000)
            page.goto(f"{url}{frontend.path}{notebook.name}")
            wait_for_kernel(page)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # the panel, or the cell's error (fail at once, with the traceback)
            page.wait_for_selector(".mjnb-panel, .jp-OutputArea-output[data-mime-type*=error]")
            error = page.locator(".jp-OutputArea-output[data-mime-type*=error]")
            assert error.count() == 0, error.first.text_content()
            page.locator(".mjnb-panel").wait_for(state="visible")
            timings["panel_shown_s"] = time.monotonic() - started

            prompt = page.locator(".mjnb-prompt textarea")
            prompt.click()
            prompt.type(PROMPT + " --s 5000", delay=5)
            submit = page.locator("button.mjnb-submit")
            # validated as the user types: an out-of-range value disables Submit
            page.wait_for_function(
                "() => document.querySelector('.mjnb-preview').textContent"
                ".includes('stylize must be 0-1000')"
            )
            assert submit.is_disabled()
            for _ in range(len(" --s 5000")):
                prompt.press("Backspace")
            page.locator(".mjnb-ar select").select_option("3:2")
            page.wait_for_function(
                "(text) => document.querySelector('.mjnb-preview').textContent.includes(text)",
                arg=f"{PROMPT} --ar 3:2",
            )
            assert submit.is_enabled()

            clicked = time.monotonic()
            submit.click()
            card = ".mjnb-gallery > .mjnb-card"
            page.wait_for_selector(card, timeout=20_000)
            timings["click_to_card_s"] = time.monotonic() - clicked
            page.wait_for_function(
                f"() => ({_PROGRESS_JS})('{card} .mjnb-card-progress') > 0",
                polling=50,
                timeout=30_000,
            )
            timings["click_to_first_progress_s"] = time.monotonic() - clicked
            page.wait_for_function(f"() => ({_FINISHED_JS})('{card}')", timeout=40_000)
            timings["click_to_grid_s"] = time.monotonic() - clicked
            # the history table lists the finished task (read from the log)
            page.get_by_text("History", exact=True).click()
            page.wait_for_function(
                "(prompt) => { const h = document.querySelector('.mjnb-history');"
                " return !!h && h.textContent.includes('succeeded')"
                " && h.textContent.includes(prompt); }",
                arg=f"{PROMPT} --ar 3:2",
                timeout=20_000,
            )
            time.sleep(0.3)  # let the image paint before the screenshot
            page.screenshot(path=str(ARTIFACTS / f"{shots}panel-finished.png"))

            page.locator(f"{card} .mjnb-card-actions button", has_text="U1").first.click()
            child = f"{card} .mjnb-card"
            page.wait_for_selector(child, timeout=20_000)
            page.wait_for_function(
                "(card) => { const el = document.querySelector(card);"
                " const img = el && el.querySelector('img.mjnb-card-image');"
                " const bar = el && el.querySelector('.mjnb-card-progress');"
                " return !!img && img.naturalWidth > 0 && !!bar"
                " && bar.textContent.includes('100%'); }",
                arg=child,
                timeout=40_000,
            )
            page.locator(child).scroll_into_view_if_needed()
            time.sleep(0.3)
            page.screenshot(path=str(ARTIFACTS / f"{shots}panel-upscaled.png"))
            status = page.locator(".mjnb-status").text_content() or ""
            assert "Error" not in status, status
        except Exception:
            with contextlib.suppress(Exception):  # what the page showed, for the CI artifacts
                page.screenshot(path=str(ARTIFACTS / f"{shots}panel-failure.png"))
            log = (root.parent / "jupyter.log").read_text(errors="replace")
            print("jupyter.log (tail):\n" + log[-4000:])
            raise
        finally:
            browser.close()

    timings["total_s"] = time.monotonic() - started
    (ARTIFACTS / f"{frontend.name}-timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"{frontend.name} timings:", json.dumps(timings))
    # the log saw both tasks: the imagine and its U1
    import mjnb

    frame = mjnb.Client(home=home).log()
    assert list(frame["action"]) == ["imagine", "U1"]
    assert frame["prompt"].iloc[0] == f"{PROMPT} --ar 3:2"
    assert list(frame["status"]) == ["succeeded", "succeeded"]
    assert timings["total_s"] < 120

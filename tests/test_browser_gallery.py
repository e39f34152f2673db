"""The common gallery in a real browser: JupyterLab on a second "machine".

Machine A (this test process, ``MJNB_HOME`` a) runs 120 real jobs against the local
simulator, as 30 students of 4 jobs each, into one shared log
(``MJNB_LOG_URL=sqlite:///...``). Machine B is a JupyterLab server with another
``MJNB_HOME``: its notebook shows ``mjnb.Gallery()``, and Chromium (Debian's, through
Playwright, as in ``tests/test_browser.py``) counts the results shown and the loaded
thumbnails: all 120, from 30 users. A screenshot goes to ``artifacts/``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LAB,
    _notebook,
    jupyter_server,
    wait_for_kernel,
)
from test_browser import pytestmark as _browser_marks

import mjnb

pytestmark = _browser_marks

STUDENTS, EACH = 30, 4

_COUNT_JS = """
() => {
  const items = Array.from(document.querySelectorAll('.mjnb-gallery-item'));
  const loaded = items.filter(el => {
    const img = el.querySelector('img');
    return img && img.complete && img.naturalWidth > 0;
  });
  return [items.length, loaded.length];
}
"""


@pytest.mark.timeout(600)  # 120 real jobs, then a JupyterLab start, on a shared machine
def test_the_gallery_in_a_browser_shows_every_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    (tmp_path / "shared").mkdir()
    url = f"sqlite:///{tmp_path / 'shared' / 'history.sqlite'}"
    monkeypatch.setenv("MJNB_LOG_URL", url)
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.2")
    started = time.monotonic()
    tasks = []
    for student in range(STUDENTS):
        monkeypatch.setenv("MJNB_USER", f"student{student:02d}")
        mj = mjnb.Client("local", home=tmp_path / "machine-a", max_concurrency=12)
        tasks += mj.sweep(f"a lighthouse, study {student}", seed=list(range(1, EACH + 1))).tasks
    assert [t.wait(300).status for t in tasks] == ["succeeded"] * STUDENTS * EACH
    made_s = time.monotonic() - started
    monkeypatch.delenv("MJNB_USER")

    root = tmp_path / "root"
    root.mkdir()
    notebook = root / "gallery.ipynb"
    source = (
        "import mjnb\ngallery = mjnb.Gallery(mjnb.Client('local'), limit=200, refresh=0)\ngallery"
    )
    notebook.write_text(json.dumps(_notebook(source)), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyter_server(LAB, root, tmp_path / "machine-b") as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.set_default_timeout(60_000)
            page.goto(f"{server}{LAB.path}{notebook.name}")
            wait_for_kernel(page)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(
                ".mjnb-gallery-common, .jp-OutputArea-output[data-mime-type*=error]"
            )
            error = page.locator(".jp-OutputArea-output[data-mime-type*=error]")
            assert error.count() == 0, error.first.text_content()
            page.wait_for_function(
                f"() => ({_COUNT_JS})()[1] >= {STUDENTS * EACH}", polling=250, timeout=90_000
            )
            shown, loaded = page.evaluate(_COUNT_JS)
            note = page.locator(".mjnb-gallery-common .widget-html-content").first.text_content()
            page.screenshot(path=str(ARTIFACTS / "gallery.png"))
        finally:
            browser.close()
    print(f"\n120 results made in {made_s:.1f} s; the browser shows {shown} ({loaded} pictures)")
    assert shown == loaded == STUDENTS * EACH
    assert note is not None and f"from {STUDENTS} user(s)" in note

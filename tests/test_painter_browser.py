"""The mask painter in a real browser: JupyterLab driven by Debian's Chromium.

A notebook shows ``MaskPainter`` over an 800x600 picture (displayed 640 px wide, so
screen and image pixels differ). The test paints a brush stroke with mouse events,
drags a rectangle and undoes it, drags a second rectangle, clicks Submit, then runs a
second cell that checks, in the kernel, the mask that reached ``on_submit``: white along
the stroke and in the second rectangle, black beside the stroke, in the undone
rectangle and everywhere else. It reuses ``tests/test_browser.py``'s server and browser
setup (``/usr/bin/chromium`` through Playwright; ``playwright install`` is never run).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LAB,
    _notebook,
    jupyter_server,
    run_cell,
    wait_for_kernel,
)
from test_browser import pytestmark as browser_marks

pytestmark = browser_marks

WIDTH, HEIGHT = 800, 600  # the picture; shown 640 px wide (max_display)
BRUSH = 20  # screen pixels: 25 image pixels at 640/800
STROKE_Y, STROKE_X0, STROKE_X1 = 300, 200, 600  # image pixels
UNDONE = (80, 60, 240, 180)  # drawn with the rectangle tool, then undone
KEPT = (640, 60, 760, 180)  # drawn with the rectangle tool and kept

SETUP = f"""\
from PIL import Image, ImageDraw
from mjnb.notebook.painter import MaskPainter

picture = Image.new("RGB", ({WIDTH}, {HEIGHT}), (40, 90, 160))
ImageDraw.Draw(picture).ellipse((250, 150, 550, 450), fill=(230, 200, 60))
painter = MaskPainter(picture, brush_size={BRUSH})
masks = []
painter.on_submit(masks.append)
painter
"""

CHECK = f"""\
import json
import numpy as np

white = np.asarray(masks[-1]) == 255
x0, y0, x1, y1 = {UNDONE}
k0, l0, k1, l1 = {KEPT}
report = {{
    "submits": len(masks),
    "mode": masks[-1].mode,
    "size": list(masks[-1].size),
    "values": sorted(int(v) for v in np.unique(np.asarray(masks[-1]))),
    "stroke": all(white[{STROKE_Y}, x] for x in range({STROKE_X0 + 10}, {STROKE_X1 - 9}, 5)),
    "beside_stroke": int(white[[{STROKE_Y - 40}, {STROKE_Y + 40}], :].sum()),
    "undone_rect": int(white[y0:y1, x0:x1].sum()),
    "kept_rect": bool(white[l0 + 3:l1 - 3, k0 + 3:k1 - 3].all()),
    "white": int(white.sum()),
    "status": painter.status,
}}
masks[-1].save("mask.png")
print("MASK " + json.dumps(report))
"""


def _at(box: dict[str, float], x: float, y: float) -> tuple[float, float]:
    """Image pixels -> page coordinates on the painter's canvas."""
    return (box["x"] + x * box["width"] / WIDTH, box["y"] + y * box["height"] / HEIGHT)


def test_the_mask_painter_in_a_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    notebook = root / "painter.ipynb"
    notebook.write_text(json.dumps(_notebook(SETUP, CHECK)), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.monotonic()

    with jupyter_server(LAB, root, tmp_path / "mjnb-home") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.set_default_timeout(45_000)
        try:
            page.goto(f"{url}{LAB.path}{notebook.name}")
            wait_for_kernel(page)
            run_cell(page, 0)
            page.wait_for_selector(
                ".mjnb-painter-canvas, .jp-OutputArea-output[data-mime-type*=error]"
            )
            error = page.locator(".jp-OutputArea-output[data-mime-type*=error]")
            assert error.count() == 0, error.first.text_content()
            canvas = page.locator(".mjnb-painter-canvas")
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            assert box is not None
            assert box["width"] == pytest.approx(640, abs=1)  # shown smaller than the image

            # a brush stroke across the middle
            page.mouse.move(*_at(box, STROKE_X0, STROKE_Y))
            page.mouse.down()
            page.mouse.move(*_at(box, STROKE_X1, STROKE_Y), steps=25)
            page.mouse.up()
            # a rectangle, undone; then a rectangle kept
            page.locator("button.mjnb-painter-rect").click()
            _drag(page, box, UNDONE)
            page.locator("button.mjnb-painter-undo").click()
            _drag(page, box, KEPT)
            time.sleep(0.2)
            page.screenshot(path=str(ARTIFACTS / "painter-painted.png"))

            page.locator("button.mjnb-painter-submit").click()
            page.wait_for_function(
                "() => (document.querySelector('.mjnb-painter-status') || {}).textContent"
                "?.startsWith('Mask received')",
                timeout=20_000,
            )
            run_cell(page, 1)
            output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
            output.filter(has_text="MASK ").wait_for(timeout=30_000)
            text = output.filter(has_text="MASK ").first.text_content() or ""
            report = json.loads(text.partition("MASK ")[2].strip())
        except Exception:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "painter-failure.png"))
            log = (root.parent / "jupyter.log").read_text(errors="replace")
            print("jupyter.log (tail):\n" + log[-4000:])
            raise
        finally:
            browser.close()

    print("painter report:", json.dumps(report), f"in {time.monotonic() - started:.1f} s")
    assert report["submits"] == 1
    assert (report["mode"], report["size"], report["values"]) == ("L", [WIDTH, HEIGHT], [0, 255])
    assert report["stroke"], "the mask is not white along the stroke"
    assert report["beside_stroke"] == 0, "the mask is white beside the stroke"
    assert report["undone_rect"] == 0, "undo left the first rectangle in the mask"
    assert report["kept_rect"], "the second rectangle is not white"
    # nothing else is white: the stroke (400 x 25 px plus round caps) and the kept rectangle
    brush = BRUSH * WIDTH / 640
    stroke = (STROKE_X1 - STROKE_X0) * brush + 3.1416 * (brush / 2) ** 2
    rect = (KEPT[2] - KEPT[0]) * (KEPT[3] - KEPT[1])
    assert report["white"] == pytest.approx(stroke + rect, rel=0.12)
    assert report["status"].startswith("Mask received: ")
    assert (root / "mask.png").is_file()


def _drag(page: Any, box: dict[str, float], rect: tuple[int, int, int, int]) -> None:
    mouse = page.mouse
    mouse.move(*_at(box, rect[0], rect[1]))
    mouse.down()
    mouse.move(*_at(box, rect[2], rect[3]), steps=8)
    mouse.up()

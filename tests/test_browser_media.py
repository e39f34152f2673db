"""Video cards and the card's mask painter in a real browser (JupyterLab, Debian Chromium).

One notebook, one server (the machine is small):

1. a clip animated from an upscale shows as a video card: its ``<video>`` reaches
   ``readyState >= 2`` (the MP4 arrived as a message buffer and decodes) and
   ``currentTime`` advances (it plays, muted and looping); a screenshot of the card goes
   to ``docs/img/video-card.png``;
2. the upscale's card: Vary region opens the mask painter over the image; a brush stroke
   is painted with mouse events and submitted; a second cell checks, in the kernel, the
   mask the vary-region task was sent (white along the stroke, black elsewhere).

It reuses ``tests/test_browser.py``'s server and browser setup (``/usr/bin/chromium``
through Playwright; ``playwright install`` is never run).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from test_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LAB,
    ROOT,
    _notebook,
    jupyter_server,
    run_cell,
    wait_for_kernel,
)
from test_browser import pytestmark as browser_marks

pytestmark = browser_marks

DOCS_IMG = ROOT / "docs" / "img"

SETUP = """\
%load_ext mjnb
import mjnb
mj = mjnb.Client()
up = mj.imagine("a red fox in snow --seed 3").wait(90).act("U2").wait(90)
clip = up.animate("high")
clip
"""
CARD = "up"  # the upscale's card: its Vary region button opens the painter
#: stroke across the middle of the image, in fractions of its width and height
STROKE_Y, STROKE_X0, STROKE_X1 = 0.5, 0.25, 0.75
CHECK = f"""\
import base64, io, json
import numpy as np
from PIL import Image

child = [t for t in mj.tasks if t.action == "vary region"][-1]
mask = Image.open(io.BytesIO(base64.b64decode(child.job.mask))).convert("L")
white = np.asarray(mask) > 127
w, h = mask.size
y = int(h * {STROKE_Y})
xs = range(int(w * {STROKE_X0}) + 10, int(w * {STROKE_X1}) - 10, 5)
report = {{
    "size": list(mask.size),
    "image": list(up.image.size),
    "stroke": all(white[y, x] for x in xs),
    "top_rows": int(white[: h // 4].sum()),
    "share": float(white.mean()),
    "parent": child.parent_id == up.id,
}}
print("MASK " + json.dumps(report))
"""

_VIDEO_STATE_JS = """
() => {
  const v = document.querySelector('video.mjnb-clip-video');
  return v ? {ready: v.readyState, time: v.currentTime, paused: v.paused, muted: v.muted,
              loop: v.loop, controls: v.controls, width: v.videoWidth,
              error: v.error && v.error.code}
           : null;
}
"""


def _at(box: dict[str, float], fx: float, fy: float) -> tuple[float, float]:
    return (box["x"] + fx * box["width"], box["y"] + fy * box["height"])


def test_a_clip_plays_and_the_cards_painter_sends_its_mask(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    notebook = root / "media.ipynb"
    notebook.write_text(json.dumps(_notebook(SETUP, CARD, CHECK)), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with jupyter_server(LAB, root, tmp_path / "mjnb-home") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1000, "height": 1100})
        page.set_default_timeout(90_000)
        try:
            page.goto(f"{url}{LAB.path}{notebook.name}")
            wait_for_kernel(page)
            run_cell(page, 0)
            page.wait_for_selector(
                "video.mjnb-clip-video, .jp-OutputArea-output[data-mime-type*=error]",
                timeout=150_000,
            )
            error = page.locator(".jp-OutputArea-output[data-mime-type*=error]")
            assert error.count() == 0, error.first.text_content()
            page.wait_for_function(
                f"() => {{ const s = ({_VIDEO_STATE_JS})(); return s && s.ready >= 2; }}",
                timeout=30_000,
            )
            first = page.evaluate(f"({_VIDEO_STATE_JS})()")
            time.sleep(1.0)
            page.wait_for_function(
                f"(t0) => {{ const s = ({_VIDEO_STATE_JS})(); return s && s.time !== t0; }}",
                arg=first["time"],
                timeout=10_000,
            )
            second = page.evaluate(f"({_VIDEO_STATE_JS})()")
            video_card = page.locator(".mjnb-card").filter(has=page.locator("video")).first
            video_card.scroll_into_view_if_needed()
            time.sleep(0.3)
            video_card.screenshot(path=str(DOCS_IMG / "video-card.png"))

            # the upscale's card, then Vary region -> the painter
            run_cell(page, 1)
            card = page.locator(".jp-Cell").nth(1).locator(".mjnb-card").first
            button = card.locator(".mjnb-card-actions button", has_text="Vary region")
            button.wait_for(timeout=30_000)
            button.click()
            canvas = card.locator(".mjnb-painter-canvas")
            canvas.wait_for(timeout=30_000)
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            assert box is not None
            page.mouse.move(*_at(box, STROKE_X0, STROKE_Y))
            page.mouse.down()
            page.mouse.move(*_at(box, STROKE_X1, STROKE_Y), steps=25)
            page.mouse.up()
            time.sleep(0.2)
            page.screenshot(path=str(ARTIFACTS / "card-painter-painted.png"))
            card.locator("button.mjnb-painter-submit").click()
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.mjnb-painter-status'))"
                ".some(s => s.textContent.startsWith('Mask received'))",
                timeout=20_000,
            )
            # the vary region task's card appears under the upscale's
            card.locator(".mjnb-card").first.wait_for(timeout=30_000)
            run_cell(page, 2)
            output = page.locator(".jp-Cell").nth(2).locator(".jp-OutputArea-output")
            output.filter(has_text="MASK ").wait_for(timeout=30_000)
            text = output.filter(has_text="MASK ").first.text_content() or ""
            report = json.loads(text.partition("MASK ")[2].strip())
        except Exception:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "media-failure.png"))
            log = (root.parent / "jupyter.log").read_text(errors="replace")
            print("jupyter.log (tail):\n" + log[-4000:])
            raise
        finally:
            browser.close()

    print("video:", first, second, "mask:", report, f"in {time.monotonic() - started:.1f} s")
    assert first["ready"] >= 2 and first["width"] > 0 and first["error"] is None
    assert second["time"] != first["time"] and not second["paused"]
    assert first["muted"] and first["loop"] and first["controls"]
    assert (DOCS_IMG / "video-card.png").stat().st_size > 5_000
    assert report["size"] == report["image"] and report["parent"]
    assert report["stroke"], "the mask is not white along the stroke"
    assert report["top_rows"] == 0, "the mask is white away from the stroke"
    assert 0.005 < report["share"] < 0.2

"""The mask painter's Python side: its traitlets, the mask it decodes, on_submit.

The front end is stood in for by the comm messages it really sends: an ``update`` with
the mask as a binary buffer (``buffer_paths``), then a ``custom`` ``{event: "submit"}``.
``tests/test_painter_browser.py`` drives the real JavaScript in Chromium.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mjnb.errors import InvalidArgument
from mjnb.notebook.painter import MaskPainter

ROOT = Path(__file__).resolve().parent.parent


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _frontend_submits(painter: MaskPainter, mask_png: bytes) -> None:
    """What painter.js sends on Submit: the mask as a binary state update, then an event."""
    painter._handle_msg(
        {
            "content": {
                "data": {"method": "update", "state": {"mask": None}, "buffer_paths": [["mask"]]}
            },
            "buffers": [memoryview(mask_png)],
        }
    )
    painter._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "submit"}}}, "buffers": []}
    )


def _painted(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    """A mask as the canvas exports it: RGBA, opaque black, the painted part white."""
    image = Image.new("RGBA", size, (0, 0, 0, 255))
    image.paste((255, 255, 255, 255), box)
    return image


def test_the_traitlets_the_front_end_reads() -> None:
    painter = MaskPainter(Image.new("RGB", (1600, 1200), (10, 90, 200)), brush_size=30)
    state = painter.get_state()
    for name in ("image", "width", "height", "brush_size", "tool", "max_display", "status"):
        assert name in state, name
    assert (state["width"], state["height"], painter.size) == (1600, 1200, (1600, 1200))
    assert (state["brush_size"], state["tool"], state["max_display"]) == (30, "brush", 640)
    assert painter.mask == b"" and painter.mask_image() is None
    # the browser gets a preview, not the full image: a JPEG at most 1024 px
    assert state["image"].startswith("data:image/jpeg;base64,")
    preview = Image.open(io.BytesIO(base64.b64decode(state["image"].partition(",")[2])))
    assert preview.size == (1024, 768)
    assert "export default" in state["_esm"] and "mjnb-painter-submit" in state["_esm"]
    assert ".mjnb-painter-canvas" in state["_css"]


def test_a_transparent_image_is_previewed_as_png_and_a_path_works(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    Image.new("RGBA", (300, 200), (255, 0, 0, 128)).save(path)
    painter = MaskPainter(str(path))
    assert painter.image.startswith("data:image/png;base64,") and painter.size == (300, 200)
    assert MaskPainter(path.read_bytes()).size == (300, 200)


def test_a_url_is_shown_as_is_and_needs_a_size() -> None:
    url = "https://cdn.example.com/grid.png"
    painter = MaskPainter(url, size=(1024, 1024))
    assert (painter.image, painter.size) == (url, (1024, 1024))
    with pytest.raises(InvalidArgument, match=r"needs size=\(width, height\)"):
        MaskPainter(url)


@pytest.mark.parametrize(
    ("image", "options", "message"),
    [
        ("file:///x.png", {}, "file: URLs are not accepted"),
        (Image.new("RGB", (10, 10)), {"brush_size": 1}, "brush_size must be 2-200 pixels, got 1."),
        (Image.new("RGB", (10, 10)), {"max_display": 10}, "max_display must be at least 64"),
        (Image.new("RGB", (10, 10)), {"size": (20, 20)}, "does not match the image"),
        ("https://x.example/a.png", {"size": (0, 5)}, "size must be positive"),
    ],
)
def test_bad_arguments(image: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=None) as exc:
        MaskPainter(image, **options)
    assert message in str(exc.value)


def test_the_brush_size_from_the_slider_is_clamped() -> None:
    painter = MaskPainter(Image.new("RGB", (100, 100)))
    painter._handle_msg(
        {
            "content": {"data": {"method": "update", "state": {"brush_size": 900}}},
            "buffers": [],
        }
    )
    assert painter.brush_size == 200
    painter.tool = "rect"
    assert painter.get_state()["tool"] == "rect"


def test_submit_decodes_the_mask_and_calls_on_submit() -> None:
    painter = MaskPainter(Image.new("RGB", (200, 100), (40, 90, 160)))
    got: list[Image.Image] = []
    painter.on_submit(got.append)
    sent = _png(_painted((200, 100), (20, 10, 60, 40)))
    _frontend_submits(painter, sent)

    assert painter.mask == sent  # the traitlet holds the PNG bytes the front end sent
    assert len(got) == 1
    mask = got[0]
    assert (mask.mode, mask.size) == ("L", (200, 100))
    want = np.zeros((100, 200), bool)
    want[10:40, 20:60] = True
    assert ((np.asarray(mask) == 255) == want).all()
    assert painter.status == "Mask received: 6% of the image will be repainted."
    mask_again = painter.mask_image()
    assert mask_again is not None and np.array_equal(np.asarray(mask_again), np.asarray(mask))


def test_antialiased_edges_come_back_black_and_white() -> None:
    painter = MaskPainter(Image.new("RGB", (64, 64)))
    got: list[Image.Image] = []
    painter.on_submit(got.append)
    soft = Image.new("L", (64, 64), 0)
    soft.paste(255, (10, 10, 30, 30))
    soft.paste(100, (30, 10, 32, 30))  # a grey, anti-aliased edge
    _frontend_submits(painter, _png(soft))
    assert set(np.unique(np.asarray(got[0]))) == {0, 255}


def test_an_empty_or_full_mask_is_shown_not_passed_on() -> None:
    painter = MaskPainter(Image.new("RGB", (80, 60)))
    got: list[Image.Image] = []
    painter.on_submit(got.append)
    _frontend_submits(painter, _png(Image.new("RGB", (80, 60), "black")))
    assert got == []
    assert painter.status == "The mask is empty (all black): paint the area to repaint in white."
    with pytest.raises(InvalidArgument, match="empty"):
        painter.mask_image()
    _frontend_submits(painter, _png(Image.new("RGB", (80, 60), "white")))
    assert got == [] and painter.status.startswith("The mask covers the whole image")
    _frontend_submits(painter, b"not a png")
    assert got == [] and painter.status.startswith("The painted mask could not be read")


def test_a_mask_of_another_size_is_scaled_and_the_user_told() -> None:
    painter = MaskPainter(Image.new("RGB", (200, 100)))
    got: list[Image.Image] = []
    painter.on_submit(got.append)
    _frontend_submits(painter, _png(_painted((100, 50), (0, 0, 50, 50))))
    assert got[0].size == (200, 100)
    assert painter.status == (
        "Mask received: 50% of the image will be repainted. The mask is 100x50 but the image "
        "is 200x100: it was scaled to fit."
    )


def test_on_submit_remove_and_other_messages() -> None:
    painter = MaskPainter(Image.new("RGB", (50, 50)))
    first: list[Image.Image] = []
    second: list[Image.Image] = []
    painter.on_submit(first.append)
    painter.on_submit(second.append)
    painter.on_submit(first.append, remove=True)
    painter._handle_msg(
        {"content": {"data": {"method": "custom", "content": {"event": "other"}}}, "buffers": []}
    )
    assert second == []  # only Submit calls back
    _frontend_submits(painter, _png(_painted((50, 50), (0, 0, 10, 10))))
    assert first == [] and len(second) == 1


def test_import_mjnb_does_not_load_anywidget() -> None:
    code = "import sys, mjnb; print(json.dumps(['anywidget' in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert json.loads(out.stdout) == [False]


def test_the_js_ships_next_to_the_module_and_anywidget_is_a_dependency() -> None:
    js = ROOT / "mjnb" / "notebook" / "painter.js"
    assert js.is_file() and MaskPainter._esm  # hatch's wheel takes every file under mjnb/
    pyproject = (ROOT / "pyproject.toml").read_text()
    dependencies = pyproject.partition("dependencies = [")[2].partition("]")[0]
    assert '"anywidget>=' in dependencies
    assert 'packages = ["mjnb"]' in pyproject

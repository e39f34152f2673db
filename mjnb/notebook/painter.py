"""The mask painter: paint, in the notebook, the part of an image to repaint.

:class:`MaskPainter` shows an image with a brush and a rectangle tool, undo, clear,
invert, a brush-size slider and Submit. Submit sends the painted mask back as PNG bytes
at the image's full resolution (the ``mask`` traitlet; white = repaint), and the
callbacks given to :meth:`MaskPainter.on_submit` get it as a black-and-white PIL ``L``
image, checked by :func:`mjnb.masks.make_mask` (an empty or full mask is shown in the
widget as the one-line reason and not passed on).

It is an anywidget: the standard base for a custom widget that runs in JupyterLab,
Notebook 7, VS Code and Colab from one ESM file (``painter.js``, package data next to
this module) with no build step. Nothing in ``import mjnb`` imports this module; the
editor imports it when a painter is opened, so anywidget is loaded only then.

The image is sent to the browser as a preview (at most ``preview_side`` pixels, JPEG, or
PNG when it has transparency) so a saved notebook stays small; the mask is still made
at the full ``width`` x ``height``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets
from ipywidgets import CallbackDispatcher
from ipywidgets.widgets.trait_types import bytes_serialization

from mjnb.errors import InvalidArgument
from mjnb.inputs import image_input
from mjnb.masks import make_mask

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["MaskPainter"]

TOOLS = ("brush", "rect")
MIN_BRUSH, MAX_BRUSH = 2, 200
_CSS = """
.mjnb-painter { display: flex; flex-direction: column; gap: 6px; font: 13px sans-serif; }
.mjnb-painter-tools { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.mjnb-painter-button { padding: 3px 10px; border: 1px solid #999; border-radius: 3px;
  background: #f4f4f4; color: #222; cursor: pointer; }
.mjnb-painter-button.mjnb-active { background: #333; color: #fff; }
.mjnb-painter-submit { background: #1f6feb; color: #fff; border-color: #1f6feb; }
.mjnb-painter-button:disabled { opacity: 0.5; cursor: default; }
.mjnb-painter-stage { position: relative; max-width: 100%; line-height: 0; }
.mjnb-painter-image { width: 100%; height: auto; user-select: none; }
.mjnb-painter-canvas { position: absolute; inset: 0; width: 100%; height: 100%;
  opacity: 0.55; cursor: crosshair; touch-action: none; }
.mjnb-painter-status { min-height: 1.2em; color: #555; }
"""


class MaskPainter(anywidget.AnyWidget):
    """A widget to paint a vary-region mask over ``image``; white = repaint.

    ``image`` is anything :func:`mjnb.inputs.image_input` takes. A URL is shown as it
    is (the browser loads it) and then needs ``size=(width, height)``; a local image is
    sent as a preview. ``brush_size`` is the brush's diameter in screen pixels and
    ``max_display`` the largest width shown, in pixels.
    """

    _esm = Path(__file__).with_name("painter.js")
    _css = _CSS

    image = traitlets.Unicode("", help="the image shown: a data URL or a URL").tag(sync=True)
    width = traitlets.Int(0, help="the image's width in pixels; the mask's too").tag(sync=True)
    height = traitlets.Int(0, help="the image's height in pixels; the mask's too").tag(sync=True)
    brush_size = traitlets.Int(24, help="brush diameter, screen pixels").tag(sync=True)
    tool = traitlets.Enum(TOOLS, default_value="brush").tag(sync=True)
    max_display = traitlets.Int(640, help="largest width shown, pixels").tag(sync=True)
    status = traitlets.Unicode("", help="a line shown under the image").tag(sync=True)
    mask = traitlets.Bytes(b"", help="the submitted mask: PNG, white = repaint").tag(
        sync=True, **bytes_serialization
    )

    def __init__(
        self,
        image: Any,
        *,
        size: tuple[int, int] | None = None,
        brush_size: int = 24,
        max_display: int = 640,
        preview_side: int = 1024,
        **kwargs: Any,
    ) -> None:
        if not MIN_BRUSH <= brush_size <= MAX_BRUSH:
            raise InvalidArgument(
                f"brush_size must be {MIN_BRUSH}-{MAX_BRUSH} pixels, got {brush_size}."
            )
        if max_display < 64:
            raise InvalidArgument(f"max_display must be at least 64 pixels, got {max_display}.")
        shown, (width, height) = _preview(image, size, preview_side)
        super().__init__(
            image=shown,
            width=width,
            height=height,
            brush_size=brush_size,
            max_display=max_display,
            **kwargs,
        )
        self._submit_handlers = CallbackDispatcher()
        self.on_msg(self._handle_frontend_msg)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the image, and so of the mask."""
        return (self.width, self.height)

    @traitlets.validate("brush_size")
    def _clamp_brush(self, proposal: Any) -> int:
        return max(MIN_BRUSH, min(MAX_BRUSH, int(proposal["value"])))

    def mask_image(self) -> Image.Image | None:
        """The submitted mask as a black-and-white ``L`` image of :attr:`size`, or None
        before the first Submit. Raises InvalidArgument for an empty or full mask."""
        if not self.mask:
            return None
        return self._checked_mask()[0]

    def _checked_mask(self) -> tuple[Image.Image, tuple[str, ...]]:
        from PIL import Image

        try:
            painted = Image.open(io.BytesIO(self.mask), formats=("PNG",))
            painted.load()
        except Exception as exc:
            raise InvalidArgument(f"The painted mask could not be read ({exc}).") from None
        return make_mask(painted, self.size)

    def on_submit(self, callback: Callable[[Image.Image], Any], remove: bool = False) -> None:
        """Call ``callback(mask)`` on each Submit, with the mask as a PIL ``L`` image
        (white = repaint) of the image's size; ``remove=True`` unregisters it."""
        self._submit_handlers.register_callback(callback, remove=remove)

    def _handle_frontend_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("event") != "submit":
            return
        try:
            mask, notes = self._checked_mask()
        except InvalidArgument as exc:
            self.status = str(exc)
            return
        share = sum(mask.histogram()[128:]) / (self.width * self.height)
        self.status = " ".join(
            (f"Mask received: {share:.0%} of the image will be repainted.", *notes)
        )
        self._submit_handlers(mask)


def _preview(image: Any, size: tuple[int, int] | None, side: int) -> tuple[str, tuple[int, int]]:
    """What the browser shows for ``image`` (a URL or a data URL) and the image's size."""
    from PIL import Image

    given = image_input(image)
    if given.url is not None:
        if size is None:
            raise InvalidArgument(
                "A painter over an image URL needs size=(width, height); or pass the image "
                "itself (a path, bytes or a PIL image)."
            )
        width, height = (int(v) for v in size)
        if width < 1 or height < 1:
            raise InvalidArgument(f"size must be positive, got {width}x{height}.")
        return given.url, (width, height)
    decoded = given.image()  # EXIF rotation applied: the mask matches what is shown
    if size is not None and tuple(size) != decoded.size:
        raise InvalidArgument(
            f"size={tuple(size)} does not match the image, which is "
            f"{decoded.width}x{decoded.height}: leave size out for a local image."
        )
    preview = decoded.copy()
    preview.thumbnail((side, side), Image.Resampling.LANCZOS)
    alpha = preview.mode in ("RGBA", "LA", "PA") or "transparency" in preview.info
    preview = preview.convert("RGBA" if alpha else "RGB")
    out = io.BytesIO()
    preview.save(out, "PNG" if alpha else "JPEG", quality=85)
    shown = image_input(out.getvalue(), name="the preview")
    return shown.data_url, decoded.size

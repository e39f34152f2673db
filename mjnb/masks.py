"""Vary-region and edit masks: what the user gives, as the black-and-white image and the
grayscale PNG the providers take.

:func:`make_mask` turns a mask (a PIL image, a numpy array or a box in image pixels;
white = repaint) into a black-and-white ``L`` image of the image's size, with notes for
the user (a mask of another size is scaled, a box partly outside is clipped); an empty,
full or unreadable mask is a one-line :class:`~mjnb.errors.InvalidArgument` before
anything is sent. :func:`mask_base64` encodes it as the grayscale PNG the providers
take (Ace ``mask``, trueai ``maskBase64``); :func:`mask_png` is what the log keeps.
Pillow and numpy are imported inside the functions.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

from mjnb.errors import InvalidArgument
from mjnb.inputs import is_pil_image

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["make_mask", "mask_base64", "mask_png"]


def make_mask(mask: Any, size: tuple[int, int]) -> tuple[Image.Image, tuple[str, ...]]:
    """``mask`` as a black-and-white ``L`` image of ``size`` (the image's ``(width,
    height)``), white = repaint, and the notes the caller should show the user.

    ``mask`` is one of:

    - a PIL image, any mode (transparent pixels count as black; grey >= 128 is white);
    - a numpy array, 2-D or HxWx1/3/4: bool, uint8 (>= 128 is white; an integer array of
      only 0 and 1 means 1 = repaint) or float 0-1 (>= 0.5 is white);
    - a box ``(x0, y0, x1, y1)`` in image pixels, x1/y1 exclusive like ``Image.crop``;
      a box partly outside the image is clipped.

    A mask of another size is scaled to ``size`` (a note says so). An empty mask, a mask
    that covers everything, a box outside the image or inverted, and anything else are
    one-line :class:`~mjnb.errors.InvalidArgument` errors.
    """
    from PIL import Image

    width, height = _check_size(size)
    notes: list[str] = []
    if isinstance(mask, (tuple, list)):
        gray = _box_mask(mask, width, height, notes)
    elif is_pil_image(mask):
        gray = _pil_to_gray(mask)
    elif type(mask).__module__ == "numpy" and type(mask).__name__ == "ndarray":
        gray = _array_to_gray(mask, notes)
    else:
        raise InvalidArgument(
            "A mask must be a PIL image, a numpy array or a box (x0, y0, x1, y1), got "
            f"{type(mask).__name__}."
        )
    if gray.size != (width, height):
        mw, mh = gray.size
        stretched = abs(mw / mh - width / height) > 0.01 * (width / height)
        notes.append(
            f"The mask is {mw}x{mh} but the image is {width}x{height}: it was scaled to fit"
            + (" (and stretched: its shape differs)." if stretched else ".")
        )
        gray = gray.resize((width, height), Image.Resampling.BILINEAR)
    binary = gray.point(lambda v: 255 if v >= 128 else 0, mode="L")
    lo, hi = binary.getextrema()
    if hi == 0:
        raise InvalidArgument("The mask is empty (all black): paint the area to repaint in white.")
    if lo == 255:
        raise InvalidArgument(
            "The mask covers the whole image (all white): leave the part to keep black, or "
            "use a reroll or remix to change everything."
        )
    return binary, tuple(notes)


def _check_size(size: Any) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InvalidArgument(f"size must be (width, height) in pixels, got {size!r}.") from None
    if width < 1 or height < 1:
        raise InvalidArgument(f"size must be positive, got {width}x{height}.")
    return width, height


def _box_mask(box: Any, width: int, height: int, notes: list[str]) -> Image.Image:
    from PIL import Image, ImageDraw

    numbers = [v for v in box if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
    if len(box) != 4 or len(numbers) != 4:
        raise InvalidArgument(
            f"A mask box is four numbers (x0, y0, x1, y1) in image pixels, got {tuple(box)!r}."
        )
    x0, y0, x1, y1 = (round(float(v)) for v in numbers)
    if x1 <= x0 or y1 <= y0:
        raise InvalidArgument(
            f"The mask box {(x0, y0, x1, y1)} is inverted or empty: x1 must exceed x0 and "
            "y1 exceed y0 (x0, y0 is the top-left corner)."
        )
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise InvalidArgument(
            f"The mask box {(x0, y0, x1, y1)} lies outside the {width}x{height} image: give "
            "it in the image's pixels."
        )
    clipped = (max(0, x0), max(0, y0), min(width, x1), min(height, y1))
    if clipped != (x0, y0, x1, y1):
        notes.append(
            f"The mask box {(x0, y0, x1, y1)} reaches past the {width}x{height} image: "
            f"clipped to {clipped}."
        )
    gray = Image.new("L", (width, height), 0)
    ImageDraw.Draw(gray).rectangle(
        (clipped[0], clipped[1], clipped[2] - 1, clipped[3] - 1), fill=255
    )
    return gray


def _pil_to_gray(image: Image.Image) -> Image.Image:
    """Any PIL image as ``L``; transparency counts as black (not painted)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("L", rgba.size, 0)
        black.paste(rgba.convert("L"), mask=rgba.getchannel("A"))
        return black
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        import numpy as np

        a = np.asarray(image)
        if a.dtype.kind in "iu" and a.size and 255 < int(a.max()) <= 65535:
            a = a / 65535.0  # 16-bit grey
        return _array_to_gray(a, [])
    return image if image.mode == "L" else image.convert("L")


def _array_to_gray(array: Any, notes: list[str]) -> Image.Image:
    import numpy as np
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] in (1, 3, 4):
        alpha = a[..., 3] if a.shape[2] == 4 else None
        channels = a[..., :1] if a.shape[2] == 1 else a[..., :3]
    elif a.ndim == 2:
        alpha, channels = None, a[..., None]
    else:
        raise InvalidArgument(
            f"A mask array must be 2-D (height, width) or (height, width, 1|3|4), got shape "
            f"{a.shape}."
        )
    if min(a.shape[:2]) < 1:
        raise InvalidArgument(f"The mask array has no pixels (shape {a.shape}).")
    gray = _unit(channels, "mask").mean(axis=2)
    if alpha is not None:
        gray = gray * _unit(alpha[..., None], "mask alpha")[..., 0]
    return Image.fromarray(np.round(gray * 255).astype(np.uint8), mode="L")


def _unit(a: Any, what: str) -> Any:
    """``a`` as floats in 0-1: bool, uint8 0-255, integers 0/1 or 0-255, floats 0-1."""
    import numpy as np

    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo < 0 or hi > 255:
            raise InvalidArgument(
                f"The {what} array holds {lo}..{hi}; use 0-255, 0/1, bool or floats 0-1."
            )
        scale = 1.0 if hi <= 1 else 255.0  # 0/1 integers mean 1 = repaint
        return a.astype(np.float32) / scale
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise InvalidArgument(f"The {what} array holds NaN or infinity; use floats 0-1.")
        lo_f, hi_f = float(a.min()), float(a.max())
        if lo_f < 0 or hi_f > 1:
            raise InvalidArgument(
                f"The {what} array holds floats {lo_f:g}..{hi_f:g}; use 0-1 (1 = repaint)."
            )
        return a.astype(np.float32)
    raise InvalidArgument(
        f"The {what} array is {a.dtype}; use bool, uint8 or floats 0-1 (1 = repaint)."
    )


def mask_png(mask: Image.Image) -> bytes:
    """The mask as grayscale PNG bytes (what ``mask_path`` in the log stores)."""
    out = io.BytesIO()
    (mask if mask.mode == "L" else mask.convert("L")).save(out, "PNG", optimize=True)
    return out.getvalue()


def mask_base64(mask: Image.Image) -> str:
    """The mask as bare base64 of a grayscale PNG (Ace ``mask``, trueai ``maskBase64``)."""
    return base64.b64encode(mask_png(mask)).decode("ascii")

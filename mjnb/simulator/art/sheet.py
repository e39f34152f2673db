"""A labelled contact sheet of what each parameter does (``python -m
mjnb.simulator.art demo OUT.png``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from mjnb.simulator.art.actions import (
    _compose,
    blend,
    make_square,
    paint_grid,
    paint_tile,
    pan,
    preview,
    upscale,
    variation_grid,
    vary,
    zoom_out,
)

# ---------------------------------------------------------------------------- contact sheet


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit_cell(image: Image.Image, cell: int) -> Image.Image:
    scale = cell / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def contact_sheet(cell: int = 220) -> Image.Image:
    """A labelled sheet showing how every parameter and action changes the picture."""
    fox = "a fox by the sea at sunset"
    side = 2 * cell

    def grid(text: str, seed: int = 7, **params: Any) -> Image.Image:
        return paint_grid(text, params, seed, long_side=side)

    base = grid(fox)
    up = upscale(base, 2)
    wide = upscale(grid(fox, ar="16:9"), 1)
    tile = paint_tile("blue flowers", {"tile": True}, 7, 1, (cell // 2, cell // 2))
    colours = ("red poppies", "teal and gold", "light pink and navy", "black and white")
    motifs = ("sun over mountains", "moon and stars", "a cat in a forest", "city in snow")
    rows: list[tuple[str, list[tuple[str, Image.Image]]]] = [
        ("stylize", [(f"--s {s}", grid(fox, stylize=s)) for s in (0, 100, 250, 1000)]),
        ("chaos", [(f"--c {c}", grid(fox, chaos=c)) for c in (0, 25, 50, 100)]),
        ("weird", [(f"--w {w}", grid(fox, weird=w)) for w in (0, 250, 1000, 3000)]),
        ("colours", [(t, grid(t)) for t in colours]),
        (
            "--no",
            [
                ("a red fox", grid("a red fox")),
                ("a red fox --no red", grid("a red fox", no=["red"])),
                ("a sunset", grid("a sunset")),
                ("a sunset --no orange", grid("a sunset", no=["orange"])),
            ],
        ),
        (
            "--ar",
            [(f"--ar {a}", grid("a city at night", ar=a)) for a in ("1:1", "16:9", "9:16", "8:3")],
        ),
        ("seed", [(f"--seed {s}", grid("an abstract dream", seed=s)) for s in (1, 2, 3, 4)]),
        (
            "quality/stop",
            [
                ("--q .25", grid(fox, quality=0.25)),
                ("--q 2", grid(fox, quality=2)),
                ("--stop 30", grid(fox, stop=30)),
                ("--stop 60", grid(fox, stop=60)),
            ],
        ),
        (
            "niji/raw/tile/v5",
            [
                ("--niji 6", grid(fox, niji=6)),
                ("--style raw", grid(fox, style="raw")),
                ("--tile (one tile x4)", _compose([tile] * 4)),
                ("--v 5.2", grid(fox, version=5.2)),
            ],
        ),
        ("motifs", [(t, grid(t)) for t in motifs]),
        (
            "actions",
            [
                ("U2", up),
                ("V2", variation_grid(fox, {}, 7, 2, long_side=side)),
                ("vary strong", vary(up, "strong", 7, long_side=side)),
                ("zoom 2x", zoom_out(up, 2, 7, long_side=side)),
            ],
        ),
        (
            "actions",
            [
                ("pan right", pan(up, "right", 7, long_side=side)),
                ("square (of 16:9 U1)", make_square(wide, 7, long_side=side)),
                ("blend", blend([grid("red poppies"), grid("blue sea")], "landscape", 7, side)),
                ("preview 30%", preview(base, 30)),
            ],
        ),
    ]
    label_w, pad, text_h = 130, 10, 22
    cols = max(len(cells) for _, cells in rows)
    width = label_w + cols * (cell + pad) + pad
    height = len(rows) * (cell + text_h + pad) + pad
    sheet = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(sheet)
    small, big = _font(14), _font(17)
    for r, (name, cells) in enumerate(rows):
        top = pad + r * (cell + text_h + pad)
        draw.text((pad, top + cell // 2), name, fill=(20, 20, 20), font=big)
        for c, (label, image) in enumerate(cells):
            left = label_w + c * (cell + pad)
            thumb = _fit_cell(image, cell)
            sheet.paste(thumb, (left + (cell - thumb.width) // 2, top + (cell - thumb.height) // 2))
            draw.text((left, top + cell + 3), label, fill=(40, 40, 40), font=small)
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mjnb.simulator.art demo OUT.png`` writes the contact sheet."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "demo":
        print("usage: python -m mjnb.simulator.art demo OUT.png", file=sys.stderr)
        return 2
    contact_sheet().save(args[1])
    print(args[1])
    return 0

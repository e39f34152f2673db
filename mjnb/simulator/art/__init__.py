"""Deterministic procedural pictures for the offline Midjourney simulator.

Every picture derives from a SHA-256 hash of the prompt text and the seed; the other
parameters are continuous controls on top of that composition, so changing stylize
or weird keeps the same scene and changes how it is painted. Same text, parameters
and seed give byte-identical PNGs; another seed gives another picture.

How each parameter shows (what a class sees):
  --ar W:H      the grid and each tile have exactly that shape (16:9 wide, 9:16 tall, 8:3 a strip).
  colour words  "red", "teal and gold", "light blue"... fill sky, ground and shapes (first = most).
  no colours    a palette derived from the text's hash ("sunset", "snow", "forest" hint colours).
  --no X        colour X disappears (nearby hues are turned away); --no sun removes the sun motif.
  --stylize     0 plain: a few big, flat, muted shapes; 250 more shapes, patterns, stronger colour;
                1000 ornate: many patterned shapes with rims, sparkles, filigree, glow, vignette.
  --chaos       0: the four tiles are close siblings of one composition; 100: four unrelated
                compositions and palettes.
  --weird       0 nothing odd; 250 an eyeball; 1000 warped shapes, eyeballs, an inverted patch;
                3000 a melted picture full of eyeballs, inverted patches and neon accents.
  --seed        the composition: where the horizon, the shapes and the motifs are.
  --tile        a seamless wallpaper: the left edge continues the right, the top the bottom.
  --quality     .25 smoother with fewer small details; 2 and 4 crisper with more fine detail.
  --style raw   less stylised: a third of the stylize effect, plainer colour.
  --niji        anime look: flat cel-shaded bands of colour with dark outlines.
  --version     subtle: 5.x a little warmer and softer, 7 a little crisper and more contrasted.
  --stop N      stops the picture early: 100 finished; lower is blurrier, grainier and flatter.
  motif words   sun/moon a disc, mountain triangles, sea/ocean/water waves, fox/cat/dog an animal,
                city blocks with windows, tree/forest trees, flower petals, stars/night/snow dots.

Actions: ``upscale`` crops a tile and doubles it; ``variation_grid`` repaints a tile's
composition with small changes; ``vary`` warps and repaints an image; ``zoom_out``,
``make_square`` and ``pan`` keep the image and paint new content around it.

Modules: ``colours`` (what the words and parameters mean), ``draw`` (primitives,
encoders), ``scene`` (painting one tile), ``actions`` (grids, previews, Midjourney's
actions), ``describe``, ``sheet`` (the contact sheet). Video frames will land here
as their own module.

Run ``python -m mjnb.simulator.art demo OUT.png`` for a labelled contact sheet.
"""

from mjnb.simulator.art.actions import (
    BLEND_RATIOS,
    PAN_EXTENSION,
    blend,
    make_square,
    paint_grid,
    paint_tile,
    pan,
    preview,
    upscale,
    upscale_image,
    variation_grid,
    vary,
    zoom_out,
)
from mjnb.simulator.art.colours import grid_size
from mjnb.simulator.art.describe import COMMON_RATIOS, DESCRIBE_COLOURS, describe
from mjnb.simulator.art.draw import to_png, to_webp
from mjnb.simulator.art.sheet import contact_sheet, main

__all__ = [
    "BLEND_RATIOS",
    "COMMON_RATIOS",
    "DESCRIBE_COLOURS",
    "PAN_EXTENSION",
    "blend",
    "contact_sheet",
    "describe",
    "grid_size",
    "main",
    "make_square",
    "paint_grid",
    "paint_tile",
    "pan",
    "preview",
    "to_png",
    "to_webp",
    "upscale",
    "upscale_image",
    "variation_grid",
    "vary",
    "zoom_out",
]

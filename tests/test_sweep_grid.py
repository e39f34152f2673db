"""Sweeps without a server: axis parsing, planning, the job count, grid and HTML rendering."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mjnb.errors import MJError, PromptError
from mjnb.sweep import CellView, parse_values, plan_sweep, render_grid, render_html

# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([0, 250, 750], [0, 250, 750]),
        ((1, 2), [1, 2]),
        (range(0, 1001, 500), [0, 500, 1000]),
        ("0..1000 step 250", [0, 250, 500, 750, 1000]),
        ("0 .. 1000 step 300", [0, 300, 600, 900]),
        ("0..1000/5", [0, 250, 500, 750, 1000]),
        ("0..1000/4", [0, 333, 667, 1000]),
        ("0..10/3", [0, 5, 10]),
        ("0.5..2 step 0.5", [0.5, 1, 1.5, 2]),
        ("0..1/3", [0, 0.5, 1]),
        ("0, 250, 750", [0, 250, 750]),
        ("16:9, 1:1", ["16:9", "1:1"]),
    ],
)
def test_parse_values_accepts_lists_ranges_and_shorthand(spec: Any, expected: list[Any]) -> None:
    values = parse_values("stylize", spec)
    assert values == expected
    assert [type(v) for v in values] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (250, "not a list"),
        ([], "no values"),
        ("0..1000", "not a range"),
        ("0..1000 step 0", "more than 0"),
        ("1000..0 step 250", "must go up"),
        ("0..1000/1", "at least 2"),
        ("a..b step 1", "is not a number"),
        ("0..100000 step 1", "at most 1000"),
        ([1, 1], "twice"),
        ("0,,5", "empty item"),
    ],
)
def test_parse_values_errors_say_what_to_write(spec: Any, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        parse_values("stylize", spec)


def test_a_text_axis_needs_a_list() -> None:
    with pytest.raises(PromptError, match=r"text=\['a fox', 'a wolf'\]"):
        plan_sweep("a fox", axes={"text": "a fox, a wolf"})


# --------------------------------------------------------------------------- planning


def test_keyword_axes_multiply_row_major_with_one_fixed_seed() -> None:
    plan = plan_sweep("a red fox --ar 3:2", axes={"seed": [1, 2, 3], "s": [0, 250, 750]})
    assert plan.jobs == 9
    assert plan.axes == {"seed": [1, 2, 3], "stylize": [0, 250, 750]}
    assert plan.seed is None  # seed is an axis: no fixed seed added
    assert [tuple(c.coords.values()) for c in plan.cells] == [
        (seed, s) for seed in (1, 2, 3) for s in (0, 250, 750)
    ]
    assert [c.index for c in plan.cells] == list(range(9))
    for cell in plan.cells:
        assert cell.prompt.params["seed"] == cell.coords["seed"]
        assert cell.prompt.params["stylize"] == cell.coords["stylize"]
        assert cell.prompt.params["ar"] == "3:2"
        assert cell.prompt.text == "a red fox"
    assert str(plan) == "9 jobs (seed × stylize), about 9 GPU-minutes"
    assert "seed × stylize" in plan._repr_html_()


def test_a_fixed_seed_goes_in_every_cell_unless_seed_varies() -> None:
    plan = plan_sweep("a red fox", axes={"chaos": [0, 50]})
    assert plan.seed is not None
    assert {c.prompt.params["seed"] for c in plan.cells} == {plan.seed}
    again = plan_sweep("a red fox", axes={"chaos": [0, 50]}, seed=7)
    assert [c.prompt.params["seed"] for c in again.cells] == [7, 7]
    own = plan_sweep("a red fox --seed 42", axes={"chaos": [0, 50]})
    assert own.seed is None
    assert [c.prompt.params["seed"] for c in own.cells] == [42, 42]


def test_permutations_in_the_prompt_are_axes() -> None:
    plan = plan_sweep("a red {fox, wolf} --s {0, 500} --ar {1:1, 16:9}")
    assert plan.axes == {"text": ["fox", "wolf"], "stylize": [0, 500], "ar": ["1:1", "16:9"]}
    assert plan.jobs == 8
    first, last = plan.cells[0], plan.cells[-1]
    assert first.coords == {"text": "fox", "stylize": 0, "ar": "1:1"}
    assert str(first.prompt).startswith("a red fox --ar 1:1")
    assert last.coords == {"text": "wolf", "stylize": 500, "ar": "16:9"}
    assert last.prompt.params["stylize"] == 500
    assert all("{" not in str(c.prompt) for c in plan.cells)


def test_prompt_axes_and_keyword_axes_combine_prompt_axes_first() -> None:
    plan = plan_sweep("a fox --{v 6, niji 6}", axes={"c": "0..100/3"})
    assert list(plan.axes) == ["model", "chaos"]
    assert plan.axes["chaos"] == [0, 50, 100]
    assert [c.coords["model"] for c in plan.cells] == ["v 6"] * 3 + ["niji 6"] * 3
    assert plan.cells[3].prompt.params["niji"] == "6"


def test_text_model_and_switch_axes() -> None:
    plan = plan_sweep(
        "a fox --ar 3:2",
        axes={"text": ["a fox", "a wolf"], "model": ["v 6", "7", "niji 6"], "tile": [False, True]},
    )
    assert plan.axes == {
        "text": ["a fox", "a wolf"],
        "model": ["v 6", "v 7", "niji 6"],
        "tile": [False, True],
    }
    wolf = [c for c in plan.cells if c.coords["text"] == "a wolf"]
    assert all(c.prompt.text == "a wolf" and c.prompt.params["ar"] == "3:2" for c in wolf)
    assert plan.cells[2].prompt.params["version"] == "7"
    assert "tile" not in plan.cells[0].prompt.params
    assert plan.cells[1].prompt.params["tile"] is True


def test_a_keyword_axis_overrides_the_prompts_fixed_value() -> None:
    plan = plan_sweep("a fox --s 100", axes={"stylize": [0, 1000]})
    assert [c.prompt.params["stylize"] for c in plan.cells] == [0, 1000]


@pytest.mark.parametrize(
    ("prompt", "axes", "message"),
    [
        ("a fox", {"s": [0, 5000]}, r"stylize must be 0-1000, got 5000"),
        ("a fox", {"stylize": "0..2000 step 1000"}, "would refuse"),
        ("a fox", {"bogus": [1, 2]}, "not something a sweep can vary"),
        ("a fox", {"turbo": [True, False]}, "speed mode"),
        ("a fox", {"tile": [1, 2]}, "switch"),
        ("a fox --s {0, 250}", {"s": [1]}, "both a {} group in the prompt and the keyword"),
        ("a fox", {"s": [0], "stylize": [1]}, "given twice"),
        ("a fox", {"model": ["v 6"], "version": ["7"]}, "either model or version"),
        ("a fox", {"model": ["banana"]}, "banana"),
        ("a fox", {"text": ["a fox --s 50"]}, "contains parameters"),
        # every cell is validated whole: --cref needs version 6
        ("a fox --v 7", {"cref": ["https://x.com/a.png"]}, "works only with version 6"),
        ("a fox --v 7", {"q": [1, 0.25]}, "quality must be 1, 2 or 4"),
        ("a fox", {"r": [2, 4]}, "--repeat"),
        ("a fox --repeat 2", {"seed": [1, 2]}, "--repeat"),
    ],
)
def test_bad_axes_raise_prompt_error_before_anything(
    prompt: str, axes: dict[str, Any], message: str
) -> None:
    with pytest.raises(PromptError, match=message):
        plan_sweep(prompt, axes=axes)


def test_cost_depends_on_the_speed_mode() -> None:
    axes = {"seed": [1, 2, 3, 4]}
    assert plan_sweep("a fox", axes=axes).gpu_minutes == 4
    turbo = plan_sweep("a fox", axes=axes, mode="turbo")
    assert turbo.gpu_minutes == 8
    assert "turbo costs twice" in str(turbo)
    with pytest.raises(MJError, match="mode must be one of fast, turbo, relax"):
        plan_sweep("a fox", axes=axes, mode="slow")
    relax = plan_sweep("a fox --relax", axes=axes)
    assert relax.gpu_minutes == 0
    assert "relax mode" in str(relax)


# --------------------------------------------------------------------------- grid rendering

# nine saturated colours, far from each other and from the greys of text and placeholders
PALETTE = [
    (250, 110, 0), (40, 170, 40), (40, 40, 220),
    (230, 160, 0), (160, 0, 200), (0, 170, 190),
    (240, 100, 180), (120, 80, 20), (110, 210, 120),
]  # fmt: skip
SEEDS, STYLES = [1, 2, 3], [0, 250, 750]


def colour_of(i: int, j: int) -> tuple[int, int, int]:
    return PALETTE[3 * i + j]


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (200, 200)) -> Image.Image:
    return Image.new("RGB", size, colour)


def bbox_of(image: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """The box of pixels within a few levels of ``colour`` (JPEG-safe)."""
    array = np.asarray(image).astype(int)
    mask = np.abs(array - np.array(colour)).sum(axis=2) < 30
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def nine_views(failed: tuple[int, int] | None = None) -> list[CellView]:
    views = []
    for i, seed in enumerate(SEEDS):
        for j, s in enumerate(STYLES):
            colour = colour_of(i, j)
            if (seed, s) == failed:
                views.append(
                    CellView({"seed": seed, "stylize": s}, None, "failed", 40, "the job was banned")
                )
            else:
                views.append(CellView({"seed": seed, "stylize": s}, solid(colour)))
    return views


def test_grid_places_every_cell_in_its_row_and_column() -> None:
    image = render_grid(
        nine_views(), {"seed": SEEDS, "stylize": STYLES}, x="stylize", y="seed", cell_size=128
    )
    boxes = {}
    for i in range(3):
        for j in range(3):
            box = bbox_of(image, colour_of(i, j))
            assert box is not None
            assert (box[2] - box[0], box[3] - box[1]) == (128, 128)  # fitted to cell_size
            boxes[i, j] = box
    for i in range(3):  # rows share a top, columns share a left, in axis order
        assert len({boxes[i, j][1] for j in range(3)}) == 1
        assert len({boxes[j, i][0] for j in range(3)}) == 1
        if i:
            assert boxes[i, 0][1] > boxes[i - 1, 0][1]
            assert boxes[0, i][0] > boxes[0, i - 1][0]
    left, top = boxes[0, 0][0], boxes[0, 0][1]
    assert left > 40 and top > 15  # room for labels on the left and top edges
    assert image.width < left + 3 * 128 + 40 and image.height < top + 3 * 128 + 40
    # the label bands hold text (dark pixels), the grid itself needs no squinting
    top_band = np.asarray(image.crop((left, 0, image.width, top)))
    left_band = np.asarray(image.crop((0, top, left, image.height)))
    assert (top_band.sum(axis=2) < 200).sum() > 100
    assert (left_band.sum(axis=2) < 200).sum() > 100


def test_swapping_axes_transposes_the_grid() -> None:
    axes = {"seed": SEEDS, "stylize": STYLES}
    a = render_grid(nine_views(), axes, x="stylize", y="seed", cell_size=64)
    b = render_grid(nine_views(), axes, x="seed", y="stylize", cell_size=64)
    colour = colour_of(0, 2)  # seed 1, stylize 750: top right, then bottom left
    box_a, box_b = bbox_of(a, colour), bbox_of(b, colour)
    assert box_a is not None and box_b is not None
    assert box_a[0] > a.width / 2 and box_a[1] < a.height / 2
    assert box_b[0] < b.width / 2 and box_b[1] > b.height / 2


def test_a_failed_cell_is_a_placeholder_of_the_same_size() -> None:
    axes = {"seed": SEEDS, "stylize": STYLES}
    whole = render_grid(nine_views(), axes, cell_size=96)
    holed = render_grid(nine_views(failed=(2, 250)), axes, cell_size=96)
    assert whole.size == holed.size  # nothing shifts
    failed_colour = colour_of(1, 1)
    box = bbox_of(whole, failed_colour)
    assert box is not None
    assert bbox_of(holed, failed_colour) is None
    region = np.asarray(holed.crop(box)).astype(int)
    grey = (np.abs(region - 88).sum(axis=2) < 10).mean()
    assert grey > 0.5  # a grey placeholder ...
    assert (region.sum(axis=2) > 700).sum() > 20  # ... with white text
    assert (np.abs(region - [200, 40, 40]).sum(axis=2) < 10).sum() > 50  # and a red bar
    for colour in [colour_of(0, 0), colour_of(2, 2)]:  # the other cells are unchanged
        assert bbox_of(holed, colour) == bbox_of(whole, colour)


def test_pending_cells_show_progress_and_a_missing_cell_is_marked() -> None:
    views = [
        CellView({"text": "a"}, None, "running", 45),
        CellView({"text": "b"}, None, "queued"),
    ]
    image = render_grid(views, {"text": ["a", "b", "c"]}, cell_size=100)
    array = np.asarray(image).astype(int)
    # one row of three boxes: running (with a blue progress bar), queued, no such cell
    assert (np.abs(array - [60, 110, 200]).sum(axis=2) < 10).sum() > 100
    assert image.width > 3 * 100 and image.height < 100 + 100


def test_z_makes_panels_side_by_side_and_too_many_axes_need_where() -> None:
    axes = {"seed": [1, 2], "stylize": [0, 1], "chaos": [0, 50]}
    views = [
        CellView(
            {"seed": a, "stylize": b, "chaos": c}, solid(PALETTE[a + 2 * b + 4 * (c > 0)], (50, 50))
        )
        for a in axes["seed"]
        for b in axes["stylize"]
        for c in axes["chaos"]
    ]
    flat = render_grid(views, axes, x="stylize", y="seed", where={"chaos": 0}, cell_size=64)
    panels = render_grid(views, axes, x="stylize", y="seed", z="chaos", cell_size=64)
    assert panels.width > 2 * flat.width - 20
    assert panels.height > flat.height  # the panel title row
    more = {**axes, "weird": [0, 1]}
    with pytest.raises(MJError, match="where="):
        render_grid(views, more, x="stylize", y="seed", z="chaos")
    with pytest.raises(MJError, match="not an axis"):
        render_grid(views, axes, x="quality")
    with pytest.raises(MJError, match="different axes"):
        render_grid(views, axes, x="seed", y="seed")


def test_wide_images_keep_their_shape() -> None:
    views = [CellView({"ar": "16:9"}, solid((230, 30, 30), (320, 180)), ar="16:9")]
    image = render_grid(views, {"ar": ["16:9"]}, cell_size=160)
    box = bbox_of(image, (230, 30, 30))
    assert box is not None and (box[2] - box[0], box[3] - box[1]) == (160, 90)


# --------------------------------------------------------------------------- HTML


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.headers: list[str] = []
        self.rows: list[list[str]] = []
        self.scripts = 0
        self.external: list[str] = []
        self._in: str | None = None
        self._params = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "img":
            self.images.append(found.get("src") or "")
        if tag in ("link", "script") and (found.get("href") or found.get("src")):
            self.external.append(tag)
        if tag == "script":
            self.scripts += 1
        if tag == "table" and found.get("class") == "params":
            self._params = True
        if self._params and tag == "tr":
            self.rows.append([])
        if self._params and tag in ("th", "td"):
            self._in = tag
            (self.headers if tag == "th" else self.rows[-1]).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self._in = None
        if tag == "table":
            self._params = False

    def handle_data(self, data: str) -> None:
        if self._in == "th":
            self.headers[-1] += data
        elif self._in == "td":
            self.rows[-1][-1] += data


def test_html_report_embeds_images_and_a_sortable_table() -> None:
    views = nine_views(failed=(3, 750))
    table = pd.DataFrame(
        {
            "seed": pd.array([v.coords["seed"] for v in views], dtype="Int64"),
            "stylize": pd.array([v.coords["stylize"] for v in views], dtype="Int64"),
            "status": ["succeeded"] * 8 + ["failed"],
            "run_s": pd.array([1.5] * 8 + [None], dtype="Float64"),
        }
    )
    page = render_html(
        title="mjnb sweep abc",
        prompt="a <red> fox",
        summary="9/9 done, 1 failed",
        axes={"seed": SEEDS, "stylize": STYLES},
        views=views,
        table=table,
    )
    parsed = _Collector()
    parsed.feed(page)
    assert len(parsed.images) == 8
    assert all(src.startswith("data:image/jpeg;base64,") for src in parsed.images)
    decoded = Image.open(io.BytesIO(base64.b64decode(parsed.images[0].split(",", 1)[1])))
    assert decoded.size == (200, 200)
    assert "the job was banned" in page and "failed:" in page  # the placeholder says why
    assert "a &lt;red&gt; fox" in page
    assert parsed.headers == ["seed", "stylize", "status", "run_s"]
    assert len(parsed.rows) == 1 + 9
    assert parsed.rows[-1] == ["3", "750", "failed", ""]
    assert parsed.scripts == 1 and not parsed.external  # self-contained

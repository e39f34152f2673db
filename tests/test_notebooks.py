"""The three notebooks in ``notebooks/`` run headless on the simulator, as the README's
first command and CI run them, and leave what a reader should see: finished grids,
DataFrames and labelled sweep grids, with no error and no warning.

Each notebook executes with ``scripts/run_notebooks.py``'s ``run()`` (the code behind
``bash scripts/quickstart.sh``) in a fresh kernel, with ``MJNB_HOME`` under the test's
temp dir and 0.4 s simulated jobs; one test per notebook, so pytest-xdist spreads them.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("quickstart", "parameter-sweeps", "teaching-demo")
WIDGET = "application/vnd.jupyter.widget-view+json"
ENDED = re.compile(r"^All (\d+) tasks? ha(?:s|ve) ended: \1 succeeded\.$")


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", ROOT / "scripts/run_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def execute(name: str, tmp_path: Path) -> tuple[NotebookNode, Path, Path]:
    """Run notebooks/<name>.ipynb; returns the executed notebook, its file and its HTML."""
    env = {"MJNB_SIM_LATENCY": "0.4", "IPYTHONDIR": str(tmp_path / "ipython")}
    executed, page = load_runner().run(NOTEBOOKS / f"{name}.ipynb", tmp_path / "out", env=env)
    return nbformat.read(executed, as_version=4), executed, page


def outputs(nb: NotebookNode) -> list[NotebookNode]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def plain(output: NotebookNode) -> str:
    if output.output_type == "stream":
        return str(output.text)
    return str(output.get("data", {}).get("text/plain", ""))


def cell_with(nb: NotebookNode, source: str) -> NotebookNode:
    """The one code cell whose source contains ``source``."""
    [cell] = [c for c in nb.cells if c.cell_type == "code" and source in c.source]
    return cell


def cards(nb: NotebookNode) -> list[str]:
    """The summary line of every task card and sweep view left in the notebook."""
    return [
        plain(o)
        for o in outputs(nb)
        if "data" in o and WIDGET in o.data and plain(o).startswith(("[sweep ", "["))
    ]


def sweep_grids(nb: NotebookNode) -> dict[str, str]:
    """Finished sweep views: axes ("seed × stylize") -> summary line; each has its grid."""
    grids = {}
    for o in outputs(nb):
        text = plain(o)
        found = re.match(r"^\[sweep (\d+)/(\d+) done\] \w+ (.+?): ", text)
        if found:
            assert found.group(1) == found.group(2), text
            assert "image/jpeg" in o.data and "<img" in o.data["text/html"], text
            grids[found.group(3)] = text
    return grids


def dataframes(nb: NotebookNode) -> list[str]:
    return [
        o.data["text/html"]
        for o in outputs(nb)
        if "data" in o and 'class="dataframe' in o.data.get("text/html", "")
    ]


def pil_images(nb: NotebookNode) -> list[NotebookNode]:
    return [o for o in outputs(nb) if plain(o).startswith("<PIL.")]


def check_common(nb: NotebookNode, executed: Path, page: Path) -> None:
    """No error or warning anywhere; every card finished; ends with a clean %mj wait."""
    for o in outputs(nb):
        assert o.output_type != "error", f"{o.ename}: {o.evalue}"
        assert not (o.output_type == "stream" and o.name == "stderr"), o.text
    for summary in cards(nb):
        assert summary.startswith(("[succeeded] ", "[sweep ")), summary
    last = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert last.source.strip() == "%mj wait"
    assert ENDED.match(plain(last.outputs[-1]).strip()), plain(last.outputs[-1])
    # every image a reader sees is a small JPEG; no full-size PNG is embedded
    images = [o for o in outputs(nb) if "data" in o and "image/jpeg" in o.data]
    assert images
    assert "image/png" not in executed.read_text(encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64,") >= len(images)
    assert "Traceback" not in html


# ---------------------------------------------------------------------- stored notebooks


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_is_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata
    assert code[-1].source.strip() == "%mj wait"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    # people read them: explanations between the code, not a script
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= len(code) * 3 // 4


def test_runner_keeps_demos_on_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MJNB_PROVIDER", "acedata")
    monkeypatch.setenv("MJNB_BASE_URL", "https://example.invalid")
    env = load_runner().kernel_environment(Path("notebooks/quickstart.ipynb"), tmp_path, None)
    assert "MJNB_PROVIDER" not in env and "MJNB_BASE_URL" not in env
    assert env["MJNB_HOME"] == str(tmp_path / "mjnb-home" / "quickstart")
    assert env["MJNB_SIM_LATENCY"] == "1.5"
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.2")
    env = load_runner().kernel_environment(Path("x.ipynb"), tmp_path, {"MJNB_HOME": "/h"})
    assert env["MJNB_SIM_LATENCY"] == "0.2" and env["MJNB_HOME"] == "/h"


# ------------------------------------------------------------------- executed notebooks


@pytest.mark.slow
def test_quickstart_runs_and_shows_grids_a_dataframe_and_a_sweep(tmp_path: Path) -> None:
    nb, executed, page = execute("quickstart", tmp_path)
    check_common(nb, executed, page)
    assert plain(cell_with(nb, "mjnb.__version__").outputs[0]).strip("'\n") != ""
    # the first prompt, its upscale and the zoom of the upscale: three finished cards
    summaries = [s for s in cards(nb) if not s.startswith("[sweep ")]
    assert [s.split()[2] for s in summaries] == ["imagine", "U2", "zoom"]
    assert "a red fox in snow --ar 3:2 --seed 7" in summaries[0]
    # t.image and the tile are shown as images
    assert len(pil_images(nb)) == 3  # t.image, t.tiles[1], sweep.grid(...)
    # the log: one row per task with parent links
    log = plain(cell_with(nb, "df = %mj log").outputs[0])
    assert all(word in log for word in ("imagine", "U2", "zoom 2x", "succeeded"))
    assert len(dataframes(nb)) >= 4  # log, groupby, sweep.df, providers
    # the sweep: a finished, labelled 2 x 2 grid
    assert list(sweep_grids(nb)) == ["seed × stylize"]
    assert "[sweep 4/4 done]" in page.read_text(encoding="utf-8")
    # the real provider is only shown, never run
    assert not any("acedata" in c.source for c in nb.cells if c.cell_type == "code")
    assert executed.stat().st_size < 1_500_000


@pytest.mark.slow
def test_parameter_sweeps_runs_every_sweep_and_compares_them(tmp_path: Path) -> None:
    nb, executed, page = execute("parameter-sweeps", tmp_path)
    check_common(nb, executed, page)
    assert set(sweep_grids(nb)) == {"seed × stylize", "chaos", "weird", "ar", "text"}
    assert "9/9 done" in sweep_grids(nb)["seed × stylize"]
    # the plans send nothing and say how many jobs
    assert plain(cell_with(nb, "mj.plan_sweep(").outputs[0]).startswith("9 jobs (seed × stylize)")
    assert plain(cell_with(nb, "%mj plan").outputs[0]).startswith("24 jobs")
    # the HTML report was written into MJNB_HOME
    [report] = (tmp_path / "out" / "mjnb-home" / "parameter-sweeps").glob("*.html")
    assert report.stat().st_size > 10_000 and "<img" in report.read_text(encoding="utf-8")
    # pandas across sweeps: status counts, timing stats and a pivot shaped like the grid
    status = plain(cell_with(nb, "unstack(").outputs[0])
    assert "succeeded" in status and "failed" not in status
    for name in ("seed × stylize", "chaos", "weird", "ar", "text"):
        assert name in status
    assert "queue_s" in plain(cell_with(nb, '"median"').outputs[0])
    pivot = cell_with(nb, "pivot_table(").outputs[0]
    assert "stylize" in plain(pivot) and "<table" in pivot.data["text/html"]
    assert len(dataframes(nb)) >= 6
    assert len(pil_images(nb)) == 2  # fox.grid(...) and mj.compare(...)


@pytest.mark.slow
def test_teaching_demo_shows_every_parameter_side_by_side(tmp_path: Path) -> None:
    nb, executed, page = execute("teaching-demo", tmp_path)
    check_common(nb, executed, page)
    grids = sweep_grids(nb)
    for axes in ("seed", "stylize", "chaos", "weird", "ar", "model", "quality", "stop"):
        assert axes in grids, (axes, list(grids))
    assert "stylize × weird" in grids
    # --no: three single tasks side by side, labelled
    assert plain(cell_with(nb, "mj.compare(").outputs[-1]).startswith("<PIL.")
    # each section explains what to notice; exercises have collapsed hints
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert markdown.count("**What to notice.**") >= 8
    assert markdown.count("<details><summary>Hint</summary>") >= 3
    assert "Learning goals" in markdown and "Note to teachers" in markdown
    # the panel cell ran without error (a panel, or the one-line notice)
    panel = cell_with(nb, "%mj panel")
    assert all(o.output_type != "error" for o in panel.outputs)
    # exercises plan first and send nothing
    plans = [plain(o) for o in outputs(nb) if re.match(r"^\d+ jobs \(", plain(o))]
    assert len(plans) == 3
    widget_state = len(json.dumps(nb.metadata.get("widgets", {})))
    assert executed.stat().st_size < 3_000_000, widget_state

"""The three shipped notebooks run headless on the simulator, as the README's first command does."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["quickstart", "parameter-sweeps", "teaching-demo"]


def runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", ROOT / "scripts" / "run_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs_and_ending_with_wait(name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    assert code[-1].source.strip() == "%mj wait"
    assert "widgets" not in nb.metadata


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.4")
    monkeypatch.chdir(tmp_path)  # reports a notebook writes land here
    executed, page = runner().run(ROOT / "notebooks" / f"{name}.ipynb", tmp_path)
    nb = nbformat.read(executed, as_version=4)
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    mimes = [mime for out in outputs for mime in out.get("data", {})]
    assert "image/png" not in mimes  # compact: thumbnails and fitted JPEGs only
    assert mimes.count("image/jpeg") >= 4
    assert executed.stat().st_size < 2_000_000
    html = page.read_text(encoding="utf-8")
    assert html.count("data:image/jpeg;base64") >= 4
    assert "Traceback" not in html
    if name == "quickstart":
        assert "<table" in html  # the log as a DataFrame
        texts = "".join(out.get("text", "") for out in outputs)
        assert texts.rstrip().endswith("All 7 tasks have ended: 7 succeeded.")

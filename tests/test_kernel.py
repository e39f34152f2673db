"""The sync, async and widget-callback forms inside a real Jupyter kernel (nbclient)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mjnb.simulator import RunningSimulator, SimConfig, serve


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(SimConfig(latency=0.3, long_side=256, progress_steps=3))
    yield running
    running.stop()


CELLS = [
    """
import mjnb, ipywidgets
mj = mjnb.Client("mjproxy", base_url=SIM_URL, poll_interval=0.05)
task = mj.imagine("a red fox --ar 3:2 --seed 7")
print("returned", task.status in ("queued", "running"))
""",
    """
print("waited", task.wait(timeout=30).status, task.image.size[0] * 2 == task.image.size[1] * 3)
""",
    """
child = await task.act("U2")
print("awaited", child.status)
""",
    """
results = []
button = ipywidgets.Button(description="U1")
def on_click(_):
    results.append(task.act("U1").wait(timeout=30).status)
button.on_click(on_click)
button.click()
print("callback", results)
""",
    """
amj = mjnb.AsyncClient("acedata", base_url=SIM_URL, token="t", poll_interval=0.05)
t2 = await (await amj.imagine("a blue whale --seed 1"))
print("async", t2.status)
""",
]


def test_sync_async_and_callback_forms_in_a_kernel(sim: RunningSimulator, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"SIM_URL = {sim.url!r}")]
    nb.cells += [nbformat.v4.new_code_cell(src.strip()) for src in CELLS]
    os.environ["MJNB_HOME"] = str(tmp_path / "home")  # the kernel inherits it
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert outputs[1].strip() == "returned True"
    assert outputs[2].strip() == "waited succeeded True"
    assert outputs[3].strip() == "awaited succeeded"
    assert outputs[4].strip() == "callback ['succeeded']"
    assert outputs[5].strip() == "async succeeded"

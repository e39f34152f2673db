"""The magic in a real Jupyter kernel, executed headless with nbclient, as CI and
papermill would run a notebook; then the saved .ipynb is checked the way GitHub would
show it (static outputs only).

The kernel is the ``python3`` kernelspec of this virtual environment
(``.venv/share/jupyter/kernels/python3``, installed with ipykernel); its ``argv``
starts with ``python``, which jupyter_client replaces with ``sys.executable``, so the
kernel runs the interpreter running the tests. It inherits ``os.environ``, so
``monkeypatch.setenv`` before the kernel starts reaches it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

WIDGET = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MJNB_SIM_LATENCY", "0.3")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    return tmp_path


def execute(
    cells: list[str], path: Path, tags: dict[int, list[str]] | None = None, name: str = "run"
) -> Path:
    """Run the cells in a fresh kernel and save the notebook as a user's would be saved."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = cell_tags
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path)}}
    )
    client.execute()
    target = path / f"{name}.ipynb"
    nbformat.write(nb, target)
    return target


def text_of(cell: NotebookNode) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"] + "\n")
    return "".join(parts)


def images_in(nb: NotebookNode) -> list[tuple[str, int]]:
    """Every image output as (mime type, bytes), widget state included."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                if mime.startswith("image/"):
                    found.append((mime, len(base64.b64decode(value))))
    return found


CELLS = [
    "%load_ext mjnb",  # 0
    "t = %mj a red fox --ar 3:2 --seed 7",  # 1
    "%mj wait",  # 2
    "%mj U2",  # 3
    "%mj wait",  # 4
    "%mj log",  # 5
    "s = %mj a red fox --seed {1, 2} --s {0, 500}",  # 6
    "%%mj\na blue whale --ar 16:9\na snow owl --seed 3",  # 7
    "%mj wait",  # 8
    "print(t.status, t.actions[:2], s.summary)",  # 9
    "%mj a red fox --s 5000",  # 10: a bad prompt
    "print('still running')",  # 11
]


def test_magic_notebook_runs_headless_and_saves_static_results(kernel_env: Path) -> None:
    saved = execute(CELLS, kernel_env, tags={10: ["raises-exception"]})
    nb = nbformat.read(saved, as_version=4)
    cells = nb.cells

    assert cells[0].outputs == []
    # the first card: displayed queued, replaced by its final static state after %mj wait
    [card] = cells[1].outputs
    assert card.output_type == "display_data"
    assert WIDGET in card.data
    assert card.data["text/plain"].startswith("[succeeded] ")
    assert " imagine on local" in card.data["text/plain"]
    assert "a red fox --ar 3:2 --seed 7" in card.data["text/plain"]
    assert "image/jpeg" in card.data and "image/png" not in card.data
    assert text_of(cells[2]) == "All 1 task has ended: 1 succeeded.\n"
    [upscale] = cells[3].outputs
    assert upscale.data["text/plain"].startswith("[succeeded] ")
    assert " U2 of " in upscale.data["text/plain"]
    assert text_of(cells[4]) == "All 2 tasks have ended: 2 succeeded.\n"
    log = cells[5].outputs[0].data
    assert "text/html" in log and "U2" in log["text/plain"] and "imagine" in log["text/plain"]
    [sweep] = cells[6].outputs
    assert sweep.data["text/plain"].startswith("[sweep 4/4 done] ")
    assert "image/jpeg" in sweep.data
    assert [o.data["text/plain"][:12] for o in cells[7].outputs] == ["[succeeded] "] * 2
    assert text_of(cells[8]) == "All 8 tasks have ended: 8 succeeded.\n"
    assert text_of(cells[9]) == "succeeded ['U1', 'U2'] 4/4 done\n"
    # the bad prompt: one UsageError line, no traceback, nothing sent
    [error] = cells[10].outputs
    assert error.output_type == "stream" and error.name == "stderr"
    assert error.text == ("UsageError: stylize must be 0-1000, got 5000 (--s 5000 at column 11).\n")
    assert text_of(cells[11]) == "still running\n"

    # GitHub and nbviewer see small JPEGs only
    images = images_in(nb)
    assert len(images) == 5  # 4 task cards + 1 sweep grid
    assert {mime for mime, _ in images} == {"image/jpeg"}
    assert all(size < 60_000 for _, size in images)
    assert "image/png" not in saved.read_text()


def test_twenty_finished_tasks_stay_small(kernel_env: Path) -> None:
    prompts = "\n".join(f"a red fox, study {i} --seed {i}" for i in range(20))
    saved = execute(["%load_ext mjnb", f"%%mj\n{prompts}", "%mj wait"], kernel_env)
    nb = nbformat.read(saved, as_version=4)
    assert len(nb.cells[1].outputs) == 20
    assert all(o.data["text/plain"].startswith("[succeeded]") for o in nb.cells[1].outputs)
    assert len(images_in(nb)) == 20
    empty = execute(["%load_ext mjnb", "", "%mj wait"], kernel_env, name="empty")
    per_task = (saved.stat().st_size - empty.stat().st_size) / 20
    widget_state = len(json.dumps(nb.metadata.get("widgets", {})))
    print(
        f"\nsaved notebook: {saved.stat().st_size} bytes for 20 tasks, {per_task:.0f} bytes "
        f"per finished task ({widget_state} bytes of widget state in all)"
    )
    assert saved.stat().st_size < 2_000_000

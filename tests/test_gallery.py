"""The common gallery: a second machine (a second MJNB_HOME) reads the shared log and
shows everyone's results, with thumbnails from the log, filters and buttons."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import mjnb
from mjnb.log.shared import SharedDB, get_thumbnails
from mjnb.notebook.gallery import ANY, Gallery, select_results


def test_select_results_filters_by_user_text_param_and_status() -> None:
    frame = pd.DataFrame(
        {
            "task_id": ["a", "b", "c", "d"],
            "user": ["ann", "ben", "ann", "cat"],
            "text": ["Red fox", "blue whale", "red panda", "fox den"],
            "prompt": ["Red fox --ar 3:2", "blue whale", "red panda --stylize 250", "fox den"],
            "ar": ["3:2", None, None, None],
            "stylize": [None, None, 250, None],
            "status": ["succeeded", "failed", "succeeded", "running"],
            "submitted_at": pd.to_datetime([1, 2, 3, 4], unit="s", utc=True),
        }
    )

    def ids(**filters: object) -> list[str]:
        return list(select_results(frame, **filters)["task_id"])  # type: ignore[arg-type]

    assert ids() == ["d", "c", "b", "a"]  # newest first
    assert ids(user="ann") == ["c", "a"] and ids(user=ANY) == ["d", "c", "b", "a"]
    assert ids(text="FOX") == ["d", "a"]
    assert ids(param="ar=3:2") == ["a"] and ids(param="--stylize") == ["c"]
    assert ids(param="stylize=250") == ["c"] and ids(param="seed") == []
    assert ids(status="failed") == ["b"]
    assert ids(text="red", status="succeeded", limit=1) == ["c"]


@pytest.fixture
def two_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path, Path]:
    url = f"sqlite:///{tmp_path / 'shared' / 'history.sqlite'}"
    (tmp_path / "shared").mkdir()
    return url, tmp_path / "machine-a", tmp_path / "machine-b"


def test_a_second_machine_sees_every_result_in_the_gallery(
    two_machines: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, home_a, home_b = two_machines
    monkeypatch.setenv("MJNB_USER", "ann")
    ann = mjnb.Client("local", log=url, home=home_a)
    sweep = ann.sweep("a red fox", seed=[1, 2, 3])
    monkeypatch.setenv("MJNB_USER", "ben")
    ben = mjnb.Client("local", log=url, home=home_a)
    whale = ben.imagine("a blue whale --ar 3:2")
    assert [t.wait(60).status for t in [*sweep.tasks, whale]] == ["succeeded"] * 4

    monkeypatch.setenv("MJNB_USER", "cat")
    other = mjnb.Client("local", log=url, home=home_b)  # the second machine
    log = other.log()
    assert len(log) == 4 and set(log["user"]) == {"ann", "ben"}
    assert not any(str(p).startswith(str(home_b)) for p in log["image_path"])
    thumbs = get_thumbnails(SharedDB.for_log(other.session.log), list(log["task_id"]))
    assert len(thumbs) == 4 and all(j[:2] == b"\xff\xd8" for j in thumbs.values())  # JPEGs

    gallery = Gallery(other, refresh=0)
    assert len(gallery.rows) == len(gallery.tiles) == 4
    assert "4 result(s) from 2 user(s)" in gallery.note.value
    assert sorted(gallery.users()) == ["ann", "ben"]
    pictures = [t.children[0] for t in gallery.tiles]
    assert all(p.format == "jpeg" and p.value[:2] == b"\xff\xd8" for p in pictures)

    gallery.user.value = "ann"
    gallery.refresh()
    assert [r["user"] for r in gallery.rows] == ["ann"] * 3
    gallery.param.value = "seed=2"
    gallery.refresh()
    assert [r["seed"] for r in gallery.rows] == [2]
    gallery.user.value, gallery.param.value = ANY, ""
    gallery.text.value = "whale"
    gallery.refresh()
    assert [r["task_id"] for r in gallery.rows] == [whale.id]

    panel = gallery.load(0)  # "load into my panel": made here on first use
    assert gallery.panel_box.children == (panel,)
    assert panel.prompt.value == "a blue whale" and panel.ar.value == "3:2"

    upscale = gallery.act(0, "U1")  # "act on it": my client, on ben's result
    assert upscale is not None and upscale.wait(60).status == "succeeded"
    assert upscale.parent_id == whale.id
    gallery.text.value = ""
    gallery.refresh()
    assert len(gallery.rows) == 5 and gallery.rows[0]["user"] == "cat"
    gallery.status.value = "failed"
    gallery.refresh()
    assert gallery.rows == []
    gallery.close()


def test_a_shared_images_folder_holds_the_full_images(
    two_machines: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, home_a, home_b = two_machines
    monkeypatch.setenv("MJNB_IMAGES", str(tmp_path / "class-images"))
    task = mjnb.Client("local", log=url, home=home_a).imagine("a heron").wait(60)
    row = mjnb.Client("local", log=url, home=home_b).log().iloc[0]
    assert Path(row["image_path"]).is_relative_to(tmp_path / "class-images")
    assert Path(row["image_path"]).exists() and task.status == "succeeded"


def test_percent_mj_gallery_shows_one(
    two_machines: tuple[str, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    from mjnb.notebook.magic import unload_ipython_extension

    url, home_a, _ = two_machines
    monkeypatch.setenv("MJNB_LOG_URL", url)
    monkeypatch.setenv("MJNB_HOME", str(home_a))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    mjnb.Client("local").imagine("a lighthouse").wait(60)
    mjnb.Client("local").imagine("a windmill").wait(60)
    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=cfg)
    shell.run_cell("%load_ext mjnb")
    try:
        with capture_output() as io:
            shell.run_cell("%mj gallery lighthouse")
        shown = [o.data for o in io.outputs]
        assert any("application/vnd.jupyter.widget-view+json" in d for d in shown), shown
        assert any("<mjnb.Gallery results=1>" in d.get("text/plain", "") for d in shown)
    finally:
        unload_ipython_extension(shell)
        if shell.extension_manager is not None:
            shell.extension_manager.loaded.discard("mjnb")

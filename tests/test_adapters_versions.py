"""Adapters per Midjourney version: the fields each sends for V5.2 to V8.2, niji 7,
``--hd``, ``--q`` and the speeds, and the actions a finished job offers.

Ace's rules follow its own clients (AceDataCloud/Nexior ``src/operators/midjourney.ts``,
AceDataCloud/MCPs ``midjourney/tools/imagine_tools.py``): ``version``, ``hd``, ``quality``
as a string and never for V8.1, turbo sent as fast on V8.1, speeds out of the text.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import pytest

from mjnb.prompt import PromptWarning, parse_prompt
from mjnb.providers.acedata import AceDataAdapter, ZhishuyunAdapter, ace_quality
from mjnb.providers.base import Job, Snapshot
from mjnb.providers.metachat import MetaChatAdapter, model_for, offered
from mjnb.providers.youchuan import YouchuanAdapter, image_wire


def body(request: httpx.Request) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(request.content)
    return data


def job(prompt: str, **options: Any) -> Job:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PromptWarning)  # disputed cells: sent as written
        return Job("imagine", prompt=str(parse_prompt(prompt)), **options)


# -- Ace --------------------------------------------------------------------------------

ACE = AceDataAdapter(token="tok")


@pytest.mark.parametrize(
    ("prompt", "fields"),
    [
        ("a fox", {}),
        ("a fox --v 5.2 --q .25", {"version": "5.2", "quality": ".25"}),
        ("a fox --v 5.2 --q .5", {"version": "5.2", "quality": ".5"}),
        ("a fox --v 6", {"version": "6"}),
        ("a fox --v 6.1 --q 2", {"version": "6.1", "quality": "2"}),
        ("a fox --v 7 --q 4", {"version": "7", "quality": "4"}),
        ("a fox --v 8 --q 4", {"version": "8", "quality": "4"}),
        ("a fox --v 8 --hd", {"version": "8", "hd": True}),
        ("a fox --v 8.1 --hd", {"version": "8.1", "hd": True}),
        ("a fox --v 8.1 --q 4", {"version": "8.1"}),  # V8.1 takes no quality field
        ("a fox --v 8.2 --q 2 --hd", {"version": "8.2", "quality": "2", "hd": True}),
        ("a fox --v 8.2 --q 1", {"version": "8.2", "quality": "1"}),
        ("a fox --niji 7", {}),  # niji goes in the text only, never with hd
        ("a fox --niji 6 --q .5", {"quality": ".5"}),
        ("a fox --v 8.3", {}),  # not an Ace version: left in the prompt
        ("a fox --q 2", {"quality": "2"}),
    ],
)
def test_ace_sends_version_hd_and_quality_from_the_prompt(
    prompt: str, fields: dict[str, Any]
) -> None:
    imagine = job(prompt)
    sent = body(ACE.submit(imagine))
    assert {k: v for k, v in sent.items() if k in ("version", "hd", "quality")} == fields
    assert sent["prompt"] == imagine.prompt  # --version, --hd, --q stay in the text too


def test_ace_quality_is_written_as_its_clients_write_it() -> None:
    assert [ace_quality(q) for q in (0.25, 0.5, 1, 2, 4)] == [".25", ".5", "1", "2", "4"]


@pytest.mark.parametrize(
    ("prompt", "mode", "sent_mode"),
    [
        ("a fox --v 8.1 --turbo", None, "fast"),  # V8.1 has no turbo: Ace's clients send fast
        ("a fox --v 8.1", "turbo", "fast"),
        ("a fox --v 8.1 --relax", None, "relax"),
        ("a fox --v 8.2 --turbo", None, "turbo"),
        ("a fox --v 7", "relax", "relax"),
        ("a fox --v 6.1 --fast", None, "fast"),
    ],
)
def test_ace_mode_goes_in_the_field_and_the_speed_leaves_the_prompt(
    prompt: str, mode: str | None, sent_mode: str
) -> None:
    sent = body(ACE.submit(job(prompt, mode=mode)))
    assert sent["mode"] == sent_mode
    assert not any(f"--{speed}" in sent["prompt"] for speed in ("fast", "relax", "turbo"))
    assert sent["prompt"].startswith("a fox --version")


def test_zhishuyun_moves_the_v81_fast_speed_out_of_the_path() -> None:
    zsy = ZhishuyunAdapter(token="tok")
    assert zsy.submit(job("a fox --v 8.1 --turbo")).url.path == "/midjourney/imagine"
    assert zsy.submit(job("a fox --v 8.2 --turbo")).url.path == "/midjourney/imagine/turbo"
    assert body(zsy.submit(job("a fox --v 8.1 --hd")))["hd"] is True


def test_ace_translation_style_reference_and_moodboard() -> None:
    assert body(ACE.submit(job("一只狐狸 --v 8.2", translate=True)))["translation"] is True
    assert "translation" not in body(ACE.submit(job("a fox --v 8.2")))
    sref = body(ACE.submit(job("a fox --v 8.2 --sref 123")))
    assert sref["style_reference"] is True and "moodboard" not in sref
    board = body(ACE.submit(job("https://x.test/a.png a fox --v 8.1")))
    assert board["moodboard"] is True
    assert "moodboard" not in body(ACE.submit(job("https://x.test/a.png a fox --v 7")))


def test_ace_action_on_a_v81_job_sends_turbo_as_fast() -> None:
    parent = Snapshot(
        "succeeded", 100, "t1", wire={"V1": "variation1"}, extra={"image_id": "img-1"}
    )
    action = Job("action", prompt="a fox --v 8.1", label="V1", parent=parent, mode="turbo")
    assert body(ACE.submit(action)) == {
        "action": "variation1",
        "image_id": "img-1",
        "mode": "fast",
        "async": True,
    }
    v82 = Job("action", prompt="a fox --v 8.2", label="V1", parent=parent, mode="turbo")
    assert body(ACE.submit(v82))["mode"] == "turbo"


# -- MetaChat ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "model", "warned"),
    [
        ("a fox --v 6.1", "mj-v61", False),
        ("a fox --v 7", "mj-v7", False),
        ("a fox --v 8", "mj-v7", True),
        ("a fox --v 8.1 --hd", "mj-v7", True),
        ("a fox --v 8.2 --q 2", "mj-v7", True),
        ("a fox --niji 7", "mj-niji-v6", True),
        ("a fox --niji 6", "mj-niji-v6", False),
        ("a fox --v 5.2", "mj-v6", True),
        ("a fox", "mj-v6", False),
    ],
)
def test_metachat_model_per_version_and_the_fallback_is_said(
    prompt: str, model: str, warned: bool
) -> None:
    mc = MetaChatAdapter(app_id="app", token="key")
    imagine = job(prompt)
    assert model_for(imagine.parsed) == model
    sent = body(mc.submit(imagine))
    assert sent["model"] == model and sent["prompt"] == imagine.prompt  # --v/--hd kept
    assert imagine.parsed is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mc.check(imagine.parsed)
    notes = [str(w.message) for w in caught if issubclass(w.category, PromptWarning)]
    assert bool(notes) == warned
    if warned:
        assert "documents no model" in notes[0] and model in notes[0]


def test_metachat_actions_follow_the_version_rules() -> None:
    v7 = offered("single", "mj-v7", "7")
    assert {"zoom 2x", "pan left", "upscale subtle", "vary strong"} <= set(v7)
    for version in ("8", "8.1", "8.2"):
        assert set(offered("single", "mj-v81", version)) == {"vary subtle", "vary strong"}
    assert len(offered("grid", "mj-v81", "8.1")) == 9  # U1-U4, V1-V4, reroll
    assert set(offered("upscaled", None, "8.1")) == {"vary subtle", "vary strong"}


def test_metachat_remembers_the_version_for_the_actions_of_later_jobs() -> None:
    mc = MetaChatAdapter(base_url="https://mc.test", app_id="app", token="key")
    imagine = job("a fox --v 8.1 --hd")
    answer = httpx.Response(
        200,
        json={"status": "Success", "data": {"id": "m1"}},
        request=mc.submit(imagine),
    )
    snap = mc.parse_submit(imagine, answer)
    assert snap.extra["version"] == "8.1"
    grid = Snapshot("succeeded", 100, "m1", wire=offered("grid", None), extra=dict(snap.extra))
    act = Job("action", prompt=imagine.prompt, label="U1", parent=grid)
    done = mc.parse_submit(
        act,
        httpx.Response(
            200, json={"status": "Success", "data": {"id": "m2"}}, request=mc.submit(act)
        ),
    )
    assert (done.extra["kind"], done.extra["version"]) == ("single", "8.1")


# -- Youchuan ---------------------------------------------------------------------------


def test_youchuan_sends_v81_as_written_and_offers_only_vary() -> None:
    yc = YouchuanAdapter(app_id="app", token="secret")
    imagine = job("a fox --v 8.1 --hd --q 4 --turbo")
    assert body(yc.submit(imagine)) == {"text": "a fox --quality 4 --version 8.1 --hd --turbo"}
    # V8.1 on Youchuan: vary and all three video endpoints; no pan, zoom, upscale, inpaint
    assert set(image_wire(2, "6", version="8.1")) == {
        "vary subtle", "vary strong", "animate low", "animate high",
    }  # fmt: skip
    assert image_wire(2, "6", version="8.1")["vary strong"] == "variation 2 1"
    v7 = image_wire(0, "6", version="7")
    assert {"pan left", "zoom 2x", "upscale subtle", "upscale creative"} <= set(v7)
    assert {"upscale 2x", "upscale 4x"} <= set(image_wire(0, "5", version="5.2"))
    assert set(image_wire(0, "6", version="niji 7")) == set(image_wire(0, "6"))


def test_youchuan_v81_image_chosen_locally_offers_no_pan_zoom_or_upscale() -> None:
    yc = YouchuanAdapter(base_url="https://yc.test", app_id="app", token="secret")
    imagine = job("a fox --v 8.1 --hd")
    answer = httpx.Response(200, json={"id": "y1", "status": 1}, request=yc.submit(imagine))
    snap = yc.parse_submit(imagine, answer)
    assert snap.extra["version"] == "8.1"
    urls = [f"https://cdn.test/{n}.png" for n in range(4)]
    done = yc.parse_poll(
        snap,
        httpx.Response(200, json={"id": "y1", "status": 2, "urls": urls}, request=yc.poll(snap)),
    )
    assert done.actions == [
        *("U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", "reroll"),
        *("animate low", "animate high"),
    ]
    chosen = yc.local(Job("action", prompt=imagine.prompt, label="U3", parent=done))
    assert chosen is not None
    assert chosen.actions == ["vary subtle", "vary strong", "animate low", "animate high"]

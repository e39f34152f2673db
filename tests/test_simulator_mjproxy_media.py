"""The simulator's trueai media over real loopback HTTP: video, MODAL, edits, seed.

Plain httpx against ``serve()``; then the adapter's own requests against it (no runner),
so both sides of the protocol are checked against each other.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from mjnb.providers.base import Job, Snapshot
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.simulator import video


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode()


def post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(f"/mj/submit/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def wait(client: httpx.Client, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task: dict[str, Any] = client.get(f"/mj/task/{task_id}/fetch").json()
        if task["status"] in ("SUCCESS", "FAILURE"):
            return task
        time.sleep(0.03)
    raise AssertionError(f"task {task_id} did not finish")


def button(task: dict[str, Any], fragment: str) -> str:
    found = [b["customId"] for b in task["buttons"] if fragment in b["customId"]]
    assert found, f"no {fragment!r} in {[b['customId'] for b in task['buttons']]}"
    return found[0]


def picture(client: httpx.Client, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


@pytest.fixture
def client(sim: Any) -> Any:
    with httpx.Client(base_url=sim.url, timeout=20.0) as c:
        yield c


@pytest.fixture
def upscaled(client: httpx.Client) -> dict[str, Any]:
    grid = wait(client, post(client, "imagine", {"prompt": "a red fox in snow --seed 7"})["result"])
    up = post(client, "change", {"taskId": grid["id"], "action": "UPSCALE", "index": 2})
    return wait(client, up["result"])


def test_upscale_offers_trueais_editor_and_animate_buttons(upscaled: dict[str, Any]) -> None:
    ids = [b["customId"] for b in upscaled["buttons"]]
    h = ids[0].split("::")[-2]
    for custom_id in (
        f"MJ::Inpaint::1::{h}::SOLO",
        f"MJ::CustomZoom::{h}",
        f"MJ::JOB::animate_high::1::{h}::SOLO",
        f"MJ::JOB::animate_low::1::{h}::SOLO",
    ):
        assert custom_id in ids


def test_submit_video_gives_downloadable_mp4s_and_extends(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    started = time.monotonic()
    sent = post(
        client,
        "video",
        {"prompt": "waves roll in", "image": upscaled["imageUrl"], "motion": "high",
         "batchSize": 2},
    )  # fmt: skip
    assert sent["code"] == 1
    clip = wait(client, sent["result"])
    assert clip["status"] == "SUCCESS" and clip["action"] == "VIDEO"
    assert (
        clip["promptEn"] == f"{upscaled['imageUrl']} waves roll in --video 1 --motion high --bs 2"
    )
    assert len(clip["videoUrls"]) == 2 and clip["imageUrl"] == clip["videoUrls"][0]["url"]
    assert clip["videoUrl"] == clip["videoUrls"][0]["url"]
    datas = []
    for item in clip["videoUrls"]:
        response = client.get(item["url"])
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
        assert response.content[4:8] == b"ftyp"
        frames, fps = video.decode(response.content)
        assert fps == 12 and len(frames) > 24 and max(frames[0].size) <= 256
        datas.append(response.content)
    assert datas[0] != datas[1]  # each clip of a batch has its own path
    assert time.monotonic() - started < 15
    labels = [(b["label"], b["customId"].split("::")[2]) for b in clip["buttons"]]
    assert labels == [("U1", "video_virtual_upscale"), ("U2", "video_virtual_upscale"),
                      ("", "reroll")]  # fmt: skip

    ext = post(client, "video", {"prompt": "the sea calms", "action": "extend",
                                 "taskId": clip["id"], "index": 1, "batchSize": 1})  # fmt: skip
    longer = wait(client, ext["result"])
    assert longer["status"] == "SUCCESS" and len(longer["videoUrls"]) == 1
    extended = client.get(longer["videoUrls"][0]["url"]).content
    frames, _ = video.decode(extended)
    assert len(frames) > len(video.decode(datas[1])[0])
    bad = post(client, "video", {"prompt": "x", "action": "extend", "taskId": clip["id"],
                                 "index": 2})  # fmt: skip
    assert bad["code"] == 4 and "0-1" in bad["description"]


def test_video_submit_errors_follow_trueai(client: httpx.Client, upscaled: dict[str, Any]) -> None:
    assert post(client, "video", {"image": upscaled["imageUrl"]})["code"] == 4
    typed = post(client, "video", {"prompt": "x", "taskId": upscaled["id"]})
    assert typed["code"] == 4 and "任务类型错误" in typed["description"]
    gone = post(client, "video", {"prompt": "x", "action": "extend", "taskId": "nope"}, 404)
    assert gone["code"] == 3
    assert post(client, "video", {"prompt": "x", "image": "%%%"})["code"] == 4
    assert post(client, "video", {"prompt": "x", "image": upscaled["imageUrl"],
                                  "motion": "fast"})["code"] == 4  # fmt: skip


def test_animate_button_virtual_upscale_and_extend_button(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    sent = post(client, "action", {"taskId": upscaled["id"],
                                   "customId": button(upscaled, "animate_low")})  # fmt: skip
    batch = wait(client, sent["result"])
    assert batch["status"] == "SUCCESS" and len(batch["videoUrls"]) == 4  # Discord's default
    third_button = button(batch, "video_virtual_upscale::3")
    pick = post(client, "action", {"taskId": batch["id"], "customId": third_button})
    picked = wait(client, pick["result"])
    assert picked["action"] == "UPSCALE" and len(picked["videoUrls"]) == 1
    third = client.get(batch["videoUrls"][2]["url"]).content
    assert client.get(picked["videoUrls"][0]["url"]).content == third
    assert [b["label"] for b in picked["buttons"]] == [
        "Extend (High motion)",
        "Extend (Low motion)",
    ]
    ext = post(client, "action", {"taskId": picked["id"],
                                  "customId": button(picked, "animate_low_extend")})  # fmt: skip
    assert wait(client, ext["result"])["status"] == "SUCCESS"


def test_video_links_are_signed_when_the_simulator_has_a_token(make_sim: Any) -> None:
    sim = make_sim(token="tok")
    with httpx.Client(base_url=sim.url, timeout=20, headers={"mj-api-secret": "tok"}) as c:
        grid = wait(c, post(c, "imagine", {"prompt": "a fox"})["result"])
        up = wait(
            c, post(c, "change", {"taskId": grid["id"], "action": "UPSCALE", "index": 1})["result"]
        )
        clip = wait(
            c, post(c, "video", {"prompt": "go", "image": up["imageUrl"], "batchSize": 1})["result"]
        )
        url = clip["videoUrls"][0]["url"]
    assert httpx.get(url).status_code == 200  # the link is the credential, as a CDN's
    assert httpx.get(url.split("?")[0]).status_code == 403


def mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def test_inpaint_waits_in_modal_then_repaints_only_the_mask(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    parent = picture(client, upscaled["imageUrl"])
    h, w = parent.shape[:2]
    box = (w // 4, h // 4, w // 2, h // 2)
    sent = post(client, "action", {"taskId": upscaled["id"],
                                   "customId": button(upscaled, "Inpaint")})  # fmt: skip
    assert sent["code"] == 21 and sent["description"] == "Waiting for window confirm"
    assert sent["properties"]["remix"] is True
    waiting = client.get(f"/mj/task/{sent['result']}/fetch").json()
    assert waiting["status"] == "MODAL" and waiting["parentId"] == upscaled["id"]
    time.sleep(0.5)  # longer than a job: it stays in MODAL until the form is sent
    assert client.get(f"/mj/task/{sent['result']}/fetch").json()["status"] == "MODAL"
    confirmed = post(client, "modal", {"taskId": sent["result"], "prompt": "a blue bird",
                                       "maskBase64": data_url(mask_png((w, h), box))})  # fmt: skip
    assert confirmed["code"] == 1 and confirmed["result"] == sent["result"]
    done = wait(client, sent["result"])
    assert done["status"] == "SUCCESS" and done["action"] == "VARIATION"
    after = picture(client, done["imageUrl"])
    changed = np.abs(after - parent).sum(axis=2) > 0
    inside = np.zeros_like(changed)
    inside[box[1] : box[3], box[0] : box[2]] = True
    assert not changed[~inside].any()  # nothing outside the box moved
    assert changed[inside].mean() > 0.5  # and the box was repainted
    again = post(client, "modal", {"taskId": sent["result"], "prompt": "x"})
    assert again["code"] == 4
    assert post(client, "modal", {"taskId": "nope"}, 404)["code"] == 3


def test_inpaint_without_a_mask_fails_the_task(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    sent = post(client, "action", {"taskId": upscaled["id"],
                                   "customId": button(upscaled, "Inpaint")})  # fmt: skip
    post(client, "modal", {"taskId": sent["result"], "prompt": "x"})
    failed = wait(client, sent["result"])
    assert failed["status"] == "FAILURE" and "mask" in failed["failReason"]


def test_custom_zoom_reads_the_factor_from_the_modal_prompt(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    sent = post(client, "action", {"taskId": upscaled["id"],
                                   "customId": button(upscaled, "CustomZoom")})  # fmt: skip
    assert sent["code"] == 21 and sent["properties"]["finalPrompt"].endswith("--zoom 2")
    post(client, "modal", {"taskId": sent["result"], "prompt": "a fox on a hill --zoom 1.5"})
    zoomed = wait(client, sent["result"])
    assert zoomed["status"] == "SUCCESS" and zoomed["action"] == "ZOOM"
    assert zoomed["prompt"] == "a fox on a hill --zoom 1.5"
    assert picture(client, zoomed["imageUrl"]).size > 0
    bad = post(client, "action", {"taskId": upscaled["id"],
                                  "customId": button(upscaled, "CustomZoom")})  # fmt: skip
    post(client, "modal", {"taskId": bad["result"], "prompt": "x --zoom 3"})
    assert wait(client, bad["result"])["status"] == "FAILURE"


def test_remix_goes_through_the_window_with_the_new_prompt(client: httpx.Client) -> None:
    grid = wait(client, post(client, "imagine", {"prompt": "a red fox --seed 3"})["result"])
    plain = post(client, "action", {"taskId": grid["id"], "customId": button(grid, "variation::1")})
    assert plain["code"] == 1  # no remix asked: no window
    sent = post(client, "action", {"taskId": grid["id"], "enableRemix": True,
                                   "customId": button(grid, "variation::1")})  # fmt: skip
    assert sent["code"] == 21
    post(client, "modal", {"taskId": sent["result"], "prompt": "a green frog --seed 3"})
    remixed = wait(client, sent["result"])
    varied = wait(client, plain["result"])
    assert remixed["status"] == "SUCCESS" and remixed["prompt"] == "a green frog --seed 3"
    assert (picture(client, remixed["imageUrl"]) != picture(client, varied["imageUrl"])).any()


def test_animate_with_remix_waits_for_the_new_prompt(
    client: httpx.Client, upscaled: dict[str, Any], webhook: Any
) -> None:
    sent = post(
        client,
        "action",
        {"taskId": upscaled["id"], "customId": button(upscaled, "animate_high"),
         "enableRemix": True, "notifyHook": webhook.url, "state": "mine"},
    )  # fmt: skip
    assert sent["code"] == 21
    assert client.get(f"/mj/task/{sent['result']}/fetch").json()["action"] == "VIDEO"
    confirmed = post(client, "modal", {"taskId": sent["result"], "prompt": "the fox runs"})
    assert confirmed["code"] == 1 and confirmed["result"] == sent["result"]
    clip = wait(client, sent["result"])
    assert clip["status"] == "SUCCESS" and clip["prompt"] == "the fox runs"
    assert clip["state"] == "mine" and len(clip["videoUrls"]) == 4
    hooks = webhook.wait_for(lambda bodies: any(b.get("status") == "SUCCESS" for b in bodies))
    assert all(b["id"] == sent["result"] for b in hooks)


def test_edits_and_retexture_of_a_base64_image(client: httpx.Client) -> None:
    own = Image.new("RGB", (96, 64), "orange")
    own.paste((20, 40, 160), (10, 10, 50, 40))
    bare = base64.b64encode(png(own)).decode()
    for path, image in (("edits", bare), ("edit", data_url(own)), ("retexture", data_url(own))):
        sent = post(client, path, {"prompt": "in deep snow, blue", "image": image})
        assert sent["code"] == 1, sent
        done = wait(client, sent["result"])
        assert done["status"] == "SUCCESS"
        assert done["action"] == ("RETEXTURE" if path == "retexture" else "EDIT")
        result = picture(client, done["imageUrl"])
        assert result.shape[:2] == (64, 96)  # same composition size as the user's image
    assert post(client, "edits", {"prompt": "x"})["code"] == 4
    assert post(client, "edits", {"prompt": "x", "image": "!!not base64!!"})["code"] == 4


def test_image_seed_as_the_task_controller_answers(
    client: httpx.Client, upscaled: dict[str, Any]
) -> None:
    assert client.get("/mj/task/nope/image-seed").status_code == 404
    running = post(client, "imagine", {"prompt": "a fox --seed 11"})["result"]
    early = client.get(f"/mj/task/{running}/image-seed")
    assert early.status_code == 400 and early.json()["code"] == 4
    wait(client, running)
    seed = client.get(f"/mj/task/{running}/image-seed").json()
    assert seed["code"] == 1 and seed["result"] == "11"
    assert client.get(f"/mj/task/{running}/fetch").json()["seed"] == "11"


def test_a_modal_task_can_be_cancelled(client: httpx.Client, upscaled: dict[str, Any]) -> None:
    sent = post(client, "action", {"taskId": upscaled["id"],
                                   "customId": button(upscaled, "Inpaint")})  # fmt: skip
    assert client.post(f"/mj/task/{sent['result']}/cancel").status_code == 200
    ended = client.get(f"/mj/task/{sent['result']}/fetch").json()
    assert ended["status"] == "FAILURE" and ended["failReason"] == "取消任务"
    assert post(client, "modal", {"taskId": sent["result"], "prompt": "x"})["code"] == 4


def test_upload_discord_images_answers_a_list(client: httpx.Client) -> None:
    red = Image.new("RGB", (20, 20), "red")
    done = post(client, "upload-discord-images", {"base64Array": [data_url(red), data_url(red)]})
    assert done["code"] == 1 and len(done["result"]) == 2
    assert client.get(done["result"][0]).status_code == 200
    assert post(client, "upload-discord-images", {"base64Array": []})["code"] == 4
    assert post(client, "upload-discord-images", {"base64Array": ["@@"]})["code"] == 4


def test_base64_array_on_imagine_and_blend(client: httpx.Client) -> None:
    red, blue = Image.new("RGB", (40, 40), "red"), Image.new("RGB", (40, 40), "blue")
    sent = post(client, "imagine", {"prompt": "a fox", "base64Array": [data_url(red)]})
    task = wait(client, sent["result"])
    assert task["status"] == "SUCCESS" and "/_sim/uploads/" in task["promptEn"]
    linked = post(client, "imagine", {"prompt": "a fox", "base64Array": ["https://x.test/a.png"]})
    assert wait(client, linked["result"])["promptEn"].startswith("https://x.test/a.png a fox")
    blend = post(client, "blend", {"base64Array": [data_url(red), data_url(blue)]})
    assert wait(client, blend["result"])["status"] == "SUCCESS"
    video_from_local = post(client, "video", {"prompt": "spin", "image": data_url(red),
                                              "batchSize": 1})  # fmt: skip
    assert wait(client, video_from_local["result"])["status"] == "SUCCESS"


# -- the adapter's own requests against the simulator (no runner)


def drive(http: httpx.Client, mp: MJProxyAdapter, job: Job) -> Snapshot:
    """Submit ``job``, send its confirm if the answer asks for one, poll to the end."""
    snap = mp.parse_submit(job, http.send(mp.submit(job)))
    if snap.extra.get("confirm"):
        confirm = mp.confirm(job, snap)
        assert confirm is not None
        snap = mp.parse_submit(job, http.send(confirm))
    deadline = time.monotonic() + 20
    while not snap.done and time.monotonic() < deadline:
        time.sleep(0.03)
        snap = mp.parse_poll(snap, http.send(mp.poll(snap)))
    assert snap.status == "succeeded", snap.error
    return snap


def test_the_adapter_speaks_the_simulators_media(sim: Any) -> None:
    mp = MJProxyAdapter(base_url=sim.url)
    with httpx.Client(timeout=20) as http:
        grid = drive(http, mp, Job("imagine", prompt="a red fox in snow --seed 5"))
        up = drive(http, mp, Job("action", label="U2", parent=grid))
        assert {"vary region", "zoom custom", "animate high"} <= set(up.actions)
        with Image.open(io.BytesIO(http.get(up.image_url or "").content)) as img:
            size = img.size
        from mjnb.inputs import mask_base64

        box = (10, 10, 60, 50)
        mask = mask_base64(mask_png(size, box))
        region = drive(
            http, mp, Job("action", label="vary region", parent=up, mask=mask, prompt="a bird")
        )
        assert region.image_url
        zoom = drive(http, mp, Job("action", label="zoom custom", parent=up, zoom=1.5,
                                   prompt="a fox on a hill"))  # fmt: skip
        assert zoom.actions
        remix = drive(http, mp, Job("action", label="V1", parent=grid, remix=True,
                                    prompt="a green frog"))  # fmt: skip
        assert remix.image_url
        clip = drive(http, mp, Job("action", label="animate high", parent=up, batch=2,
                                   prompt="snow falls"))  # fmt: skip
        assert len(clip.video_urls) == 2 and clip.image_url
        assert "upscale video" in clip.actions
        longer = drive(http, mp, Job("action", label="extend low", parent=clip, index=2))
        assert len(longer.video_urls) == 1
        picked = drive(http, mp, Job("action", label="upscale video", parent=clip, index=2))
        assert picked.actions == ["extend low", "extend high"]
        teal = data_url(Image.new("RGB", (64, 64), "teal"))
        edit = drive(http, mp, Job("edit", prompt="watercolour", images=(teal,)))
        assert edit.image_url
        seed_request = mp.seed(up)
        assert seed_request is not None
        assert isinstance(mp.parse_seed(up, http.send(seed_request)), int)
        response = http.get(clip.video_urls[0])
        assert response.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    "version, present, absent",
    [
        ("--v 8", ["Inpaint", "animate_high"], ["CustomZoom", "pan_left"]),
        ("--v 4", ["animate_low"], ["Inpaint"]),
    ],
)
def test_editor_buttons_follow_the_version(
    client: httpx.Client, version: str, present: list[str], absent: list[str]
) -> None:
    grid = wait(client, post(client, "imagine", {"prompt": f"a fox {version}"})["result"])
    up = wait(client, post(client, "change", {"taskId": grid["id"], "action": "UPSCALE",
                                              "index": 1})["result"])  # fmt: skip
    ids = " ".join(b["customId"] for b in up["buttons"])
    assert all(p in ids for p in present) and not any(a in ids for a in absent)

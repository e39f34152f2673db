"""The simulator's Youchuan 悠船 protocol (``/v1/tob/*``), over real loopback HTTP.

Written from providers.md section 6, not from the client's adapter: separate images,
0-based ``imageNo``, success before ``urls``, 429 ``Max_Concurrent_Limited``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from mjnb.simulator import RunningSimulator
from tests.conftest import CANARY, WebhookReceiver

FAST = {"latency": 0.3, "long_side": 256, "progress_steps": 3, "token": CANARY}
HEADERS = {"x-youchuan-app": "app-1", "x-youchuan-secret": CANARY}


@pytest.fixture
def sim(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim()


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers=HEADERS, timeout=10.0) as c:
        yield c


def post(client: httpx.Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(f"/v1/tob/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def refused(client: httpx.Client, path: str, body: dict[str, Any], status: int, reason: str) -> str:
    answer = post(client, path, body, status)
    assert answer["code"] == status and answer["reason"] == reason, answer
    message: str = answer["message"]
    return message


def readings(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """Every distinct reading of a job until it has its urls or fails."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.get(f"/v1/tob/job/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        key = (job["status"], job["comment"], len(job["urls"]))
        if not seen or key != (seen[-1]["status"], seen[-1]["comment"], len(seen[-1]["urls"])):
            seen.append(job)
        if job["urls"] or job["status"] in (3, 4):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {seen}")


def finished(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    job = post(client, path, body)
    return readings(client, job["id"])[-1]


def picture(client: httpx.Client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, url
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def difference(a: Image.Image, b: Image.Image) -> float:
    b = b.resize(a.size, Image.Resampling.LANCZOS)
    return float(np.abs(np.asarray(a, float) - np.asarray(b, float)).mean())


# -- credentials -----------------------------------------------------------------------


def test_both_headers_are_required(sim: RunningSimulator) -> None:
    for headers in ({}, {"x-youchuan-app": "app-1"}, {**HEADERS, "x-youchuan-app": ""}):
        response = httpx.post(
            f"{sim.url}/v1/tob/diffusion", json={"text": "a fox"}, headers=headers
        )
        assert response.status_code == 401
        assert response.json()["reason"] == "Invalid_App_Identifier"
        assert CANARY not in response.text
    assert sim.stats()["submits"] == 0


# -- the job's life ----------------------------------------------------------------------


def test_a_diffusion_is_four_separate_images(client: httpx.Client, sim: RunningSimulator) -> None:
    job = post(client, "diffusion", {"text": "a red fox in snow --ar 3:2 --seed 7"})
    assert (job["status"], job["comment"], job["urls"]) == (0, "JobStatusCreated", [])
    assert isinstance(job["id"], str) and job["text"] == "a red fox in snow --ar 3:2 --seed 7"
    seen = readings(client, job["id"])
    assert [r["status"] for r in seen] == [1, 2, 2]
    assert seen[0]["comment"] == "JobStatusRunning"
    assert "progress" not in seen[0]
    assert seen[1]["urls"] == []  # success before urls
    done = seen[-1]
    assert len(done["urls"]) == 4 and done["audits"] == ["", "", "", ""]
    images = [picture(client, url) for url in done["urls"]]
    (width, height), *others = {image.size for image in images}
    assert not others and abs(width / height - 1.5) < 0.03  # each image has the --ar shape
    assert min(difference(images[0], other) for other in images[1:]) > 3.0  # four pictures
    assert sim.stats()["protocols"]["youchuan"]["submits"] == 1


def test_image_no_counts_from_zero(client: httpx.Client) -> None:
    grid = finished(client, "diffusion", {"text": "a lighthouse at dusk --seed 3"})
    tiles = [picture(client, url) for url in grid["urls"]]
    for image_no in (0, 3):
        body = {"jobId": grid["id"], "imageNo": image_no, "type": 0}
        upscaled = finished(client, "upscale", body)
        assert len(upscaled["urls"]) == 1 and upscaled["imageNo"] == image_no
        big = picture(client, upscaled["urls"][0])
        assert big.size == (tiles[0].width * 2, tiles[0].height * 2)
        distances = [difference(big, tile) for tile in tiles]
        assert distances.index(min(distances)) == image_no
    message = refused(
        client, "upscale", {"jobId": grid["id"], "imageNo": 4}, 400, "Invalid_Argument"
    )
    assert "0-3" in message


def test_edits_make_new_grids(client: httpx.Client, sim: RunningSimulator) -> None:
    grid = finished(client, "diffusion", {"text": "a sailing boat --ar 1:1"})
    parent = {"jobId": grid["id"], "imageNo": 1}
    edits = [
        ("variation", {**parent, "type": 0}),
        ("variation", {**parent, "type": 1}),
        ("pan", {**parent, "direction": 3, "scale": 1.5}),
        ("outpaint", {**parent, "scale": 2.0}),
        ("outpaint", {**parent, "scale": 1.3}),
        ("reroll", {"jobId": grid["id"]}),
    ]
    for path, body in edits:
        done = finished(client, path, body)
        assert done["status"] == 2 and len(done["urls"]) == 4, (path, done)
        assert done["parentId"] == grid["id"]
        if path == "pan":
            image = picture(client, done["urls"][0])
            assert image.width > image.height * 1.3  # left: wider
    assert sim.stats()["protocols"]["youchuan"]["submits"] == 1 + len(edits)


def test_upscales_follow_the_model(client: httpx.Client) -> None:
    v6 = finished(client, "diffusion", {"text": "a fox --v 6.1"})
    for kind in (2, 3):
        body = {"jobId": v6["id"], "imageNo": 0, "type": kind}
        refused(client, "upscale", body, 403, "Upscale_Not_Support")
    up = finished(client, "upscale", {"jobId": v6["id"], "imageNo": 2, "type": 1})
    again = {"jobId": up["id"], "imageNo": 0, "type": 0}
    refused(client, "upscale", again, 400, "Job_ReUpscale_Not_Support")
    refused(client, "reroll", {"jobId": up["id"]}, 405, "Not_Support")
    refused(client, "variation", {"jobId": up["id"], "imageNo": 1}, 400, "Invalid_Argument")
    varied = finished(client, "variation", {"jobId": up["id"], "imageNo": 0, "type": 1})
    assert len(varied["urls"]) == 4
    v5 = finished(client, "diffusion", {"text": "a fox --v 5.2"})
    refused(
        client, "upscale", {"jobId": v5["id"], "imageNo": 0, "type": 0}, 403, "Upscale_Not_Support"
    )
    assert (
        len(finished(client, "upscale", {"jobId": v5["id"], "imageNo": 1, "type": 3})["urls"]) == 1
    )


def test_remix_paints_the_new_prompt(client: httpx.Client) -> None:
    grid = finished(client, "diffusion", {"text": "a red house --seed 11"})
    body = {"jobId": grid["id"], "imageNo": 0, "remixPrompt": "a blue house", "mode": 1}
    remixed = finished(client, "remix", body)
    assert remixed["text"] == "a blue house" and len(remixed["urls"]) == 4
    assert remixed["type"] == "remix" and remixed["parentId"] == grid["id"]
    refused(client, "remix", {"jobId": grid["id"], "imageNo": 0}, 400, "Invalid_Argument")
    refused(client, "remix", {**body, "remixPrompt": "a house of blood"}, 403, "Msg_Sensitive")


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "reason"),
    [
        ("a fox --repeat 3", 400, "Invalid_Prompt_Parameter"),
        ("a fox --stealth", 400, "Invalid_Prompt_Parameter"),
        ("a fox --public", 400, "Invalid_Prompt_Parameter"),
        ("a {red, blue} fox", 400, "Invalid_Prompt_Parameter"),
        ("a fox --s 5000", 400, "Invalid_Prompt_Parameter"),
        ("a fox covered in gore", 403, "Msg_Sensitive"),
        ("", 400, "Invalid_Argument"),
        ("fox " * 2100, 400, "Invalid_Argument"),
    ],
)
def test_prompts_youchuan_refuses(
    client: httpx.Client, sim: RunningSimulator, text: str, status: int, reason: str
) -> None:
    refused(client, "diffusion", {"text": text}, status, reason)
    stats = sim.stats()
    assert stats["submits"] == 0 and stats["protocols"]["youchuan"]["rejected"] == 1


def test_unknown_jobs_and_endpoints(client: httpx.Client) -> None:
    response = client.get("/v1/tob/job/nope")
    assert response.status_code == 400 and response.json()["reason"] == "Invalid_Argument"
    refused(client, "variation", {"jobId": "nope", "imageNo": 0}, 400, "Invalid_Argument")
    refused(client, "inpaint", {"jobId": "nope", "imageNo": 0}, 400, "Invalid_Argument")
    refused(client, "remove-background", {"imgUrl": "http://x/a.png"}, 405, "Not_Support")
    bad = client.post("/v1/tob/diffusion", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["reason"] == "Invalid_Argument"


def test_an_unfinished_job_cannot_be_edited(client: httpx.Client) -> None:
    job = post(client, "diffusion", {"text": "a slow fox"})
    refused(client, "variation", {"jobId": job["id"], "imageNo": 0}, 400, "Invalid_Argument")


# -- quirks ------------------------------------------------------------------------------


def test_a_full_plan_answers_429(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(concurrency=1, latency=1.0)
    with httpx.Client(base_url=sim.url, headers=HEADERS, timeout=10.0) as client:
        first = post(client, "diffusion", {"text": "a fox"})
        answer = refused(client, "diffusion", {"text": "a cat"}, 429, "Max_Concurrent_Limited")
        assert "concurrent" in answer
        assert readings(client, first["id"])[-1]["status"] == 2
        post(client, "diffusion", {"text": "a cat"})  # a slot is free again
    stats = sim.stats()
    assert (stats["submits"], stats["rejected_429"]) == (2, 1)


def test_moderation_withholds_an_image(client: httpx.Client) -> None:
    grid = finished(client, "diffusion", {"text": "a woman in a swimsuit on a beach"})
    assert len(grid["urls"]) == 4
    assert [bool(a) for a in grid["audits"]] == [False, True, False, False]
    body = {"jobId": grid["id"], "imageNo": 1, "type": 0}
    refused(client, "variation", body, 400, "Invalid_Argument")
    assert finished(client, "variation", {**body, "imageNo": 2})["status"] == 2


def test_every_third_job_speaks_chinese(client: httpx.Client) -> None:
    comments = [
        finished(client, "diffusion", {"text": f"a fox number {n}"})["comment"] for n in range(3)
    ]
    assert comments == ["JobStatusSuccess", "JobStatusSuccess", "成功"]


def test_failures_have_comment_codes(make_sim: Callable[..., RunningSimulator]) -> None:
    sim = make_sim(fail_rate=1.0)
    with httpx.Client(base_url=sim.url, headers=HEADERS, timeout=10.0) as client:
        comments = set()
        for n in range(3):
            done = finished(client, "diffusion", {"text": f"a fox {n}"})
            assert done["status"] == 3 and done["urls"] == []
            comments.add(done["comment"])
    known = {"JobStatusTimeout", "JobStatusError", "JobStatusCreditNotEnough", "失败"}
    assert comments <= known and "失败" in comments
    assert sim.stats()["failed"] == 3


def test_callbacks_carry_the_job_object(client: httpx.Client, webhook: WebhookReceiver) -> None:
    job = post(client, "diffusion", {"text": "a fox", "callback": webhook.url})
    bodies = webhook.wait_for(lambda b: any(x.get("urls") for x in b))
    assert all(body["id"] == job["id"] for body in bodies)  # type: ignore[union-attr]
    assert [body["status"] for body in bodies][-1] == 2  # type: ignore[index]


def test_the_rate_limit_answers_in_youchuans_shape(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(rate_limit=1.0)
    with httpx.Client(base_url=sim.url, headers=HEADERS, timeout=10.0) as client:
        codes = [client.get("/v1/tob/job/1").status_code for _ in range(4)]
        limited = client.get("/v1/tob/job/1")
    assert 429 in codes and limited.status_code == 429
    assert limited.json()["reason"] == "Max_Concurrent_Limited"
    assert int(limited.headers["retry-after"]) >= 1

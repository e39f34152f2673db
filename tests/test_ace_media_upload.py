"""Ace's upload of local images: the adapter's request and its reading of the answer
(AceDataCloud/SDK ``files.py`` + ``transport.py upload()``; Nexior reads ``file_url``),
and the simulator's ``POST /api/v1/files/`` over real loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import mjnb
from mjnb.errors import AuthError, ProviderError, Rejected
from mjnb.inputs import image_input
from mjnb.providers.acedata import AceDataAdapter, LocalAdapter
from mjnb.providers.acedata_media import upload_origin
from mjnb.providers.base import Job
from mjnb.simulator import RunningSimulator

CANARY = "sk/Up+load=Canary-42"
FAST = {"latency": 0.2, "long_side": 128, "progress_steps": 2}


def png(color: tuple[int, int, int] = (20, 120, 220), size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


def data_url(data: bytes) -> str:
    return image_input(data).data_url


def multipart_file(request: httpx.Request) -> tuple[str, str, bytes]:
    """``(filename, content type, bytes)`` of the request's one part named ``file``."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.read()
    parts = [p for p in body.split(b"--" + boundary)[1:] if not p.startswith(b"--")]
    assert len(parts) == 1, "one field only"
    head, _, content = parts[0].removeprefix(b"\r\n").partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
    disposition = headers["Content-Disposition"]
    assert disposition.startswith('form-data; name="file"; filename="'), disposition
    name = disposition.split('filename="', 1)[1].rstrip('"')
    return name, headers["Content-Type"], content.removesuffix(b"\r\n")


def answer(payload: Any = None, status: int = 200, *, raw: bytes | None = None) -> httpx.Response:
    request = httpx.Request("POST", "https://platform.acedata.cloud/api/v1/files/")
    if raw is not None:
        return httpx.Response(status, content=raw, request=request)
    return httpx.Response(status, json=payload, request=request)


# -- the request ---------------------------------------------------------------------------


def test_the_upload_goes_to_the_platform_as_the_sdk_sends_it() -> None:
    adapter = AceDataAdapter(token=CANARY)
    data = png()
    request = adapter.upload(data_url(data))
    assert request is not None
    assert str(request.url) == "https://platform.acedata.cloud/api/v1/files/"
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {CANARY}"
    assert request.headers["accept"] == "application/json"
    name, mime, sent = multipart_file(request)
    assert sent == data and mime == "image/png"
    assert name == hashlib.sha256(data).hexdigest()[:12] + ".png"
    # nothing else goes along: no query, no other field, the token only in its header
    assert request.url.query == b""
    body = request.read()
    assert CANARY.encode() not in body and b"data:" not in body
    assert CANARY not in repr(request) and CANARY not in repr(adapter)


def test_a_jpeg_goes_with_its_own_type_and_extension() -> None:
    request = AceDataAdapter(token="t").upload(data_url(jpeg()))
    assert request is not None
    name, mime, _ = multipart_file(request)
    assert name.endswith(".jpg") and mime == "image/jpeg"


def test_only_the_upload_goes_to_the_second_origin() -> None:
    adapter = AceDataAdapter(token=CANARY)
    assert "authorization" not in adapter.download("https://platform.acedata.cloud/x.png").headers
    assert "authorization" not in adapter.download("https://cdn.acedata.cloud/x.png").headers
    assert adapter.download("https://api.acedata.cloud/x.png").headers["authorization"]


@pytest.mark.parametrize(
    ("base", "origin"),
    [
        ("https://api.acedata.cloud", "https://platform.acedata.cloud"),
        ("https://API.acedata.cloud:443/", "https://platform.acedata.cloud"),
        ("http://api.acedata.cloud", "http://api.acedata.cloud"),  # not the real API
        ("https://api.acedata.cloud:8443", "https://api.acedata.cloud:8443"),
        ("https://api.zhishuyun.com", "https://api.zhishuyun.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("https://gateway.example/ace/v1", "https://gateway.example"),
        ("http://[::1]:8123/", "http://[::1]:8123"),
    ],
)
def test_the_upload_origin(base: str, origin: str) -> None:
    assert upload_origin(base) == origin


def test_the_simulator_uploads_at_its_own_origin_and_zhishuyun_refuses(
    tmp_path: Path,
) -> None:
    local = LocalAdapter(base_url="http://127.0.0.1:9999/").upload(data_url(png()))
    assert local is not None and str(local.url) == "http://127.0.0.1:9999/api/v1/files/"
    picture = tmp_path / "fox.png"
    picture.write_bytes(png())
    mj = mjnb.Client("zhishuyun", base_url="http://127.0.0.1:9", token=CANARY)
    with pytest.raises(mjnb.InvalidArgument, match="needs a public URL") as refused:
        mj.describe(picture)
    assert "\n" not in str(refused.value) and "nothing was sent" in str(refused.value)
    with pytest.raises(mjnb.InvalidArgument, match="cannot take the local image after --sref"):
        mj.imagine(f"a fox --sref {picture}")
    assert mj.log().empty


def test_a_data_url_that_reaches_a_submit_is_refused_not_sent_inline() -> None:
    adapter, local = AceDataAdapter(token="t"), data_url(png())
    for job in (
        Job("describe", images=(local,)),
        Job("edit", prompt="make it blue", images=(local,)),
        Job("imagine", prompt="a fox", images=(local,)),
        Job("video", prompt="waves", images=("https://x.test/a.png",), end=local),
    ):
        with pytest.raises(Rejected, match="not uploaded first"):
            adapter.submit(job)
    with pytest.raises(Rejected, match="not a PNG"):
        adapter.upload("data:image/png;base64," + base64.b64encode(b"plain text").decode())


def test_uploaded_image_prompts_go_in_front_of_the_prompt() -> None:
    adapter = AceDataAdapter(token="t")
    up = "https://platform.acedata.cloud/files/ab.png"
    sent = adapter.submit(Job("imagine", prompt="a fox --v 8", images=(up,)))
    body = httpx.Response(200, content=sent.content).json()
    assert body["prompt"] == f"{up} a fox --v 8"
    assert body["moodboard"] is True  # V8 image prompts are billed as a moodboard
    edit = httpx.Response(200, content=adapter.submit(Job("edit", "a", images=(up,))).content)
    assert edit.json()["image_url"] == up and edit.json()["prompt"] == "a"


# -- the answer ----------------------------------------------------------------------------


def test_the_file_url_is_the_uploaded_images_url() -> None:
    adapter = AceDataAdapter(token="t")
    url = "https://cdn.acedata.cloud/abc/cat.png"
    assert adapter.parse_upload(answer({"file_url": url})) == url
    assert adapter.parse_upload(answer({"file_url": f"  {url} ", "id": 7})) == url


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"url": "https://cdn.acedata.cloud/a.png"},  # another shape: not accepted silently
        {"data": {"file_url": "https://cdn.acedata.cloud/a.png"}},
        {"file_url": ""},
        {"file_url": None},
        {"file_url": 12},
        {"file_url": ["https://cdn.acedata.cloud/a.png"]},
        {"file_url": "ftp://cdn.acedata.cloud/a.png"},
        {"file_url": "/relative/a.png"},
        {"file_url": "https://cdn.acedata.cloud/a b.png"},
        {"file_url": "https://cdn.acedata.cloud/" + "a" * 3000},
    ],
)
def test_an_answer_without_a_usable_file_url_is_an_error(payload: Any) -> None:
    with pytest.raises(ProviderError, match="upload answer had no file_url"):
        AceDataAdapter(token="t").parse_upload(answer(payload))


def test_bad_and_error_answers() -> None:
    adapter = AceDataAdapter(token=CANARY)
    for bad in (answer(raw=b"<html>502</html>"), answer(raw=b""), answer([1, 2])):
        with pytest.raises(ProviderError, match="without a JSON object"):
            adapter.parse_upload(bad)
    refused = {"error": {"code": "invalid_token", "message": f"bad token {CANARY}"}}
    with pytest.raises(AuthError) as auth:
        adapter.parse_upload(answer(refused, 401))
    assert CANARY not in str(auth.value) and "***" in str(auth.value)
    big = {"error": {"code": "payload_too_large", "message": "File too large"}}
    with pytest.raises(ProviderError, match="File too large") as info:
        adapter.parse_upload(answer(big, 413))
    assert info.value.status == 413
    with pytest.raises(ProviderError, match="token in its file_url"):
        adapter.parse_upload(answer({"file_url": f"https://x.test/a.png?k={CANARY}"}))


# -- the simulator's /api/v1/files/ ----------------------------------------------------------


@pytest.fixture
def sim_with_token(make_sim: Callable[..., RunningSimulator]) -> RunningSimulator:
    return make_sim(token=CANARY, max_body=64 * 1024)


def send(sim: RunningSimulator, data: bytes, *, token: str | None = CANARY, **files: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    fields = files or {"file": ("x.png", data, "image/png")}
    return httpx.post(f"{sim.url}/api/v1/files/", files=fields, headers=headers, timeout=30)


def test_the_simulator_keeps_an_upload_and_serves_it(sim_with_token: RunningSimulator) -> None:
    sim, data = sim_with_token, png((250, 10, 10))
    got = send(sim, data)
    assert got.status_code == 200, got.text
    assert set(got.json()) == {"file_url"}  # the one field Ace's clients read
    url = got.json()["file_url"]
    assert url.startswith(sim.url + "/_sim/uploads/")
    served = httpx.get(url, timeout=30)  # a signed link, as a CDN's: no token needed
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/png"
    assert CANARY not in url
    counts = sim.stats()["protocols"]["acedata"]
    assert counts["uploads"] == 1 and counts.get("submits", 0) == 0


def test_the_simulator_checks_the_token_the_size_and_the_type(
    sim_with_token: RunningSimulator,
) -> None:
    sim = sim_with_token
    for token, code in ((None, "no_token"), ("wrong", "invalid_token")):
        refused = send(sim, png(), token=token)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == code
    noise = Image.effect_noise((400, 400), 80).convert("RGB")
    big = io.BytesIO()
    noise.save(big, "PNG")
    assert len(big.getvalue()) > 64 * 1024
    too_big = send(sim, big.getvalue())
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"
    for bad in (b"plain text, not an image", b"BM" + bytes(60), png()[:40]):
        refused = send(sim, bad)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_request"
    other = send(sim, b"", other=("x.png", png(), "image/png"))
    assert other.status_code == 400 and "'file'" in other.json()["error"]["message"]
    plain = httpx.post(
        f"{sim.url}/api/v1/files/",
        json={"file": "x"},
        headers={"authorization": f"Bearer {CANARY}"},
        timeout=30,
    )
    assert plain.status_code == 400 and "multipart" in plain.json()["error"]["message"]
    assert sim.stats()["uploads"] == 0


def test_the_adapters_request_and_the_simulators_answer_agree(
    make_sim: Callable[..., RunningSimulator],
) -> None:
    sim = make_sim(token=CANARY)
    adapter = AceDataAdapter(base_url=sim.url, token=CANARY)
    data = jpeg()
    request = adapter.upload(data_url(data))
    assert request is not None and request.url.path == "/api/v1/files/"
    with httpx.Client(timeout=30) as http:
        url = adapter.parse_upload(http.send(request))
        assert http.get(url).content == data
        job = Job("describe", images=(url,))
        described = adapter.parse_submit(job, http.send(adapter.submit(job)))
    assert described.descriptions and "red" in described.descriptions[0]

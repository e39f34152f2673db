"""The adapters' shared helpers and the provider registry, tested as plain functions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mjnb.config import CREDENTIAL_VARS, credentials
from mjnb.errors import ConfigError, Rejected
from mjnb.providers import PROVIDERS, make_adapter
from mjnb.providers.acedata import AceDataAdapter, LocalAdapter, ZhishuyunAdapter
from mjnb.providers.base import Job
from mjnb.providers.common import (
    ACEDATA_STATES,
    METACHAT_STATUSES,
    MJPROXY_STATUSES,
    blend_prompt,
    map_status,
    mime_type,
    progress_percent,
    read_json,
    retry_after,
    split_descriptions,
    text_after_images,
    with_mode,
)
from mjnb.providers.metachat import MetaChatAdapter
from mjnb.providers.mjproxy import MJProxyAdapter
from mjnb.providers.youchuan import YouchuanAdapter
from mjnb.secrets import redact_url, scrub
from tests.conftest import CANARY


@pytest.mark.parametrize(
    ("value", "percent"),
    [
        ("45%", 45),
        (45, 45),
        (0.45, 45),
        ("0.45", 45),
        (None, 0),
        ("", 0),
        ("0%", 0),
        ("100%", 100),
        (" 30 % ", 30),
        ("45.7%", 45),
        (1, 1),
        ("1", 1),
        (1.0, 100),
        (0.07, 7),
        (0.29, 29),
        (100, 100),
        (150, 100),
        (-5, 0),
        ("abc", 0),
        ("-5%", 0),
        (True, 0),
        (float("nan"), 0),
        ([45], 0),
    ],
)
def test_progress_percent_reads_every_form(value: Any, percent: int) -> None:
    assert progress_percent(value) == percent


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats()))
def test_progress_percent_is_always_an_int_from_0_to_100(value: Any) -> None:
    result = progress_percent(value)
    assert isinstance(result, int) and 0 <= result <= 100


def test_status_tables() -> None:
    assert map_status(MJPROXY_STATUSES, "IN_PROGRESS") == "running"
    assert map_status(MJPROXY_STATUSES, "in_progress") == "running"
    assert map_status(METACHAT_STATUSES, 40) == "succeeded"
    assert map_status(METACHAT_STATUSES, "SUCCESS") == "succeeded"
    assert map_status(ACEDATA_STATES, "Generating") == "running"
    assert map_status(ACEDATA_STATES, "canceled") == "cancelled"
    assert map_status(MJPROXY_STATUSES, "NEW") is None
    assert map_status(MJPROXY_STATUSES, None) is None
    assert map_status(METACHAT_STATUSES, True) is None


def test_read_json_tolerates_empty_and_broken_bodies() -> None:
    assert read_json(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert read_json(httpx.Response(204)) is None
    assert read_json(httpx.Response(200, content=b"  \n")) is None
    assert read_json(httpx.Response(502, content=b"<html>bad gateway</html>")) is None


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "5"})) == 5.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "1.5"})) == 1.5
    dated = httpx.Response(
        429,
        headers={
            "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
            "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        },
    )
    assert retry_after(dated) == 30.0
    past = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert retry_after(past) == 0.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None


def test_secrets_are_scrubbed_and_redacted() -> None:
    assert scrub(f"bad token {CANARY}!", [CANARY, None]) == "bad token ***!"
    assert scrub("too short to matter", ["t"]) == "too short to matter"
    url = f"https://api.zhishuyun.com/midjourney/imagine?token={CANARY}&x=1"
    assert redact_url(url) == "https://api.zhishuyun.com/midjourney/imagine?token=***&x=1"
    assert redact_url(httpx.URL(url)).count(CANARY) == 0
    assert redact_url("https://h/a?b=1") == "https://h/a?b=1"


def test_prompt_helpers() -> None:
    # the parsed prompt (job.parsed) answers, not a regex over the text
    images = Job("imagine", prompt="https://x/a.png http://y/b.JPG?s=1 a fox --iw 2")
    assert images.parsed is not None
    assert images.parsed.images == ["https://x/a.png", "http://y/b.JPG?s=1"]
    assert text_after_images(images) == "a fox --iw 2"
    trailing = Job("imagine", prompt="a fox https://x/a.png")
    assert text_after_images(trailing) == "a fox https://x/a.png"
    assert Job("imagine", prompt="a fox --relax").speed == "relax"
    assert Job("imagine", prompt="a fox —turbo").speed == "turbo"
    assert Job("imagine", prompt="a relaxed fox").speed is None
    assert with_mode("a fox", Job("imagine", prompt="a fox", mode="fast")) == "a fox --fast"
    relax = Job("imagine", prompt="a fox --relax", mode="fast")
    assert with_mode("a fox --relax", relax) == "a fox --relax"
    assert with_mode("a fox", Job("imagine", prompt="a fox")) == "a fox"
    assert mime_type("https://x/a.JPG") == "image/jpeg"
    assert mime_type("https://x/a.webp?sig=1") == "image/webp"
    assert mime_type("https://x/image") == "image/png"
    assert mime_type("data:image/webp;base64,AAAA") == "image/webp"


def test_split_descriptions() -> None:
    text = "1️⃣ a cat --ar 1:1\n\n2️⃣ a dog\n3. a bird\n- a fish\n\n"
    assert split_descriptions(text) == ("a cat --ar 1:1", "a dog", "a bird", "a fish")
    assert split_descriptions(["1️⃣ one", "two"]) == ("one", "two")
    assert split_descriptions("3D render of a cube") == ("3D render of a cube",)
    assert split_descriptions(None) == ()


def test_blend_prompt() -> None:
    assert blend_prompt(("https://a/1.png", "https://a/2.png"), "square") == (
        "https://a/1.png https://a/2.png"
    )
    with pytest.raises(Rejected, match="got 6"):
        blend_prompt(tuple(f"https://a/{n}.png" for n in range(6)), "square")


# -- the registry ---------------------------------------------------------------------


def test_registry_names_and_variables_match_the_spec() -> None:
    assert {
        "local": LocalAdapter,
        "acedata": AceDataAdapter,
        "zhishuyun": ZhishuyunAdapter,
        "metachat": MetaChatAdapter,
        "mjproxy": MJProxyAdapter,
        "youchuan": YouchuanAdapter,
    } == PROVIDERS
    assert {k: dict(v) for k, v in CREDENTIAL_VARS.items() if k in PROVIDERS} == {
        "local": {},
        "acedata": {"token": "MJNB_ACEDATA_TOKEN"},
        "zhishuyun": {"token": "MJNB_ZHISHUYUN_TOKEN"},
        "metachat": {"app_id": "MJNB_METACHAT_APP_ID", "token": "MJNB_METACHAT_API_KEY"},
        "mjproxy": {"token": "MJNB_MJPROXY_SECRET"},
        "youchuan": {"app_id": "MJNB_YOUCHUAN_APP", "token": "MJNB_YOUCHUAN_SECRET"},
    }
    for name, cls in PROVIDERS.items():
        assert cls.name == name
        assert cls.poll_interval >= cls.min_poll_interval >= 0


def test_make_adapter_builds_each_provider() -> None:
    ace = make_adapter("acedata", base_url=None, token="tok")
    assert isinstance(ace, AceDataAdapter) and ace.base_url == "https://api.acedata.cloud"
    sim = make_adapter("zhishuyun", base_url="http://127.0.0.1:5000", token="tok", app_id=None)
    assert isinstance(sim, ZhishuyunAdapter) and sim.base_url == "http://127.0.0.1:5000"
    mc = make_adapter("metachat", base_url=None, app_id="a", token="k")
    assert mc.base_url == "https://api.mmchat.xyz/open/v1"
    assert make_adapter("metachat", base_url="http://127.0.0.1:9").base_url.endswith(":9/open/v1")
    open_proxy = make_adapter("mjproxy", base_url="http://127.0.0.1:8080")
    assert isinstance(open_proxy, MJProxyAdapter)
    with pytest.raises(ConfigError, match="MJNB_MJPROXY_URL"):
        make_adapter("mjproxy", base_url=None)
    yc = make_adapter("youchuan", base_url=None, app_id="a", token="s")
    assert isinstance(yc, YouchuanAdapter) and yc.base_url == "https://ali.youchuan.cn"
    with pytest.raises(ConfigError, match="Unknown provider 'midjourney'; the adapters are: "):
        make_adapter("midjourney")


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "acedata",
            {},
            "Ace Data Cloud needs a token: set MJNB_ACEDATA_TOKEN (or pass token=... to "
            "mjnb.Client).",
        ),
        ("zhishuyun", {"token": ""}, "Zhishuyun needs a token: set MJNB_ZHISHUYUN_TOKEN"),
        ("metachat", {"token": "k"}, "MetaChat needs an app id: set MJNB_METACHAT_APP_ID"),
        ("metachat", {"app_id": "a"}, "set MJNB_METACHAT_API_KEY (or pass token="),
        ("youchuan", {"token": "s"}, "Youchuan needs an app id: set MJNB_YOUCHUAN_APP"),
        ("youchuan", {"app_id": "a"}, "Youchuan needs a secret: set MJNB_YOUCHUAN_SECRET"),
    ],
)
def test_missing_credentials_name_the_variable(
    name: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        credentials(name, kwargs)
    assert message in str(caught.value)


def test_make_adapter_never_shows_a_credential() -> None:
    for name in PROVIDERS:
        adapter = make_adapter(
            name,
            base_url="http://127.0.0.1:1",
            token=CANARY,
            **({"app_id": CANARY} if name in ("metachat", "youchuan") else {}),
        )
        assert CANARY not in repr(adapter) and CANARY not in str(adapter)
    with pytest.raises(TypeError) as caught:
        make_adapter("acedata", base_url=None, token=CANARY, secret=CANARY)
    assert CANARY not in str(caught.value)

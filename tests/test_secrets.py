"""The one rule of what a secret is (mjnb.secrets), in every spelling."""

from __future__ import annotations

import pytest

from mjnb.secrets import is_secret_key, redact_text, redact_url, scrub, scrub_mapping

CANARY = "Canary/Tok+en=42"


@pytest.mark.parametrize(
    "echo",
    [
        CANARY,
        CANARY.lower(),
        CANARY.upper(),
        "Canary%2FTok%2Ben%3D42",
        "canary%2ftok%2ben%3d42",
        "Canary%2FTok%2Ben%3D42".replace("%2F", "/"),
    ],
)
def test_scrub_masks_every_spelling(echo: str) -> None:
    text = f"error: invalid credential {echo} (check it)"
    cleaned = scrub(text, [CANARY, None])
    assert "***" in cleaned
    assert "anary" not in cleaned.lower()


def test_scrub_leaves_short_and_missing_secrets_alone() -> None:
    assert scrub("a cat", ["a", None, ""]) == "a cat"
    assert scrub("", [CANARY]) == ""


@pytest.mark.parametrize(
    "key", ["token", "X-Api-Key", "api_key", "apikey", "Authorization", "password", "key",
            "app_key", "sign", "signature", "secret", "cookie", "access_token"]
)  # fmt: skip
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["prompt", "task_id", "image_url", "monkey", "keyword"])
def test_plain_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_url_masks_query_values_and_user_info() -> None:
    url = "https://user:pw@api.example/imagine?token=abc&a=1&app_key=zz"
    assert redact_url(url) == "https://api.example/imagine?token=***&a=1&app_key=***"
    assert redact_url("https://api.example/x?a=1") == "https://api.example/x?a=1"


def test_redact_text_masks_credential_shapes() -> None:
    text = 'Authorization: Bearer abc.def token=xyz&x=1 "api_key": "zz"'
    assert redact_text(text) == 'Authorization: *** *** token=***&x=1 "api_key": "***"'


def test_scrub_mapping_drops_secret_keys_at_any_depth() -> None:
    value = {"a": 1, "token": "t", "inner": [{"api_key": "k", "b": 2}]}
    assert scrub_mapping(value) == {"a": 1, "inner": [{"b": 2}]}

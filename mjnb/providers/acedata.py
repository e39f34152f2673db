"""Ace Data Cloud (``acedata``) and its former self, Zhishuyun (``zhishuyun``).

One API on two hosts: ``POST /midjourney/imagine`` for a grid and for every action
(``action`` + the parent's ``image_id``), ``POST /midjourney/tasks`` to poll, and
``POST /midjourney/describe``, which answers at once. Ace sends a bearer header;
Zhishuyun the token in the query string, and the speed as a path suffix.

- A submit sends ``async: true`` and gets a ``task_id`` back at once; :meth:`stream`
  sends the same body without it and reads NDJSON progress lines instead.
- Action names come in two eras (Ace ``upscale2``, Zhishuyun ``upsample2`` ...): a
  snapshot maps each label to the name the server itself listed in ``actions``.
- Blend has no endpoint: it is an imagine whose prompt is only the image links
  (``"url1 url2 --ar 2:3"``), which Midjourney reads as a blend.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import AuthError, ProviderError, RateLimited, Rejected
from .base import Job, Snapshot, Status
from .common import (
    ACEDATA_STATES,
    Redacted,
    blend_prompt,
    map_status,
    progress_percent,
    read_json,
    retry_after,
    scrub,
    speed_flag,
)

#: every action name either era lists -> the label mjnb uses for it
WIRE_LABELS: Mapping[str, str] = {
    **{f"upscale{n}": f"U{n}" for n in range(1, 5)},
    **{f"upsample{n}": f"U{n}" for n in range(1, 5)},
    **{f"variation{n}": f"V{n}" for n in range(1, 5)},
    "reroll": "reroll",
    "variation_subtle": "vary subtle",
    "low_variation": "vary subtle",
    "variation_strong": "vary strong",
    "high_variation": "vary strong",
    "zoom_out_2x": "zoom 2x",
    "zoom_out_1_5x": "zoom 1.5x",
    "square": "square",
    **{f"pan_{way}": f"pan {way}" for way in ("left", "right", "up", "down")},
    "upscale_subtle": "upscale subtle",
    "upsample_subtle": "upscale subtle",
    "upscale_creative": "upscale creative",
    "upsample_creative": "upscale creative",
    "upscale_2x": "upscale 2x",
    "upsample_2x": "upscale 2x",
    "upscale_4x": "upscale 4x",
    "upsample_4x": "upscale 4x",
}
ZHISHUYUN_NAMES = frozenset(
    name for name in WIRE_LABELS if name.startswith(("upsample", "low_", "high_"))
)
AUTH_CODES = frozenset({"invalid_token", "no_token", "token_expired", "token_mismatched"})
BUSY_CODES = frozenset({"too_many_requests", "busy"})
REFUSED_CODES = frozenset({"bad_request", "api_not_implemented", "duplication", "disabled"})


def wire_actions(actions: Any, *, prefer_zhishuyun: bool = False) -> dict[str, str]:
    """``{label: wire name}`` for the action names a response offered."""
    found: dict[str, str] = {}
    for wire in actions if isinstance(actions, list) else ():
        label = WIRE_LABELS.get(wire)
        if label and (label not in found or (wire in ZHISHUYUN_NAMES) == prefer_zhishuyun):
            found[label] = wire
    return found


class AceDataAdapter(Redacted):
    """Maps jobs onto Ace Data Cloud's Midjourney API (bearer token in a header)."""

    name = "acedata"
    title = "Ace Data Cloud"
    default_base_url = "https://api.acedata.cloud"
    token_env = "MJNB_ACEDATA_TOKEN"
    top_up_url = "https://platform.acedata.cloud"
    prefer_zhishuyun = False
    poll_interval = 3.0
    min_poll_interval = 1.0

    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._token = token

    # -- requests ---------------------------------------------------------------------

    def _request(self, path: str, body: Mapping[str, Any], accept: str) -> httpx.Request:
        headers = {"accept": accept}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        return httpx.Request("POST", self.base_url + path, json=body, headers=headers)

    def _imagine(self, body: dict[str, Any], mode: str | None) -> tuple[str, dict[str, Any]]:
        """The path and the body of an imagine call; Zhishuyun moves ``mode`` to the path."""
        if mode:
            body["mode"] = mode
        return "/midjourney/imagine", body

    def _build(self, job: Job) -> tuple[str, dict[str, Any]]:
        if job.kind == "describe":
            if len(job.images) != 1:
                raise Rejected(f"Describe takes exactly one image, got {len(job.images)}.")
            return "/midjourney/describe", {"image_url": job.images[0]}
        if job.kind == "action":
            parent = job.parent
            wire = parent.wire.get(job.label or "") if parent else None
            if parent is None or wire is None:
                offered = ", ".join(parent.actions) if parent and parent.actions else "none"
                raise Rejected(
                    f"{self.title} does not offer {job.label!r} on this task; "
                    f"the actions offered are: {offered}."
                )
            image_id = parent.extra.get("image_id")
            if not image_id:
                raise Rejected(f"The task has no {self.title} image_id to act on; run it again.")
            body: dict[str, Any] = {"action": wire, "image_id": image_id}
            mode = job.mode
        else:
            prompt = job.prompt
            if job.kind == "blend":
                prompt = blend_prompt(job.images, job.dimensions)
            body = {"action": "generate", "prompt": prompt}
            mode = job.mode or speed_flag(prompt)
        if job.callback_url:
            body["callback_url"] = job.callback_url
        return self._imagine(body, mode)

    def submit(self, job: Job) -> httpx.Request:
        path, body = self._build(job)
        if job.kind != "describe":
            body["async"] = True
        return self._request(path, body, "application/json")

    def stream(self, job: Job) -> httpx.Request | None:
        if job.kind == "describe":
            return None
        path, body = self._build(job)
        return self._request(path, body, "application/x-ndjson")

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        if not snapshot.remote_id:
            raise ProviderError(f"Cannot poll a {self.title} job that has no task id.")
        body = {"action": "retrieve", "id": snapshot.remote_id}
        return self._request("/midjourney/tasks", body, "application/json")

    def download(self, url: str) -> httpx.Request:
        headers = {}
        if self._token and httpx.URL(url).host == httpx.URL(self.base_url).host:
            headers["authorization"] = f"Bearer {self._token}"  # never to a CDN
        return httpx.Request("GET", url, headers=headers)

    # -- responses --------------------------------------------------------------------

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        body = self._check(response)
        if job.kind == "describe":
            descriptions = tuple(str(d) for d in body.get("descriptions") or ())
            if not descriptions:
                raise ProviderError(f"{self.title} answered the describe with no descriptions.")
            task_id = body.get("task_id") or body.get("id")
            return Snapshot("succeeded", 100, task_id, descriptions=descriptions)
        task_id = body.get("task_id")
        if not task_id:
            raise ProviderError(f"{self.title} accepted the job but sent no task_id; try again.")
        return self._snapshot(body, str(task_id), {})

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        body = self._check(response)
        data = body.get("response")
        if not body.get("id") and not isinstance(data, dict):
            raise ProviderError(f"{self.title} does not know task {snapshot.remote_id}.")
        state = map_status(ACEDATA_STATES, body.get("state"))
        if not isinstance(data, dict):
            data = {"error": body.get("error")} if body.get("error") else {}
        return self._snapshot(data, snapshot.remote_id, snapshot.extra, state)

    def parse_line(self, job: Job, line: bytes) -> Snapshot | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None  # blank or keep-alive line
        if not isinstance(data, dict):
            return None
        if data.get("success") is False and not data.get("task_id"):
            raise self._error(200, data, None)
        task_id = data.get("task_id")
        return self._snapshot(data, str(task_id) if task_id else None, {})

    def _snapshot(
        self,
        data: Mapping[str, Any],
        remote_id: str | None,
        extra: Mapping[str, Any],
        state: str | None = None,
    ) -> Snapshot:
        success, progress = data.get("success"), progress_percent(data.get("progress"))
        actions, url = data.get("actions"), data.get("image_url") or data.get("raw_image_url")
        descriptions = tuple(str(d) for d in data.get("descriptions") or ())
        if data.get("image_id"):
            extra = {**extra, "image_id": str(data["image_id"])}
        if success is False or state in ("failed", "cancelled"):
            error = data.get("error")
            reason = _message(error) if isinstance(error, dict) else None
            if reason and isinstance(error, dict) and error.get("code"):
                reason = f"{reason} ({error['code']})"
            return Snapshot(
                "cancelled" if state == "cancelled" else "failed",
                progress,
                remote_id,
                error=scrub(reason or f"{self.title} reported the job failed.", self._token),
                extra=extra,
            )
        old_era_done = success is None and progress >= 100 and bool(actions)
        if success is True or old_era_done or descriptions or (state == "succeeded" and url):
            return Snapshot(
                "succeeded",
                100,
                remote_id,
                image_url=url or None,
                image_urls=tuple(data.get("sub_image_urls") or ()),
                wire=wire_actions(actions, prefer_zhishuyun=self.prefer_zhishuyun),
                descriptions=descriptions,
                extra=extra,
            )
        running = state == "running" or progress > 0 or bool(url)
        status: Status = "running" if running else "queued"
        return Snapshot(status, progress, remote_id, preview_url=url or None, extra=extra)

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        body = read_json(response)
        failed = isinstance(body, dict) and (
            body.get("success") is False or ("code" in body and "detail" in body)
        )
        if response.is_error or failed:
            raise self._error(response.status_code, body, response)
        if not isinstance(body, dict):
            raise ProviderError(
                f"{self.title} answered HTTP {response.status_code} without a JSON object; "
                "try again later.",
                status=response.status_code,
            )
        return body

    def _error(self, status: int, body: Any, response: httpx.Response | None) -> ProviderError:
        body = body if isinstance(body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        code = str(error.get("code") or body.get("code") or "") or None
        detail = scrub(_message(error) or _message(body) or f"HTTP {status}", self._token)
        said = f"{detail} ({code or f'HTTP {status}'})"
        kind: type[ProviderError] = ProviderError
        if status == 401 or code in AUTH_CODES:
            kind = AuthError
            text = f"refused the token: {said}. Check token= or {self.token_env}."
        elif status == 429 or code in BUSY_CODES:
            kind = RateLimited
            text = f"is busy: {said}. The job was not created; submit it again in a moment."
        elif code == "used_up":
            kind = Rejected
            text = f"says your balance is used up; top up at {self.top_up_url} and submit again."
        elif status == 403:
            kind = Rejected
            text = f"refused the prompt (moderation): {said}. Rephrase it and submit again."
        elif code in REFUSED_CODES:
            kind = Rejected
            text = f"refused the job: {said}. Fix the prompt or the action and submit again."
        else:
            trace = f" (trace_id {body['trace_id']})" if body.get("trace_id") else ""
            text = f"answered with an error: {said}{trace}. Try again later."
        error = kind(f"{self.title} {text}", code=code, status=status)
        if isinstance(error, RateLimited) and response is not None:
            error.retry_after = retry_after(response)
        return error


class ZhishuyunAdapter(AceDataAdapter):
    """The same API on Zhishuyun's host: token in the query, speed in the path."""

    name = "zhishuyun"
    title = "Zhishuyun"
    default_base_url = "https://api.zhishuyun.com"
    token_env = "MJNB_ZHISHUYUN_TOKEN"
    top_up_url = "https://data.zhishuyun.com"
    prefer_zhishuyun = True

    def _request(self, path: str, body: Mapping[str, Any], accept: str) -> httpx.Request:
        # The token in the URL is the protocol; report such URLs via common.redact_url.
        params = {"token": self._token} if self._token else None
        url = self.base_url + path
        return httpx.Request("POST", url, params=params, json=body, headers={"accept": accept})

    def _imagine(self, body: dict[str, Any], mode: str | None) -> tuple[str, dict[str, Any]]:
        suffix = f"/{mode}" if mode in ("relax", "turbo") else ""
        return "/midjourney/imagine" + suffix, body

    def download(self, url: str) -> httpx.Request:
        return httpx.Request("GET", url)  # the token never goes into a download URL


def _message(data: Mapping[str, Any]) -> str | None:
    for key in ("message", "detail"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    return None


class LocalAdapter(AceDataAdapter):
    """Provider ``local``: the Ace protocol spoken to the embedded simulator."""

    name = "local"
    title = "The built-in simulator"
    default_base_url = ""
    poll_interval = 0.25
    min_poll_interval = 0.0

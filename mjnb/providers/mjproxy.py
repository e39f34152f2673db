"""midjourney-proxy (``mjproxy``): the ``/mj/submit/*`` + ``/mj/task/*`` protocol.

Spoken by novicezk/midjourney-proxy, its forks and the gateways that re-expose them, on
a server the user names (``MJNB_MJPROXY_URL``); ``mj-api-secret`` carries the secret.

Mapping choices:
- Actions use the Discord buttons a fork lists on a task (``/mj/submit/action`` with
  the button's ``customId``); a task without buttons offers U/V/reroll on a grid through
  the original ``/mj/submit/change``.
- ``mode`` becomes a ``--fast``/``--relax``/``--turbo`` flag at the end of the prompt,
  unless the prompt names a speed already (``accountFilter`` is a fork's field).
- describe sends ``base64`` for a ``data:`` URL and a fork's ``link`` otherwise. blend
  sends ``base64Array`` when every image is a ``data:`` URL; links are blended as an
  image-only imagine prompt (``"url1 url2 --ar 2:3"``), which Midjourney reads as a blend.
- trueai's media (``SubmitController``/``TaskService``): video through
  ``/mj/submit/video`` (``image``, ``endImage``, ``motion``, ``loop``, ``batchSize``,
  ``videoType``; extend with ``action: "extend"``, ``taskId`` and a 0-based ``index``);
  ``upscale video`` is the ``video_virtual_upscale::<n>`` button (picks clip n, 1-based).
  Vary region, custom zoom and remix press the button (``enableRemix: true`` for a remix)
  and get code 21 "Waiting for window confirm" with a MODAL task: ``parse_submit`` marks
  it ``extra["confirm"]``, and :meth:`MJProxyAdapter.confirm` answers it once with
  ``/mj/submit/modal`` (``prompt``; ``maskBase64`` for vary region; the factor as
  ``--zoom`` in the prompt for a custom zoom, as Discord's form has it). Edits and
  retexture are ``/mj/submit/edits`` / ``/retexture``; the seed is
  ``GET /mj/task/{id}/image-seed``. Local images go inline (data URLs in ``base64Array``,
  ``image``, ``base64``). novicezk has none of these routes: its 404 says so in one line.
- ``--sref``/``--cref``/``--oref`` need URLs in the prompt: a local path there is uploaded
  first through trueai's ``POST /mj/submit/upload-discord-images {base64Array}``
  (``SubmitController.ImagineDiscordImages``: code 1, ``result`` a list of URLs; code 4
  ``禁止上传`` where the server's EnableUserCustomUploadBase64 is off), one image per
  request, and its URL takes the path's place. novicezk answers 404 there: one line says
  the server cannot take local references, and nothing is submitted.
- A MODAL task read by a poll reads as running (its confirm is on its way).
- Cancel is trueai's ``POST /mj/task/{id}/cancel`` (``TaskController.Cancel``): no
  body; 200 with an empty body, also for an unknown or finished id; 400
  ``演示模式，禁止操作`` for any secret that is not an admin's. The task then reads
  FAILURE with ``failReason`` ``取消任务``, which this adapter reports as cancelled.
  novicezk's server has no such route (404).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from ..errors import AuthError, ConfigError, ProviderError, RateLimited, Rejected
from .base import AdapterBase, Feature, Job, Snapshot, Status
from .common import (
    MJPROXY_STATUSES,
    batch_ids,
    batch_readings,
    blend_prompt,
    capped_descriptions,
    check_blend,
    epoch_seconds,
    is_data_url,
    map_status,
    optional_id,
    optional_str,
    progress_percent,
    read_json,
    retry_after,
    with_mode,
)
from .mjproxy_media import (
    MODAL_TEXT,
    TRUEAI_ONLY,
    build_media,
    confirm_body,
    media_fields,
    missing_route,
    seed_of,
)

GRID_TASKS = frozenset({"IMAGINE", "VARIATION", "REROLL", "BLEND"})
#: without buttons, a grid's actions go through /mj/submit/change as "<ACTION> <index>"
CHANGE_WIRE: Mapping[str, str] = {
    **{f"U{n}": f"UPSCALE {n}" for n in range(1, 5)},
    **{f"V{n}": f"VARIATION {n}" for n in range(1, 5)},
    "reroll": "REROLL",
}
#: Discord button labels, for a customId this adapter does not recognize
BUTTON_LABELS: Mapping[str, str] = {
    "Vary (Subtle)": "vary subtle",
    "Vary (Strong)": "vary strong",
    "Zoom Out 2x": "zoom 2x",
    "Zoom Out 1.5x": "zoom 1.5x",
    "Make Square": "square",
    "Upscale (Subtle)": "upscale subtle",
    "Upscale (Creative)": "upscale creative",
    "Upscale (2x)": "upscale 2x",
    "Upscale (4x)": "upscale 4x",
    "Vary (Region)": "vary region",
    "Custom Zoom": "zoom custom",
    "Animate (High motion)": "animate high",
    "Animate (Low motion)": "animate low",
    "Extend (High motion)": "extend high",
    "Extend (Low motion)": "extend low",
}
_JOB_OPS = {"reroll": "reroll", "low_variation": "vary subtle", "high_variation": "vary strong"}
_OUTPAINT = {"50": "zoom 2x", "75": "zoom 1.5x", "100": "square"}
_VIDEO_OPS = {
    "animate_high": "animate high",
    "animate_low": "animate low",
    "animate_high_extend": "extend high",
    "animate_low_extend": "extend low",
    "video_virtual_upscale": "upscale video",
}
#: trueai's ``failReason`` for a task its cancel endpoint ended
CANCEL_REASON = "取消任务"
#: trueai's answer to a cancel by a secret that is not an admin's ("demo mode, forbidden")
CANCEL_REFUSED = "演示模式"
#: trueai's upload of local images, answered with their URLs (novicezk: 404)
UPLOAD_PATH = "/mj/submit/upload-discord-images"
#: the wire of "extend low|high" on a video task without extend buttons
VIDEO_EXTEND = "/mj/submit/video action=extend"
_UPSAMPLE = re.compile(r"^upsample_v\w*?_(?:2x_(subtle|creative)|(2x|4x))$")


def button_label(custom_id: str) -> str | None:
    """The action label of a Discord button ``customId``, or None for one mjnb skips."""
    parts = custom_id.split("::")
    if len(parts) < 3 or parts[0] != "MJ":
        return None
    if parts[1] == "Outpaint":
        return _OUTPAINT.get(parts[2])
    if parts[1] in ("Inpaint", "CustomZoom"):  # trueai's window-confirm buttons
        return "vary region" if parts[1] == "Inpaint" else "zoom custom"
    if parts[1] != "JOB":
        return None
    op, index = parts[2], parts[3] if len(parts) > 3 else ""
    if op in _VIDEO_OPS:
        return _VIDEO_OPS[op]
    if op in ("upsample", "variation") and index in ("1", "2", "3", "4"):
        return f"{'U' if op == 'upsample' else 'V'}{index}"
    if op.startswith("pan_") and op[4:] in ("left", "right", "up", "down"):
        return f"pan {op[4:]}"
    upscale = _UPSAMPLE.match(op)
    if upscale:
        return f"upscale {upscale.group(1) or upscale.group(2)}"
    return _JOB_OPS.get(op)


def wire_from_buttons(buttons: Any) -> dict[str, str]:
    """``{label: customId}`` for the buttons mjnb can press (the first of each label)."""
    wire: dict[str, str] = {}
    for button in buttons if isinstance(buttons, list) else ():
        if not isinstance(button, dict) or not isinstance(button.get("customId"), str):
            continue
        custom_id = button["customId"]
        label = button_label(custom_id) or BUTTON_LABELS.get(str(button.get("label", "")))
        if label:
            wire.setdefault(label, custom_id)
    return wire


class MJProxyAdapter(AdapterBase):
    """Maps jobs onto a midjourney-proxy server; ``base_url`` is required."""

    name = "mjproxy"
    title = "midjourney-proxy"
    poll_interval = 3.0
    min_poll_interval = 1.0
    #: trueai-org's fork (novicezk's original answers these routes 404: said in one line)
    features: ClassVar[frozenset[Feature]] = frozenset(
        {"video", "extend", "upscale video", "vary region", "remix", "zoom custom",
         "edit", "retexture", "seed", "cancel"}
    )  # fmt: skip
    local_images = "inline"  # data URLs in base64Array / image / base64
    local_refs = "upload"  # trueai's /mj/submit/upload-discord-images (novicezk: 404)
    max_extensions = 4  # Midjourney's own limit (about 21 s)
    batch_polls = 50

    def __init__(self, base_url: str | None = None, token: str | None = None) -> None:
        if not base_url:
            raise ConfigError(
                "midjourney-proxy has no public host: pass base_url=... or set "
                "MJNB_MJPROXY_URL to your server's address (e.g. http://127.0.0.1:8080)."
            )
        base = base_url.rstrip("/")
        self.base_url = base[:-3] if base.endswith("/mj") else base  # paths add /mj
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        return {"mj-api-secret": self._token} if self._token else {}

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Request:
        headers = {"accept": "application/json", **self.auth_headers()}
        return httpx.Request(method, self.base_url + path, json=body, headers=headers)

    def submit(self, job: Job) -> httpx.Request:
        path, body = self._build(job)
        if job.callback_url:
            body["notifyHook"] = job.callback_url
        return self._request("POST", path, body)

    def _build(self, job: Job) -> tuple[str, dict[str, Any]]:
        media = build_media(job, self.title)
        if media is not None:
            return media
        if job.kind == "imagine":
            prompt = with_mode(job.prompt, job)
            inline = [url for url in job.images if is_data_url(url)]
            front = prompt.split()[: len(job.parsed.images)] if job.parsed is not None else []
            links = [url for url in job.images if not is_data_url(url) and url not in front]
            prompt = " ".join([*links, prompt]) if links else prompt
            return "/mj/submit/imagine", {"prompt": prompt, "base64Array": inline}
        if job.kind == "describe":
            if len(job.images) != 1:
                raise Rejected(f"Describe takes exactly one image, got {len(job.images)}.")
            url = job.images[0]
            return "/mj/submit/describe", {"base64": url} if is_data_url(url) else {"link": url}
        if job.kind == "blend":
            if job.images and all(is_data_url(url) for url in job.images):
                check_blend(job.images, job.dimensions)
                body = {"base64Array": list(job.images), "dimensions": job.dimensions.upper()}
                return "/mj/submit/blend", body
            prompt = with_mode(blend_prompt(job.images, job.dimensions), job)
            return "/mj/submit/imagine", {"prompt": prompt, "base64Array": []}
        parent = job.parent
        wire = parent.wire.get(job.label or "") if parent else None
        if parent is None or wire is None or not parent.remote_id:
            choices = ", ".join(parent.actions) if parent and parent.actions else "none"
            raise Rejected(
                f"midjourney-proxy does not offer {job.label!r} on this task; "
                f"the actions offered are: {choices}."
            )
        if wire.startswith("MJ::"):
            press: dict[str, Any] = {"taskId": parent.remote_id, "customId": wire}
            if job.remix:
                press["enableRemix"] = True  # answered with the window confirm (code 21)
            return "/mj/submit/action", press
        if job.remix:
            raise Rejected(
                "This midjourney-proxy server lists no buttons on the task, so it cannot "
                "remix (trueai's enableRemix needs a button customId)."
            )
        action, _, index = wire.partition(" ")
        change: dict[str, Any] = {"taskId": parent.remote_id, "action": action}
        if index:
            change["index"] = int(index)
        return "/mj/submit/change", change

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        try:
            path = response.request.url.path
        except RuntimeError:  # a response built without its request (tests)
            path = ""
        route = next((r for r in TRUEAI_ONLY if path.endswith(r)), None)
        if route and response.status_code in (404, 405):
            said = missing_route(response, route)
            if said:
                raise Rejected(said, status=response.status_code)
        body = self._body(response, None)
        if not isinstance(body, dict):
            raise ProviderError(
                f"midjourney-proxy answered HTTP {response.status_code} without a JSON "
                "object; check that MJNB_MJPROXY_URL points at a midjourney-proxy server."
            )
        code, result = body.get("code"), body.get("result")
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        properties = body.get("properties")
        if not isinstance(properties, dict):
            properties = {}
        said = self.scrub(_said(body.get("description")))
        task_id = optional_id(result, "a task id (result)", self.title)
        window = code == 21 and (
            properties.get("remix") is True or said.strip().lower() == MODAL_TEXT.lower()
        )
        if window and task_id:  # the MODAL task waits for /mj/submit/modal (confirm)
            final = _said(properties.get("finalPrompt"))
            return Snapshot("queued", remote_id=task_id, extra={"confirm": True, "prompt": final})
        if code in (1, 21, 22) and task_id:
            return Snapshot("queued", remote_id=task_id)
        if code == 23:
            raise RateLimited(
                f"midjourney-proxy's queue is full ({said or 'code 23'}). The job was not "
                "created; submit it again in a moment.",
                code="23",
            )
        if code == 24:
            word, sent = _said(properties.get("bannedWord")), _said(properties.get("promptEn"))
            which = f"the banned word {word!r}" if word else "a banned word"
            as_sent = f" (prompt as sent: {sent!r})" if sent else ""
            raise Rejected(
                f"midjourney-proxy refused the prompt: it contains {which}{as_sent}. "
                "Remove the word and submit again.",
                code="24",
            )
        if code == 4:
            why = _explained(said)
            raise Rejected(f"midjourney-proxy rejected the request: {why}", code="4")
        if code == 3:
            raise Rejected(
                f"midjourney-proxy did not find the task or an account: {said}", code="3"
            )
        raise ProviderError(
            f"midjourney-proxy could not submit the job (code {code}): {said or 'no reason'}. "
            "Try again later.",
            code=None if code is None else str(code),
        )

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        if not snapshot.remote_id:
            raise ProviderError("Cannot poll a midjourney-proxy job that has no task id.")
        return self._request("GET", f"/mj/task/{self.path_id(snapshot.remote_id)}/fetch")

    def poll_many(self, snapshots: Sequence[Snapshot]) -> httpx.Request:
        """``POST /mj/task/list-by-condition {ids}``: novicezk's batch lookup, which
        trueai serves under that name and as ``list-by-ids`` (TaskController.cs); it
        answers a list of the same task objects as ``fetch``."""
        body = {"ids": batch_ids(snapshots)}
        return self._request("POST", "/mj/task/list-by-condition", body)

    def parse_poll_many(
        self, snapshots: Sequence[Snapshot], response: httpx.Response
    ) -> list[Snapshot | None]:
        tasks = self._body(response, None)
        return batch_readings(tasks, snapshots, self.title, self._reading)

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        task = self._body(response, snapshot.remote_id)
        if not isinstance(task, dict) or not task:
            raise ProviderError(
                f"midjourney-proxy does not know task {snapshot.remote_id} (empty answer); "
                "the server may have restarted and lost it.",
                status=response.status_code,
            )
        return self._reading(snapshot, task)

    def _reading(self, snapshot: Snapshot, task: Mapping[str, Any]) -> Snapshot:
        """The state one task object (from ``fetch`` or the batch lookup) shows."""
        status = map_status(MJPROXY_STATUSES, task.get("status"))
        progress = progress_percent(task.get("progress"))
        url = optional_str(task.get("imageUrl"), "an imageUrl", self.title)
        extra: dict[str, Any] = {}
        for key, name in (("started_at", "startTime"), ("finished_at", "finishTime")):
            seconds = epoch_seconds(task.get(name), 1 / 1000)  # the provider's own clock
            if seconds is not None:
                extra[key] = seconds
        if status in ("failed", "cancelled"):
            reason = self.scrub(_said(task.get("failReason")))
            if status == "failed" and reason.strip() == CANCEL_REASON:
                status, reason = (
                    "cancelled",
                    f"The task was cancelled on midjourney-proxy ({reason}).",
                )
            error = reason or f"midjourney-proxy reported the task {status}."
            return Snapshot(status, progress, snapshot.remote_id, error=error, extra=extra)
        prompt = _said(task.get("promptEn")) or _said(task.get("prompt"))
        if prompt:
            extra["prompt"] = prompt
        if status == "succeeded":
            descriptions, notice = capped_descriptions(_descriptions(task))
            if notice:
                extra["notice"] = notice
            videos, poster = media_fields(task, self.title)
            if videos:
                url = poster
            seed = seed_of(task.get("seed"))
            if seed is not None:
                extra["seed"] = seed
            wire = self._offered(task)
            if videos:  # /mj/submit/video extends any clip of a video task (0-based index)
                for label in ("extend low", "extend high"):
                    wire.setdefault(label, VIDEO_EXTEND)
            return Snapshot(
                "succeeded",
                100,
                snapshot.remote_id,
                image_url=url,
                video_urls=videos,
                wire=wire,
                descriptions=descriptions,
                extra=extra,
            )
        waiting: Status = status or ("running" if progress else "queued")
        if url and url.lower().split("?")[0].endswith(".mp4"):
            url = None  # a video task's imageUrl is its clip: no preview to show
        return Snapshot(waiting, progress, snapshot.remote_id, preview_url=url, extra=extra)

    @staticmethod
    def _offered(task: Mapping[str, Any]) -> dict[str, str]:
        if task.get("buttons"):
            return wire_from_buttons(task["buttons"])
        action = task.get("action")
        return dict(CHANGE_WIRE) if isinstance(action, str) and action in GRID_TASKS else {}

    def confirm(self, job: Job, snapshot: Snapshot) -> httpx.Request | None:
        """trueai's ``POST /mj/submit/modal`` for a task waiting in MODAL (code 21)."""
        if not snapshot.extra.get("confirm") or not snapshot.remote_id:
            return None
        return self._request("POST", "/mj/submit/modal", confirm_body(job, snapshot))

    def upload(self, data_url: str) -> httpx.Request | None:
        """trueai's ``POST /mj/submit/upload-discord-images``, one image in ``base64Array``
        (for a local ``--sref``/``--cref``/``--oref``: the prompt needs its URL)."""
        return self._request("POST", UPLOAD_PATH, {"base64Array": [data_url]})

    def parse_upload(self, response: httpx.Response) -> str:
        """The first URL of the answer's ``result`` list."""
        if response.status_code in (404, 405):
            raise Rejected(
                f"this midjourney-proxy server cannot take local references (HTTP "
                f"{response.status_code}: it has no {UPLOAD_PATH}, like novicezk's servers): "
                "give the --sref/--cref/--oref image as an http(s) URL.",
                status=response.status_code,
            )
        body = self._body(response, None)
        if not isinstance(body, dict):
            raise ProviderError("midjourney-proxy answered the upload without a JSON object.")
        code, result = body.get("code"), body.get("result")
        said = self.scrub(_said(body.get("description")))
        if code == 4 or str(code) == "4":
            raise Rejected(f"midjourney-proxy refused the upload: {_explained(said)}", code="4")
        url = result[0] if isinstance(result, list) and len(result) == 1 else None
        if code not in (1, "1") or not isinstance(url, str) or not _is_link(url):
            raise ProviderError(
                f"midjourney-proxy's upload answer (code {code}: {said or 'no reason'}) held "
                f"no image URL in result (got {str(result)[:80]!r})."
            )
        return url.strip()

    def seed(self, snapshot: Snapshot) -> httpx.Request | None:
        """trueai's ``GET /mj/task/{id}/image-seed``."""
        return self._request("GET", f"/mj/task/{self.path_id(snapshot.remote_id)}/image-seed")

    def parse_seed(self, snapshot: Snapshot, response: httpx.Response) -> int | None:
        """The seed; None when the server could not find one (code 3 ``未找到 seed``)."""
        code = response.status_code
        if code in (404, 405) and "code" not in response.text:
            raise Rejected(
                "This midjourney-proxy server has no image-seed endpoint (novicezk fork?).",
                status=code,
            )
        if code == 400:
            said = self.scrub(response.text[:200]).strip()
            raise Rejected(
                "midjourney-proxy cannot tell this task's seed yet: it has no Midjourney "
                f"message to ask about ({said or 'HTTP 400'}).",
                status=code,
            )
        body = self._body(response, snapshot.remote_id)
        if not isinstance(body, dict):
            raise ProviderError("midjourney-proxy answered the seed request without JSON.")
        if body.get("code") == 1:
            seed = seed_of(body.get("result"))
            if seed is None:
                raise ProviderError(
                    f"midjourney-proxy sent the seed as {body.get('result')!r}, not a number."
                )
            return seed
        if body.get("code") == 3:
            return None
        said = self.scrub(_said(body.get("description")))
        raise ProviderError(f"midjourney-proxy could not get the seed: {said or 'no reason'}.")

    def cancel(self, snapshot: Snapshot) -> httpx.Request | None:
        """trueai's ``POST /mj/task/{id}/cancel`` (no body; see the module notes)."""
        return self._request("POST", f"/mj/task/{self.path_id(snapshot.remote_id)}/cancel")

    def parse_cancel(self, snapshot: Snapshot, response: httpx.Response) -> None:
        code = response.status_code
        if code == 400 and CANCEL_REFUSED in response.text:
            raise Rejected(
                "midjourney-proxy refused the cancel: only an admin's secret may cancel "
                f"tasks on this server ({self.scrub(response.text[:200]).strip()}). The task "
                "keeps running and mjnb keeps polling it.",
                status=code,
            )
        if code in (404, 405):
            raise Rejected(
                f"This midjourney-proxy server has no cancel endpoint (HTTP {code}); the "
                "task keeps running and mjnb keeps polling it.",
                status=code,
            )
        error = self.error_for(response, snapshot.remote_id)
        if error is not None:
            raise error

    def _body(self, response: httpx.Response, task: str | None) -> Any:
        """The JSON body of a good answer; raises for every error answer."""
        error = self.error_for(response, task)
        if error is not None:
            raise error
        return read_json(response)

    def error_for(
        self, response: httpx.Response, remote_id: str | None = None
    ) -> ProviderError | None:
        """The exception for the HTTP statuses the protocol gives a meaning, or None."""
        code, task = response.status_code, remote_id
        if code in (401, 403):
            return AuthError(
                f"midjourney-proxy refused the secret (HTTP {code}). Check "
                "MJNB_MJPROXY_SECRET: it must equal the server's mj.api-secret.",
                status=code,
            )
        if code == 429:
            return RateLimited(
                "midjourney-proxy is rate-limiting requests (HTTP 429). The job was not "
                "created; submit it again in a moment.",
                status=code,
                retry_after=retry_after(response),
            )
        if code == 404:
            if task:
                return ProviderError(f"midjourney-proxy does not know task {task}.", status=404)
            return Rejected(
                "midjourney-proxy did not find the task to act on (HTTP 404); "
                "it may have expired on the server. Run the parent task again.",
                status=404,
            )
        if response.is_error:
            said = self.scrub(response.text[:200]).strip()
            return ProviderError(
                f"midjourney-proxy answered HTTP {code}{f': {said}' if said else ''}. "
                "Try again later.",
                status=code,
            )
        return None


def _descriptions(task: Mapping[str, Any]) -> str | None:
    """The describe prompts' text (one per line), or None for another kind of task."""
    if task.get("action") != "DESCRIBE":
        return None
    text = _said(task.get("prompt")) or _said(task.get("promptEn"))
    description = _said(task.get("description"))
    if not text and not description.startswith("/describe"):
        text = description
    return text or None


#: trueai's refusals that need a sentence on what to change
_REASONS = {
    "视频功能未启用": "video is turned off on this server (its EnableVideo setting)",
    "禁止上传": "this server does not accept local images (EnableUserCustomUploadBase64 is "
    "off); pass a public http(s) URL instead",
    "base64格式错误": "an image is not valid base64",
    "关联任务状态错误": "the task acted on is not finished (or has no Midjourney message)",
    "任务类型错误": "only action 'extend' takes a taskId",
}


def _explained(said: str) -> str:
    for key, why in _REASONS.items():
        if key in said:
            return f"{why} ({said})"
    return said or "no reason"


def _is_link(url: str) -> bool:
    """An http(s) URL that can go into a prompt as one word."""
    text = url.strip()
    return text.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def _said(value: Any) -> str:
    """A text field of the provider's (a reason, a description), or "" when it is none."""
    return value if isinstance(value, str) else ""

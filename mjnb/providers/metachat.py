"""MetaChat open platform (``metachat``): ``/open/v1/midjourney/*``.

One endpoint per action (``/separate`` for U1-U4, ``/variation``, ``/upscale`` ...),
each answering ``{"status": "Success", "data": {"id": ...}}``, and
``GET /midjourney/result/{id}`` to poll, no faster than every 5 s. API errors come
as HTTP 200 ``{"status": "Fail", "message": ...}``; service errors as bare 4xx/5xx.

Mapping choices (MetaChat documents neither way):
- Parameters stay in the prompt text, where they override ``params`` (``--hd``,
  ``--q`` and the rest too: MetaChat documents no field for them); only ``model`` is
  sent besides, read from the parsed prompt's version. MetaChat's docs name
  ``mj-v6`` (its default), ``mj-v61``, ``mj-v7`` and ``mj-niji-v6``, nothing for V8 or
  niji 7: for a version they don't name, mjnb sends the nearest model they do
  (``mj-v7`` for V8.x, ``mj-niji-v6`` for niji 7, ``mj-v6`` below V6), keeps the
  prompt's ``--v``/``--niji``, and says so with a ``PromptWarning`` before sending
  (:meth:`MetaChatAdapter.check`; see docs/providers.md).
- Image links that open the prompt move to ``images`` (as image prompts, at most 3).
- A result lists no actions, so a snapshot offers what its kind of task allows: a grid
  U/V/reroll, a separated image vary/zoom/pan/upscale, an upscaled image vary. Upscale
  types follow the model: subtle/creative on V6+, 2x/4x on V5, all four when unknown.
  A prompt that names its version offers only what that version's rules allow
  (:func:`mjnb.prompt.version_rules`: V8.x has no zoom, pan or upscale).
- No cancel endpoint is documented: :meth:`cancel` is the default (None).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ..errors import AuthError, ProviderError, RateLimited, Rejected
from ..prompt import Prompt, PromptWarning, parse_prompt
from ..vocab import UPSCALE_KINDS
from .base import AdapterBase, Feature, Job, LocalImages, Snapshot, Status
from .common import (
    METACHAT_STATUSES,
    allowed_actions,
    capped_descriptions,
    check_blend,
    epoch_seconds,
    map_status,
    mime_type,
    optional_id,
    optional_str,
    progress_percent,
    read_json,
    retry_after,
    text_after_images,
    version_name,
    with_mode,
)

CREDENTIALS = "MJNB_METACHAT_APP_ID and MJNB_METACHAT_API_KEY"
GRID_WIRE: Mapping[str, str] = {
    **{f"U{n}": f"separate {n}" for n in range(1, 5)},
    **{f"V{n}": f"variation {n}" for n in range(1, 5)},
    "reroll": "reroll",
}
SINGLE_WIRE: Mapping[str, str] = {
    "vary subtle": "vary subtle",
    "vary strong": "vary strong",
    "zoom 2x": "zoomout 2x",
    "zoom 1.5x": "zoomout 1.5x",
    **{f"pan {way}": f"pan {way}" for way in ("left", "right", "up", "down")},
    **{f"upscale {kind}": f"upscale {kind}" for kind in UPSCALE_KINDS},
}
UPSCALED_WIRE: Mapping[str, str] = {"vary subtle": "vary subtle", "vary strong": "vary strong"}
#: what a task made by each endpoint is: its result decides the actions it offers
RESULT_KIND = {"separate": "single", "upscale": "upscaled"}  # every other one: "grid"

#: the models MetaChat's docs name, by version-table name
MODELS = {"6": "mj-v6", "6.0": "mj-v6", "6.1": "mj-v61", "7": "mj-v7", "7.0": "mj-v7"}
DOCUMENTED_NIJI = ("niji", "niji 6")


def model_for(prompt: Prompt | str | None) -> str:
    """MetaChat's ``model`` for a prompt; versions it does not name stay in the prompt
    and get the nearest model it does (see :func:`fallback_note`)."""
    if isinstance(prompt, str):
        prompt = parse_prompt(prompt, strict=False, warn=False)
    version = prompt.version if prompt is not None else None
    if version is None:
        return "mj-v6"
    if version.startswith("niji"):
        return "mj-niji-v6"  # the only niji MetaChat names; ``--niji 5`` still overrides
    if version in MODELS:
        return MODELS[version]
    try:
        newer = float(version) > 7
    except ValueError:
        newer = False
    return "mj-v7" if newer else "mj-v6"


def fallback_note(prompt: Prompt | None) -> str | None:
    """The warning for a version MetaChat's docs name no model for, else None."""
    version = prompt.version if prompt is not None else None
    if version is None or version in MODELS or version in DOCUMENTED_NIJI:
        return None
    shown = f"--{version}" if version.startswith("niji") else f"--v {version}"
    return (
        f"MetaChat documents no model for {shown}; mjnb sends model "
        f"{model_for(prompt)!r} and keeps {shown} in the prompt, which MetaChat may or "
        "may not honour (see docs/providers.md). Use another provider to be sure."
    )


def offered(kind: str | None, model: str | None, version: str | None = None) -> dict[str, str]:
    """``{label: wire}`` for a finished task of that kind (see the module notes);
    ``version`` (a version-table name) keeps only what that version allows."""
    if kind == "grid":
        wire = dict(GRID_WIRE)
    elif kind == "upscaled":
        wire = dict(UPSCALED_WIRE)
    elif kind != "single":
        return {}
    else:
        wire = dict(SINGLE_WIRE)
        if model:
            old = re.search(r"v5|niji-?v?5", model) is not None
            for kind_ in ("2x", "4x") if not old else ("subtle", "creative"):
                del wire[f"upscale {kind_}"]
    return allowed_actions(wire, version)


_NO_VIDEO = (
    "MetaChat's API documents no Midjourney video (a third-party client's "
    "/midjourney/video is unverified, so mjnb does not send it); use acedata, mjproxy "
    "(trueai) or youchuan for video"
)
_NO_EDITOR = (
    "MetaChat's API documents no inpaint, remix, custom zoom, edit or retexture; use "
    "acedata, mjproxy (trueai) or youchuan for the editor"
)
#: why MetaChat refuses each feature (the client's one-line error before sending)
REFUSALS: Mapping[str, str] = {
    "video": _NO_VIDEO,
    "extend": _NO_VIDEO,
    "upscale video": _NO_VIDEO,
    "vary region": _NO_EDITOR,
    "remix": _NO_EDITOR,
    "zoom custom": _NO_EDITOR,
    "edit": _NO_EDITOR,
    "retexture": _NO_EDITOR,
    "seed": "MetaChat does not report the seed a job used; give --seed to know it",
    "cancel": "MetaChat's API has no cancel",
    "upload": "MetaChat takes image URLs only and has no upload endpoint",
}


class MetaChatAdapter(AdapterBase):
    """Maps jobs onto MetaChat's Midjourney API (``X-App-ID`` + bearer API key)."""

    name = "metachat"
    title = "MetaChat"
    default_base_url = "https://api.mmchat.xyz/open/v1"
    poll_interval = 5.0
    min_poll_interval = 5.0
    #: no video and no editor: MetaChat's doc has neither (see REFUSALS)
    features: ClassVar[frozenset[Feature]] = frozenset()
    local_images: ClassVar[LocalImages] = "refuse"
    refusals: ClassVar[Mapping[str, str]] = REFUSALS

    def __init__(
        self, base_url: str | None = None, app_id: str | None = None, token: str | None = None
    ) -> None:
        base = (base_url or self.default_base_url).rstrip("/")
        if not httpx.URL(base).path.strip("/"):  # a bare host (a reseller, the simulator)
            base += "/open/v1"
        self.base_url = base
        self._app_id = app_id
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        headers = {"X-App-ID": self._app_id} if self._app_id else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Request:
        headers = {"accept": "application/json", **self.auth_headers()}
        return httpx.Request(method, self.base_url + path, json=body, headers=headers)

    def check(self, prompt: Prompt) -> None:
        """Warn (and send) when MetaChat's docs name no model for the prompt's version."""
        note = fallback_note(prompt)
        if note:
            warnings.warn(PromptWarning(note), stacklevel=3)

    def submit(self, job: Job) -> httpx.Request:
        endpoint, body = self._build(job)
        return self._request("POST", f"/midjourney/{endpoint}", body)

    def _build(self, job: Job) -> tuple[str, dict[str, Any]]:
        if job.kind == "imagine":
            images = job.parsed.images if job.parsed is not None else []
            if len(images) > 3:
                raise Rejected(f"MetaChat takes at most 3 image prompts, got {len(images)}.")
            body: dict[str, Any] = {"prompt": with_mode(text_after_images(job), job)}
            body["model"] = model_for(job.parsed)
            if images:
                body["images"] = [_image(url) | {"image_prompt": True} for url in images]
            return "imagine", body
        if job.kind == "describe":
            if len(job.images) != 1:
                raise Rejected(f"Describe takes exactly one image, got {len(job.images)}.")
            return "describe", {"image": _image(job.images[0])}
        if job.kind == "blend":
            check_blend(job.images, job.dimensions)
            blended = [_image(url) for url in job.images]
            return "blend", {"images": blended, "dimension": job.dimensions}
        parent = job.parent
        wire = parent.wire.get(job.label or "") if parent else None
        if parent is None or wire is None or not parent.remote_id:
            choices = ", ".join(parent.actions) if parent and parent.actions else "none"
            raise Rejected(
                f"MetaChat does not offer {job.label!r} on this task; "
                f"the actions offered are: {choices}."
            )
        endpoint, _, argument = wire.partition(" ")
        body = {"id": parent.remote_id}
        if endpoint in ("separate", "variation"):
            body["index"] = int(argument)
        elif argument:
            body["type"] = argument
        return endpoint, body

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        data = self._data(response, None)
        task_id = optional_id(data.get("id"), "a task id", self.title)
        if not task_id:
            raise ProviderError("MetaChat accepted the job but sent no task id; try again.")
        version: str | None = None
        if job.kind == "action" and job.parent:
            endpoint = job.parent.wire.get(job.label or "", "").partition(" ")[0]
            kind, model = RESULT_KIND.get(endpoint, "grid"), job.parent.extra.get("model")
            version = job.parent.extra.get("version")
        else:
            kind = {"imagine": "grid", "blend": "grid"}.get(job.kind, job.kind)
            model = optional_str(data.get("model"), "a model", self.title) or (
                model_for(job.parsed) if job.kind == "imagine" else None
            )
            version = version_name(job.parsed) if job.kind == "imagine" else None
        extra: dict[str, Any] = {"kind": kind, "model": model} if model else {"kind": kind}
        if version:
            extra["version"] = version
        return Snapshot("queued", remote_id=task_id, extra=extra)

    def poll(self, snapshot: Snapshot) -> httpx.Request:
        if not snapshot.remote_id:
            raise ProviderError("Cannot poll a MetaChat job that has no task id.")
        return self._request("GET", f"/midjourney/result/{self.path_id(snapshot.remote_id)}")

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        data = self._data(response, snapshot.remote_id)
        extra, who = dict(snapshot.extra), self.title
        model = optional_str(data.get("model"), "a model", who)
        if model:
            extra["model"] = model
        for key in ("started_at", "finished_at"):  # the provider's clock, epoch seconds
            seconds = epoch_seconds(data.get(key))
            if seconds is not None:
                extra[key] = seconds
        progress = progress_percent(data.get("progress"))
        url = optional_str(data.get("image_url"), "an image_url", who) or optional_str(
            data.get("image_url_mirror"), "an image_url_mirror", who
        )
        status = map_status(METACHAT_STATUSES, data.get("status"))
        descriptions, notice = capped_descriptions(data.get("image_description"))
        if notice:
            extra["notice"] = notice
        if status == "failed":
            reason = data.get("fail_reason")
            reason = self.scrub(reason[:2000]) if isinstance(reason, str) else ""
            error = reason or "MetaChat reported the task failed without a reason."
            return Snapshot("failed", progress, snapshot.remote_id, error=error, extra=extra)
        if status == "succeeded" and (url or descriptions):
            return Snapshot(
                "succeeded",
                100,
                snapshot.remote_id,
                image_url=url,
                wire=offered(extra.get("kind"), extra.get("model"), extra.get("version")),
                descriptions=descriptions,
                extra=extra,
            )
        # a success without its image yet is read as still running: poll again
        waiting: Status = "queued" if status == "queued" else "running"
        if status is None and progress == 0:
            waiting = "queued"  # a status this adapter does not know
        return Snapshot(waiting, progress, snapshot.remote_id, preview_url=url, extra=extra)

    def _data(self, response: httpx.Response, task: str | None) -> dict[str, Any]:
        """``data`` of a Success envelope; raises for service and API errors."""
        error = self.error_for(response, task)
        if error is not None:
            raise error
        envelope = read_json(response)
        data = envelope.get("data") if isinstance(envelope, dict) else None
        if not isinstance(data, dict):
            raise ProviderError(
                f"MetaChat answered HTTP {response.status_code} without a Success envelope; "
                "try again later.",
                status=response.status_code,
            )
        return data

    def error_for(
        self, response: httpx.Response, remote_id: str | None = None
    ) -> ProviderError | None:
        """The exception for a service error (bare 4xx/5xx) or an API error (HTTP 200
        ``{"status": "Fail"}``), or None for a Success envelope."""
        code, body, task = response.status_code, read_json(response), remote_id
        envelope = body if isinstance(body, dict) else {}
        message = envelope.get("message")
        said = self.scrub(message[:500]) if isinstance(message, str) else ""
        if code in (401, 403):
            why = "are wrong or missing" if code == 401 else "have expired or are disabled"
            return AuthError(
                f"MetaChat refused the credentials (HTTP {code}): the app id or API key "
                f"{why}. Check {CREDENTIALS}.",
                status=code,
            )
        if code == 429:
            return RateLimited(
                "MetaChat is rate-limiting requests (HTTP 429). The job was not created; "
                "submit it again in a moment.",
                status=code,
                retry_after=retry_after(response),
            )
        if task and code == 500 and "not found" in said.lower():
            return ProviderError(f"MetaChat does not know task {task}: {said}.", status=code)
        if response.is_error:
            where = "the API path was not found; check base_url" if code == 404 else said
            return ProviderError(
                f"MetaChat answered HTTP {code} ({where or 'service error'}). Try again later.",
                status=code,
            )
        if envelope.get("status") == "Fail":
            if task:
                return ProviderError(f"MetaChat could not read task {task}: {said}", status=code)
            return Rejected(f"MetaChat refused the job: {said}", status=code)
        if envelope.get("status") != "Success":
            return ProviderError(
                f"MetaChat answered HTTP {code} without a Success envelope; try again later.",
                status=code,
            )
        return None


def _image(url: str) -> dict[str, Any]:
    return {"url": url, "type": mime_type(url)}

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

When is a job done? Ace puts ``success: true`` on every stream line, previews too:
it means "no error yet", never "finished". A stream line (or a synchronous or callback
body) is final at ``progress`` 100 with non-empty ``actions``, or, for a job whose
result is one image (an upscale), with its ``image_url``; anything earlier is a
preview. A task record carries no ``image_url`` until the job is done (Ace's own SDK,
``acedatacloud/_runtime/tasks.py``, takes any URL there as the result), so a record is
final with an ``image_url`` and no progress below 100. ``success: false`` fails the
job at any point. The protocol has no cancel.

Fields from the prompt, as Ace's own clients send them (AceDataCloud/Nexior
``src/operators/midjourney.ts``, AceDataCloud/MCPs ``midjourney/tools/imagine_tools.py``):
``version`` (the prompt's ``--v``, one of :data:`ACE_VERSIONS`), ``hd`` (``--hd``),
``quality`` as a string (``".25"``, ``"1"`` ...; never for V8.1, which takes none),
``mode`` (the job's speed, else the prompt's; V8.1 has no turbo, so Ace's clients
send ``fast``) with ``--fast/--relax/--turbo`` taken out of the prompt text,
``translation: true`` when ``Job.translate`` (absent is Ace's default, false), and
the billing flags ``style_reference`` (``--sref``) and ``moodboard`` (V8/V8.1 with
image prompts). The other parameters
stay in the prompt text, where Midjourney reads them.

Local images (a path, bytes, PIL) go through Ace's upload API first and then to the job
as URLs, like any other (:mod:`.acedata_media` says where and why); so do local paths
after ``--sref``/``--cref``/``--oref``, each ``file_url`` in its path's place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from ..errors import AuthError, ProviderError, RateLimited, Rejected
from ..prompt import Prompt
from ..prompt.model import format_number
from ..vocab import MODES, UPSCALE_KINDS
from . import acedata_media as media
from .base import AdapterBase, Feature, Job, LocalImages, LocalRefs, Snapshot, Status
from .common import (
    ACEDATA_STATES,
    batch_ids,
    batch_readings,
    blend_prompt,
    capped_descriptions,
    map_status,
    optional_id,
    optional_str,
    progress_percent,
    read_json,
    retry_after,
    str_list,
    url_list,
    version_name,
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
    for wire in str_list(actions):
        label = WIRE_LABELS.get(wire)
        if label and (label not in found or (wire in ZHISHUYUN_NAMES) == prefer_zhishuyun):
            found[label] = wire
    return found


#: labels whose result is one image, not a grid (it may offer no actions at all)
SINGLE_RESULTS = frozenset({"U1", "U2", "U3", "U4"}) | {f"upscale {kind}" for kind in UPSCALE_KINDS}


#: what every finished single image offers on Ace (its ``actions`` list none of them)
SINGLE_MEDIA: Mapping[str, str] = {
    "animate low": media.ANIMATE,
    "animate high": media.ANIMATE,
    "vary region": media.REGION,
}
VIDEO_LABELS = frozenset({"animate low", "animate high", "extend low", "extend high"})


def makes_video(job: Job) -> bool:
    """True for a job whose result is clips (``/midjourney/videos``)."""
    return job.kind == "video" or (job.kind == "action" and job.label in VIDEO_LABELS)


def makes_grid(job: Job) -> bool:
    """True when the job's result is a grid: it is final only with its actions."""
    return job.kind in ("imagine", "blend", "edit") or (
        job.kind == "action" and job.label not in SINGLE_RESULTS and not makes_video(job)
    )


#: the ``version`` values Ace takes (MCP ``MidjourneyVersion``); others stay in the prompt
ACE_VERSIONS = ("5.2", "6", "6.1", "7", "8", "8.1", "8.2")
#: versions with no turbo: Ace's clients switch it to fast (and send no quality)
NO_TURBO = frozenset({"8.1"})
NO_QUALITY = frozenset({"8.1"})
#: versions whose image prompts Ace bills as a moodboard (Nexior: ``isV8``)
MOODBOARD_VERSIONS = frozenset({"8", "8.1"})


def ace_quality(value: float) -> str:
    """``--q`` as Ace's clients write it: ``".25"``, ``".5"``, ``"1"``, ``"2"``, ``"4"``."""
    return format_number(value).removeprefix("0")


def ace_mode(job: Job) -> str | None:
    """The speed to send: the job's, else the prompt's; turbo is fast on V8.1."""
    mode = job.mode or job.speed
    if mode == "turbo" and version_name(job.parsed) in NO_TURBO:
        return "fast"
    return mode


def prompt_fields(job: Job, *, uploaded: bool = False) -> tuple[str, dict[str, Any]]:
    """The prompt text to send and the fields Ace reads beside it (module notes);
    ``uploaded``: the job has uploaded image prompts too (``Job.images``)."""
    parsed = job.parsed
    fields: dict[str, Any] = {"translation": True} if job.translate else {}
    if parsed is None:
        return job.prompt, fields
    params = parsed.params
    text = job.prompt
    if any(params.get(speed) for speed in MODES) and parsed.template is None:
        kept = {k: v for k, v in params.items() if k not in MODES}
        text = str(Prompt(parsed.images, parsed.text, kept, purpose=parsed.purpose))
    version = str(params["version"]) if "version" in params else None
    if version in ACE_VERSIONS:
        fields["version"] = version
    if params.get("hd"):
        fields["hd"] = True
    if "quality" in params and version not in NO_QUALITY:
        fields["quality"] = ace_quality(params["quality"])
    if "sref" in params:
        fields["style_reference"] = True
    if (parsed.images or uploaded) and version in MOODBOARD_VERSIONS:
        fields["moodboard"] = True
    return text, fields


class AceDataAdapter(AdapterBase):
    """Maps jobs onto Ace Data Cloud's Midjourney API (bearer token in a header)."""

    name = "acedata"
    title = "Ace Data Cloud"
    default_base_url = "https://api.acedata.cloud"
    token_env = "MJNB_ACEDATA_TOKEN"
    top_up_url = "https://platform.acedata.cloud"
    prefer_zhishuyun = False
    poll_interval = 3.0
    min_poll_interval = 1.0
    #: see :mod:`mjnb.providers.acedata_media` for what Ace offers and why
    features: ClassVar[frozenset[Feature]] = frozenset(
        {"video", "extend", "vary region", "edit", "seed", "upload"}
    )
    #: uploaded first (``upload``), then sent as URLs (references too: in the prompt)
    local_images: ClassVar[LocalImages] = "upload"
    local_refs: ClassVar[LocalRefs] = "upload"
    max_extensions = media.MAX_EXTENSIONS
    #: retrieve_batch reads up to 50 named tasks in one request (see poll_many)
    batch_polls = 50

    # -- requests ---------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._token}"} if self._token else {}

    @property
    def upload_url(self) -> str:
        """``/api/v1/files/`` at :func:`~.acedata_media.upload_origin` of ``base_url``."""
        return media.upload_origin(self.base_url) + media.UPLOAD_PATH

    def upload(self, data_url: str) -> httpx.Request | None:
        """Ace's SDK upload: multipart ``file``, the API's bearer header. The upload
        origin is the one other origin the credentials go to, for this request only."""
        return media.upload_request(self.upload_url, data_url, headers=self.auth_headers())

    def parse_upload(self, response: httpx.Response) -> str:
        error = self.error_for(response)
        if error is not None:
            raise error
        url = media.uploaded_url(read_json(response), self.title)
        if self.scrub(url) != url:
            raise ProviderError(f"{self.title}'s upload answer put the token in its file_url.")
        return url

    def _request(self, path: str, body: Mapping[str, Any], accept: str) -> httpx.Request:
        headers = {"accept": accept, **self.auth_headers()}
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
            return "/midjourney/describe", {
                "image_url": media.public(job.images[0], "the image to describe", self.title)
            }
        if job.kind == "retexture":
            raise Rejected(f"{self.title} has no retexture; use an edit with a prompt instead.")
        if makes_video(job):
            video = media.video_body(job, self.title)
            if job.callback_url:
                video["callback_url"] = job.callback_url
            return "/midjourney/videos", video
        if job.kind == "edit":
            prompt, fields = prompt_fields(job)
            edit = {**media.edit_body(job, prompt, self.title), **fields}
            speed = ace_mode(job)
            if speed:
                edit["mode"] = speed
            if job.callback_url:
                edit["callback_url"] = job.callback_url
            return "/midjourney/edits", edit
        if job.kind == "action" and job.label == "upscale video":
            raise Rejected(f"{self.title} has no video upscale.")
        if job.kind == "action" and job.remix and job.label != "vary region":
            raise Rejected(f"{self.title} has no remix: only vary region takes a new prompt there.")
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
            if job.label == "vary region":
                body.update(media.region_fields(job, prompt_fields(job)[0]))
            mode = job.mode
            if mode == "turbo" and version_name(job.parsed) in NO_TURBO:
                mode = "fast"  # job.parsed is the parent's prompt
        elif job.kind == "blend":
            prompt = blend_prompt(job.images, job.dimensions)
            body = {"action": "generate", "prompt": prompt}
            mode = job.mode
        else:
            prompt, fields = prompt_fields(job, uploaded=bool(job.images))
            prompt = media.with_links(prompt, job.images, self.title)  # uploaded images
            body = {"action": "generate", "prompt": prompt, **fields}
            mode = ace_mode(job)
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

    # -- responses --------------------------------------------------------------------

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        body = self._body(response)
        task_id = optional_id(body.get("task_id") or body.get("id"), "a task_id", self.title)
        if job.kind == "describe":
            descriptions, notice = capped_descriptions(body.get("descriptions"))
            if not descriptions:
                raise ProviderError(f"{self.title} answered the describe with no descriptions.")
            extra = {"notice": notice} if notice else {}
            return Snapshot("succeeded", 100, task_id, descriptions=descriptions, extra=extra)
        if not task_id:
            raise ProviderError(f"{self.title} accepted the job but sent no task_id; try again.")
        return self._snapshot(body, task_id, self._start(job), grid=makes_grid(job))

    @staticmethod
    def _start(job: Job) -> dict[str, Any]:
        """What a snapshot must remember of its job: a clip, and its extensions."""
        if not makes_video(job):
            return {}
        done = 0
        if job.label and job.label.startswith("extend") and job.parent is not None:
            done = int(job.parent.extra.get("extensions") or 0) + 1
        return {"video": True, "extensions": done}

    def poll_many(self, snapshots: Sequence[Snapshot]) -> httpx.Request:
        """``retrieve_batch`` with ``ids`` (the MCP server advises at most 50); ``limit``
        is sent because the batch pages 12 records by default even for named ids."""
        ids = batch_ids(snapshots)
        body = {"action": "retrieve_batch", "ids": ids, "limit": len(ids)}
        return self._request("/midjourney/tasks", body, "application/json")

    def parse_poll_many(
        self, snapshots: Sequence[Snapshot], response: httpx.Response
    ) -> list[Snapshot | None]:
        items = self._body(response).get("items")
        return batch_readings(items, snapshots, self.title, self._reading)

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        return self._reading(snapshot, self._body(response))

    def _reading(self, snapshot: Snapshot, body: Mapping[str, Any]) -> Snapshot:
        """The state one task record (from ``retrieve`` or ``retrieve_batch``) shows."""
        data = body.get("response")
        if not body.get("id") and not isinstance(data, dict):
            raise ProviderError(f"{self.title} does not know task {snapshot.remote_id}.")
        state = map_status(ACEDATA_STATES, body.get("state"))
        if not isinstance(data, dict):
            data = {"error": body.get("error")} if body.get("error") else {}
        return self._snapshot(data, snapshot.remote_id, snapshot.extra, state, record=True)

    def parse_line(self, job: Job, line: bytes) -> Snapshot | None:
        try:
            data = json.loads(line)
        except ValueError:
            return None  # blank or keep-alive line
        if not isinstance(data, dict):
            return None
        task_id = optional_id(data.get("task_id"), "a task_id", self.title)
        if data.get("success") is False and not task_id:
            raise self._exception(200, data, None)
        return self._snapshot(data, task_id, self._start(job), grid=makes_grid(job))

    def _snapshot(
        self,
        data: Mapping[str, Any],
        remote_id: str | None,
        extra: Mapping[str, Any],
        state: str | None = None,
        *,
        grid: bool = False,
        record: bool = False,
    ) -> Snapshot:
        """One body in common terms (see the module notes for when it is final).

        ``record``: a ``/midjourney/tasks`` record (no preview URLs), else a stream
        line, a synchronous or a callback body; ``grid``: the result must list actions.
        """
        who = self.title
        progress, sent = progress_percent(data.get("progress")), data.get("progress")
        url = optional_str(data.get("image_url"), "an image_url", who) or optional_str(
            data.get("raw_image_url"), "a raw_image_url", who
        )
        image_id = optional_id(data.get("image_id"), "an image_id", who)
        if image_id:
            extra = {**extra, "image_id": image_id}
        if data.get("success") is False or state in ("failed", "cancelled"):
            return Snapshot(
                "cancelled" if state == "cancelled" else "failed",
                progress,
                remote_id,
                error=_reason(data.get("error")) or f"{who} reported the job failed.",
                extra=extra,
            )
        if extra.get("video") or data.get("video_urls") is not None:
            return self._video(data, remote_id, extra, progress, sent, state, url, record)
        descriptions, notice = capped_descriptions(data.get("descriptions"))
        if notice:
            extra = {**extra, "notice": notice}
        actions = wire_actions(data.get("actions"), prefer_zhishuyun=self.prefer_zhishuyun)
        final = progress >= 100 and bool(actions or (url and not grid))
        if record:  # a record has no preview: its URL is the result unless progress < 100
            final = final or bool(url and (sent is None or progress >= 100))
        if final and url and not descriptions and "U1" not in actions:
            actions = {**actions, **SINGLE_MEDIA}  # Ace animates a single image, repaints it
        if final or descriptions:
            return Snapshot(
                "succeeded",
                100,
                remote_id,
                image_url=url,
                image_urls=url_list(data.get("sub_image_urls"), "sub_image_urls", who),
                wire=actions,
                descriptions=descriptions,
                extra=extra,
            )
        running = state in ("running", "succeeded") or progress > 0 or bool(url)
        status: Status = "running" if running else "queued"
        return Snapshot(status, min(progress, 99), remote_id, preview_url=url, extra=extra)

    def _video(
        self,
        data: Mapping[str, Any],
        remote_id: str | None,
        extra: Mapping[str, Any],
        progress: int,
        sent: Any,
        state: str | None,
        cover: str | None,
        record: bool,
    ) -> Snapshot:
        """A ``/midjourney/videos`` answer: done at progress 100 with ``video_urls``
        (a record with URLs and no progress too); ``success: true`` alone is not done."""
        urls, extra = media.video_reading(data, extra, self.title)
        final = bool(urls) and (progress >= 100 or (record and sent is None))
        if final:
            done = int(extra.get("extensions") or 0)
            return Snapshot(
                "succeeded",
                100,
                remote_id,
                image_url=cover,
                video_urls=urls,
                wire=media.video_wire(done),
                extra=extra,
            )
        running = state in ("running", "succeeded") or progress > 0
        status: Status = "running" if running else "queued"
        return Snapshot(status, min(progress, 99), remote_id, preview_url=cover, extra=extra)

    # -- seed --------------------------------------------------------------------------

    def seed(self, snapshot: Snapshot) -> httpx.Request | None:
        image_id = snapshot.extra.get("image_id")
        if not image_id or media.is_video_snapshot(snapshot):
            return None
        return self._request("/midjourney/seed", {"image_id": image_id}, "application/json")

    def parse_seed(self, snapshot: Snapshot, response: httpx.Response) -> int | None:
        return media.parse_seed_body(self._body(response), self.title)

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a good answer; raises for every error answer."""
        error = self.error_for(response)
        if error is not None:
            raise error
        body = read_json(response)
        if not isinstance(body, dict):
            raise ProviderError(
                f"{self.title} answered HTTP {response.status_code} without a JSON object; "
                "try again later.",
                status=response.status_code,
            )
        return body

    def error_for(
        self, response: httpx.Response, remote_id: str | None = None
    ) -> ProviderError | None:
        body = read_json(response)
        failed = isinstance(body, dict) and (
            body.get("success") is False or ("code" in body and "detail" in body)
        )
        if response.is_error or failed:
            return self._exception(response.status_code, body, response)
        return None

    def _exception(self, status: int, body: Any, response: httpx.Response | None) -> ProviderError:
        """The exception for an error body (``{success: false, error: {code, message}}``
        now, ``{code, detail}`` in the Zhishuyun era)."""
        body = body if isinstance(body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        code = _text(error.get("code")) or _text(body.get("code"))
        detail = self.scrub(_message(error) or _message(body) or f"HTTP {status}")
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
            trace_id = _text(body.get("trace_id"))
            trace = f" (trace_id {trace_id})" if trace_id else ""
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
    #: no upload endpoint of Zhishuyun's host is documented or used by a client of its
    #: own: local images are refused in one line before anything is logged or sent
    local_images: ClassVar[LocalImages] = "refuse"
    local_refs: ClassVar[LocalRefs] = "refuse"

    def auth_headers(self) -> dict[str, str]:
        return {}  # the token goes in the query, and never into a download URL

    def _request(self, path: str, body: Mapping[str, Any], accept: str) -> httpx.Request:
        # The token in the URL is the protocol; report such URLs via secrets.redact_url.
        params = {"token": self._token} if self._token else None
        url = self.base_url + path
        return httpx.Request("POST", url, params=params, json=body, headers={"accept": accept})

    def _imagine(self, body: dict[str, Any], mode: str | None) -> tuple[str, dict[str, Any]]:
        suffix = f"/{mode}" if mode in ("relax", "turbo") else ""
        return "/midjourney/imagine" + suffix, body


def _message(data: Mapping[str, Any]) -> str | None:
    for key in ("message", "detail"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    return None


def _text(value: Any) -> str | None:
    """A code or id from an error body, as text (numbers too), else None."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)[:200]
    return None


def _reason(error: Any) -> str | None:
    """Why a job failed: ``"message (code)"`` of an ``error`` object, or its text."""
    if isinstance(error, str):
        return error[:2000] or None
    if not isinstance(error, dict):
        return None
    reason, code = _message(error), _text(error.get("code"))
    if reason and code:
        return f"{reason[:2000]} ({code})"
    return reason[:2000] if reason else None


class LocalAdapter(AceDataAdapter):
    """Provider ``local``: the Ace protocol spoken to the embedded simulator."""

    name = "local"
    title = "The built-in simulator"
    default_base_url = ""
    poll_interval = 0.25
    min_poll_interval = 0.0

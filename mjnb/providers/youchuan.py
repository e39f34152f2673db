"""Youchuan 悠船 (``youchuan``): Midjourney's official partner API in China, ``/v1/tob/*``.

``POST /v1/tob/diffusion {text}`` answers the job object (its id is ``id``);
``GET /v1/tob/job/{id}`` reads it: an integer ``status`` and a ``comment`` code, and
``urls``, four **separate images** rather than one grid, with ``audits`` beside them
(a non-empty entry: that image failed moderation). Edits take the earlier job's
``jobId`` and an ``imageNo`` counted **from zero**. Errors have the HTTP status equal
to ``code`` and a body ``{code, message, reason}``. Headers ``x-youchuan-app`` and
``x-youchuan-secret`` carry the credentials.

Mapping choices:
- U1-U4 send nothing: they pick one of the four images (:meth:`YouchuanAdapter.local`);
  the selected image then offers vary, zoom, pan and upscale with the parent's
  ``jobId`` and its ``imageNo``.
- V1-V4 on a grid are ``/variation`` with ``type`` 1 (strong): Midjourney's V buttons
  vary strongly by default since V6 ("high variation mode"). ``vary subtle|strong`` on
  a selected or upscaled image are ``type`` 0 / 1.
- ``zoom 2x|1.5x`` are ``/outpaint`` with ``scale`` 2.0 / 1.5; ``pan`` is ``/pan`` with
  ``scale`` 1.5 (Midjourney's pan adds half the image). Youchuan has no Make Square,
  so ``square`` is not offered.
- A prompt that names its version offers only what the version's rules allow
  (:func:`mjnb.prompt.version_rules`): V8.1 has no pan, zoom or upscale on Youchuan
  (its guide: upscale is the prompt rerun with ``--hd --seed``), so a V8.1 image offers
  vary subtle/strong only. V8.1 prompts go as written: ``--v 8.1 --hd`` in ``text``.
- Upscales follow the model, like Midjourney's buttons: ``subtle``/``creative``
  (``type`` 0/1) from V6 on, ``2x``/``4x`` (``type`` 2/3, ``v5_2x``/``v5_4x``) on V5 and
  niji 5. An upscaled image offers vary, zoom and pan, never a second upscale.
- A job acted on with a prompt other than its parent's is a remix: vary and V become
  ``/remix`` (``mode`` 0 strong / 1 subtle), zoom and pan carry ``remixPrompt``.
- No progress is documented: queued reads 0, running 50 (or what the server sends).
  ``status`` 2 with no ``urls`` yet is still running.
- An image withheld by moderation is left out: the grid shows the others in order and
  a grey cell, and U/V number the images shown.
- ``--repeat``, ``--stealth`` and ``--public`` are refused before sending
  (:meth:`YouchuanAdapter.check`); ``{}`` permutations are expanded by mjnb (sweeps).
  Blend is sent as an image-only prompt; describe is not offered.
- A cancel API exists (error ``Cancel_Job_Not_Runnig``) but its path is not
  documented, so :meth:`cancel` is the default (None: mjnb keeps polling).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx

from ..errors import AuthError, PromptError, ProviderError, RateLimited, Rejected
from ..prompt import Prompt, parse_prompt
from . import youchuan_media as media
from .base import AdapterBase, Feature, Job, LocalImages, Snapshot, Status
from .common import (
    allowed_actions,
    blend_prompt,
    optional_id,
    progress_percent,
    read_json,
    retry_after,
    url_list,
    version_name,
    with_mode,
)
from .youchuan_codes import (
    CHINESE_COMMENTS,
    COMMENTS,
    CREDENTIALS,
    MAX_TEXT,
    REASONS,
    STATUSES,
)

#: label -> wire for a grid; ``{n}`` is filled with the image's 0-based ``imageNo``
GRID_WIRE: Mapping[str, str] = {"reroll": "reroll"}
IMAGE_WIRE: Mapping[str, str] = {
    "vary subtle": "variation {n} 0",
    "vary strong": "variation {n} 1",
    "zoom 2x": "outpaint {n} 2.0",
    "zoom 1.5x": "outpaint {n} 1.5",
    "pan down": "pan {n} 0",
    "pan right": "pan {n} 1",
    "pan up": "pan {n} 2",
    "pan left": "pan {n} 3",
}
UPSCALE_WIRE: Mapping[str, Mapping[str, str]] = {
    "6": {"upscale subtle": "upscale {n} 0", "upscale creative": "upscale {n} 1"},
    "5": {"upscale 2x": "upscale {n} 2", "upscale 4x": "upscale {n} 3"},
}
EDITOR_WIRE: Mapping[str, str] = {
    "vary region": "inpaint {n}",
    "zoom custom": "outpaint {n} custom",
}
PAN_SCALE = 1.5
UNSUPPORTED = ("repeat", "stealth", "public")
_PARAM = {
    "repeat": re.compile(r"(?:--|—)(?:repeat|r)(?!\S)"),
    "stealth": re.compile(r"(?:--|—)stealth(?!\S)"),
    "public": re.compile(r"(?:--|—)public(?!\S)"),
}


def family(prompt: Prompt | str | None) -> str:
    """``"5"`` for V5.x and niji 5 and older (Upscale 2x/4x), else ``"6"`` (Subtle/Creative)."""
    if isinstance(prompt, str):
        prompt = parse_prompt(prompt, strict=False, warn=False)
    version = (prompt.version if prompt is not None else None) or ""
    number = version.removeprefix("niji").strip()
    try:
        return "5" if number and float(number) < 6 else "6"
    except ValueError:
        return "6"


def grid_wire(image_nos: list[int]) -> dict[str, str]:
    """``{label: wire}`` of a grid showing the images ``image_nos`` (0-based, on Youchuan):
    U<k> and V<k> number the images shown; U picks the k-th locally."""
    wire = {f"U{k}": f"select {k - 1}" for k in range(1, len(image_nos) + 1)}
    wire.update({f"V{k}": f"variation {no} 1" for k, no in enumerate(image_nos, 1)})
    animate = {label: value.format(n=-1) for label, value in media.ANIMATE_WIRE.items()}
    return wire | dict(GRID_WIRE) | animate


def image_wire(
    image_no: int, model: str, *, upscaled: bool = False, version: str | None = None
) -> dict[str, str]:
    """``{label: wire}`` of one image: a selected one, or an upscaled one (no re-upscale).
    ``version`` (a version-table name) keeps only what its rules allow: V8.1 has no pan,
    zoom (outpaint) or upscale on Youchuan (its HD is ``--hd`` in the prompt)."""
    table = dict(IMAGE_WIRE) if upscaled else {**IMAGE_WIRE, **UPSCALE_WIRE[model]}
    table |= {**EDITOR_WIRE, **media.ANIMATE_WIRE}
    table = allowed_actions(table, version)
    return {label: wire.format(n=image_no) for label, wire in table.items()}


def job_state(data: Mapping[str, Any]) -> tuple[Status, str | None]:
    """The status the integer ``status`` and the ``comment`` say together, and why a
    failure failed. A success here may still lack its ``urls`` (see parse_poll)."""
    raw = data.get("status")
    number = int(raw) if isinstance(raw, (int, str)) and str(raw).strip().isdigit() else None
    by_number = STATUSES.get(number) if number is not None else None
    comment = str(data.get("comment") or "").strip()
    by_comment: tuple[Status, str | None] | None = COMMENTS.get(comment)
    if by_comment is None:
        by_comment = next(((s, why) for word, s, why in CHINESE_COMMENTS if word in comment), None)
    if by_comment and by_comment[0] in ("failed", "cancelled"):
        return by_comment
    if number == 4:
        return "failed", (
            "Youchuan's moderation rejected the job; change the prompt and submit again."
        )
    if by_number == "failed":
        said = f" ({comment})" if comment else ""
        return "failed", f"Youchuan reported the job failed{said}; submit it again."
    if "succeeded" in (by_number, by_comment and by_comment[0]):
        return "succeeded", None
    return by_number or (by_comment[0] if by_comment else "queued"), None


def _answer_error(response: httpx.Response, scrub: Callable[[str], str]) -> ProviderError | None:
    """The exception an error answer stands for (HTTP status equals ``code``), or None.

    ``scrub`` removes the credentials from Youchuan's own text (the adapter's).
    """
    body = read_json(response)
    envelope = body if isinstance(body, dict) else {}
    raw_code = envelope.get("code")
    code = raw_code if isinstance(raw_code, int) else response.status_code
    if not response.is_error and code in (0, 200):
        return None
    raw_reason = envelope.get("reason")
    reason = raw_reason if isinstance(raw_reason, str) else ""
    message = envelope.get("message")
    said = scrub(message[:500].strip()) if isinstance(message, str) else ""
    said = said or "no details"
    reason = scrub(reason[:100])
    status = response.status_code if response.is_error else code
    known = REASONS.get(reason)
    if known is not None:
        cls, template = known
        message = template.format(said=said)
    elif status == 401:
        cls, message = (
            AuthError,
            f"Youchuan refused the credentials (HTTP 401); check {CREDENTIALS}.",
        )
    elif status == 429:
        cls = RateLimited
        message = "Youchuan is limiting requests (HTTP 429); the job was not created. Retrying."
    elif status == 404:
        cls = ProviderError
        message = "Youchuan answered 404: the API path was not found; check base_url."
    elif 400 <= status < 500:
        cls = Rejected
        message = f"Youchuan refused the request ({reason or status}: {said}); check the prompt."
    else:
        cls = ProviderError
        message = f"Youchuan answered HTTP {status} ({reason or said}); try again later."
    if cls is RateLimited:
        return RateLimited(
            message, code=reason or None, status=status, retry_after=retry_after(response)
        )
    return cls(message, code=reason or None, status=status)


class YouchuanAdapter(AdapterBase):
    """Maps jobs onto Youchuan's open platform (``x-youchuan-app`` + ``x-youchuan-secret``)."""

    name = "youchuan"
    title = "Youchuan"
    default_base_url = "https://ali.youchuan.cn"
    poll_interval = 3.0
    min_poll_interval = 1.0
    features: ClassVar[frozenset[Feature]] = frozenset(
        {"video", "extend", "upscale video", "vary region", "remix", "zoom custom", "edit",
         "retexture"}
    )  # fmt: skip
    #: Youchuan documents no upload endpoint: every image goes as a public URL
    local_images: ClassVar[LocalImages] = "refuse"
    max_extensions = media.MAX_EXTENSIONS
    #: video-diffusion takes a grid's jobId + imageNo: no upscale job first
    animates_grids: ClassVar[bool] = True
    refusals: ClassVar[Mapping[str, str]] = media.REFUSALS

    def __init__(
        self, base_url: str | None = None, app_id: str | None = None, token: str | None = None
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._app_id = app_id
        self._token = token

    def auth_headers(self) -> dict[str, str]:
        headers = {"x-youchuan-app": self._app_id} if self._app_id else {}
        if self._token:
            headers["x-youchuan-secret"] = self._token
        return headers

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Request:
        headers = {"accept": "application/json", **self.auth_headers()}
        return httpx.Request(method, self.base_url + path, json=body, headers=headers)

    # -- before anything is sent ---------------------------------------------------------
    def check(self, prompt: Prompt) -> None:
        """Raise PromptError for parameters Youchuan does not take (see the module notes)."""
        for name in UNSUPPORTED:
            if name not in prompt.params:
                continue
            source = prompt.source or str(prompt)
            found = _PARAM[name].search(source)
            column = found.start() + 1 if found else None
            where = f" (at column {column})" if column else ""
            advice = {
                "repeat": "run the prompt several times, or use mj.sweep(...)",
                "stealth": "Youchuan decides visibility by your plan",
                "public": "Youchuan decides visibility by your plan",
            }[name]
            raise PromptError(
                f"Youchuan does not support --{name}{where}; remove it ({advice}).",
                column=column,
            )
        if len(str(prompt)) > MAX_TEXT:
            raise PromptError(
                f"Youchuan takes prompts of at most {MAX_TEXT} characters, got "
                f"{len(str(prompt))}; shorten it."
            )

    def local(self, job: Job) -> Snapshot | None:
        """U1-U4: the chosen one of the parent's images, finished at once (no request)."""
        parent = job.parent
        wire = parent.wire.get(job.label or "", "") if parent and job.kind == "action" else ""
        if parent is None or not wire.startswith("select "):
            return None
        shown = int(wire.split()[1])
        image_nos = list(parent.extra.get("image_nos") or range(len(parent.image_urls)))
        if shown >= len(parent.image_urls):
            raise Rejected(f"This Youchuan job has no image {job.label}; it shows fewer.")
        job_id = str(parent.extra.get("jobId") or parent.remote_id)
        image_no, model = int(image_nos[shown]), str(parent.extra.get("model", "6"))
        version = parent.extra.get("version")
        wire_of_selected = image_wire(image_no, model, version=version)
        if parent.extra.get("only_upscale"):  # an edit/retexture job: upscale alone
            wire_of_selected = {
                k: v for k, v in wire_of_selected.items() if k.startswith("upscale")
            }
        return Snapshot(
            "succeeded",
            100,
            remote_id=job_id,
            image_url=parent.image_urls[shown],
            wire=wire_of_selected,
            extra={**parent.extra, "kind": "selected", "imageNo": image_no, "image_nos": []},
        )

    # -- submit ----------------------------------------------------------------------------
    def submit(self, job: Job) -> httpx.Request:
        path, body = self._build(job)
        if job.callback_url:
            body["callback"] = job.callback_url
        return self._request("POST", path, body)

    def _build(self, job: Job) -> tuple[str, dict[str, Any]]:
        if job.kind == "imagine":
            return "/v1/tob/diffusion", {"text": with_mode(job.prompt, job)}
        if job.kind == "blend":
            return "/v1/tob/diffusion", {
                "text": with_mode(blend_prompt(job.images, job.dimensions), job)
            }
        if job.kind == "describe":
            raise Rejected("Youchuan's API offers no describe; use another provider for it.")
        if job.kind == "video":
            return media.animate_from_image(job)
        if job.kind in ("edit", "retexture"):
            return media.editor_job(job)
        parent = job.parent
        wire = parent.wire.get(job.label or "") if parent else None
        done = int(parent.extra.get("extensions", 0)) if parent else 0
        if (job.label or "").startswith("extend") and done >= media.MAX_EXTENSIONS:
            raise Rejected(media.extend_limit(done))
        if parent is None or wire is None or wire.startswith("select "):
            choices = ", ".join(parent.actions) if parent and parent.actions else "none"
            raise Rejected(
                f"Youchuan does not offer {job.label!r} on this task; "
                f"the actions offered are: {choices}."
            )
        job_id = str(parent.extra.get("jobId") or parent.remote_id or "")
        if not job_id:
            raise Rejected("The task acted on has no Youchuan job id; run it again.")
        built = media.act(job, parent, wire, job_id)
        if built is not None:
            return built
        endpoint, *args = wire.split()
        body: dict[str, Any] = {"jobId": job_id}
        if endpoint == "reroll":
            return "/v1/tob/reroll", body
        body["imageNo"] = int(args[0])
        remix = _remix(job, parent)
        if endpoint == "variation" and remix:
            mode = 1 if args[1] == "0" else 0  # remix mode: 0 strong, 1 subtle
            return "/v1/tob/remix", body | {"remixPrompt": remix, "mode": mode}
        if endpoint in ("variation", "upscale"):
            body["type"] = int(args[1])
        elif endpoint == "pan":
            body |= {"direction": int(args[1]), "scale": PAN_SCALE}
        elif endpoint == "outpaint" and args[1] == "custom":
            if job.zoom is None or not 1.0 <= job.zoom <= 2.0:
                raise Rejected(f"Custom zoom takes a factor of 1.0-2.0, got {job.zoom}.")
            body["scale"] = max(1.1, float(job.zoom))  # Youchuan's outpaint: 1.1-2.0
        elif endpoint == "outpaint":
            body["scale"] = float(args[1])
        if remix and endpoint in ("pan", "outpaint"):
            body["remixPrompt"] = remix
        return f"/v1/tob/{endpoint}", body

    def parse_submit(self, job: Job, response: httpx.Response) -> Snapshot:
        try:
            data = self._job(response)
        except Rejected as exc:
            if exc.status == 405 and (job.label or "").startswith("extend"):
                done = int(job.parent.extra.get("extensions", 0)) if job.parent else 0
                raise Rejected(
                    media.extend_limit(max(done, media.MAX_EXTENSIONS)),
                    code=exc.code,
                    status=405,
                ) from None
            raise
        job_id = optional_id(data.get("id"), "a job id", self.title)
        if not job_id:
            raise ProviderError(
                "Youchuan accepted the job but sent no job id; check your Youchuan job list "
                "before submitting again."
            )
        if job.kind == "action" and job.parent is not None:
            endpoint = job.parent.wire.get(job.label or "", "").split(" ")[0]
            kind = "upscaled" if endpoint == "upscale" else "grid"
            model = str(job.parent.extra.get("model", "6"))
            version = job.parent.extra.get("version")
        else:
            kind, model, version = "grid", family(job.parsed), version_name(job.parsed)
        extra: dict[str, Any] = {
            "jobId": job_id,
            "kind": kind,
            "model": model,
            "prompt": job.prompt,
        }
        endpoint = job.parent.wire.get(job.label or "", "").split(" ")[0] if job.parent else ""
        if job.kind == "video" or endpoint in ("video-diffusion", "extend-video", "video-upscale"):
            before = int(job.parent.extra.get("extensions", 0)) if job.parent else 0
            extra |= {"kind": "video", "extensions": before + (endpoint == "extend-video")}
            extra["upscaled"] = endpoint == "video-upscale"
            if endpoint == "extend-video" and job.parent is not None and not job.prompt.strip():
                extra["prompt"] = job.parent.extra.get("prompt", "")
        elif job.kind in ("edit", "retexture"):
            extra["only_upscale"] = True  # Youchuan: such jobs allow upscale alone
        if version:
            extra["version"] = version
        first = Snapshot("queued", remote_id=job_id, extra=extra)
        return self._read(first, data)

    # -- poll ------------------------------------------------------------------------------
    def poll(self, snapshot: Snapshot) -> httpx.Request:
        if not snapshot.remote_id:
            raise ProviderError("Cannot poll a Youchuan job that has no job id.")
        return self._request("GET", f"/v1/tob/job/{self.path_id(snapshot.remote_id)}")

    def parse_poll(self, snapshot: Snapshot, response: httpx.Response) -> Snapshot:
        return self._read(snapshot, self._job(response))

    def _read(self, snapshot: Snapshot, data: Mapping[str, Any]) -> Snapshot:
        status, why = job_state(data)
        extra, remote = dict(snapshot.extra), snapshot.remote_id
        sent = data.get("progress")
        progress = progress_percent(sent) if sent is not None else {"running": 50}.get(status, 0)
        if status in ("failed", "cancelled"):
            error = self.scrub(why or "Youchuan reported the job failed.")
            return Snapshot(status, progress, remote, error=error, extra=extra)
        if extra.get("kind") == "video":
            return self._clips(snapshot, data, status, progress)
        urls = list(url_list(data.get("urls"), "result urls", self.title))
        sent_audits = data.get("audits")
        audits = sent_audits if isinstance(sent_audits, list) else []
        shown = [(n, url) for n, url in enumerate(urls) if url and not _withheld(audits, n)]
        if status != "succeeded" or not urls:
            # a success whose urls are not filled in yet is read as still running
            waiting: Status = "running" if status == "succeeded" else status
            progress = max(progress, 95 if status == "succeeded" else 0, snapshot.progress)
            return Snapshot(waiting, progress, remote, extra=extra)
        if not shown:
            return Snapshot(
                "failed",
                progress,
                remote,
                error="Youchuan's image moderation withheld every image of this job; change "
                "the prompt and submit again.",
                extra=extra,
            )
        model = str(extra.get("model", "6"))
        if extra.get("kind") == "upscaled" or len(urls) == 1:
            extra.update(imageNo=shown[0][0], image_nos=[])
            upscaled = extra.get("kind") == "upscaled"
            wire = image_wire(0, model, upscaled=upscaled, version=extra.get("version"))
            return Snapshot("succeeded", 100, remote, image_url=shown[0][1], wire=wire, extra=extra)
        extra["image_nos"] = [n for n, _ in shown]
        grid = grid_wire(extra["image_nos"])
        if extra.get("only_upscale"):
            grid = {label: value for label, value in grid.items() if label[0] == "U"}
        return Snapshot(
            "succeeded",
            100,
            remote,
            image_urls=tuple(url for _, url in shown),
            wire=grid,
            extra=extra,
        )

    def _clips(
        self, snapshot: Snapshot, data: Mapping[str, Any], status: Status, progress: int
    ) -> Snapshot:
        """A video job: its ``urls`` are the clips (1, 2 or 4 MP4s)."""
        extra, remote = dict(snapshot.extra), snapshot.remote_id
        urls = url_list(media.video_urls(data), "video urls", self.title, limit=4)
        if status != "succeeded" or not urls:
            waiting: Status = "running" if status == "succeeded" else status
            progress = max(progress, 95 if status == "succeeded" else 0, snapshot.progress)
            return Snapshot(waiting, progress, remote, extra=extra)
        wire = dict(media.VIDEO_WIRE)
        if extra.get("upscaled"):
            wire.pop("upscale video")  # 1080p already: 403 高清任务不支持此操作
        if int(extra.get("extensions", 0)) >= media.MAX_EXTENSIONS:
            wire.pop("extend low"), wire.pop("extend high")
        return Snapshot("succeeded", 100, remote, video_urls=urls, wire=wire, extra=extra)

    def _job(self, response: httpx.Response) -> dict[str, Any]:
        """The job object of a good answer; raises for every error answer."""
        error = self.error_for(response)
        if error is not None:
            raise error
        body = read_json(response)
        if isinstance(body, dict) and isinstance(body.get("data"), dict) and "id" not in body:
            body = body["data"]  # some gateways wrap the job object
        if not isinstance(body, dict):
            raise ProviderError(
                f"Youchuan answered HTTP {response.status_code} without a job object; "
                "check base_url, then try again later.",
                status=response.status_code,
            )
        return body

    def error_for(
        self, response: httpx.Response, remote_id: str | None = None
    ) -> ProviderError | None:
        return _answer_error(response, self.scrub)


def _withheld(audits: list[Any], index: int) -> bool:
    return index < len(audits) and bool(audits[index])


def _remix(job: Job, parent: Snapshot) -> str | None:
    """The new prompt of an action acted on with a changed prompt (a remix), else None."""
    before = str(parent.extra.get("prompt") or "")
    prompt = job.prompt.strip()
    if job.remix and prompt:
        return prompt
    return prompt if prompt and before and prompt != before.strip() else None

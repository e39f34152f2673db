"""What a task needs to be sent after a restart: its local inputs, kept in the cache.

A job built from images the user has locally (imagine's image prompts, the paths after
``--sref``/``--cref``/``--oref``, describe, blend, animate's start and end frames, edit
and retexture) holds their bytes as ``data:`` URLs, in memory only. A kernel that dies
between logging such a task and sending it must never leave a resume that sends less
than was asked for, so:

- :func:`record` keeps each local input in the content-addressed image cache (the same
  bytes are stored once, whatever the number of tasks) and returns what the log keeps
  with the task (its ``inputs``): every image as its URL or its ``sha256:<hex>`` (as
  :func:`mjnb.inputs.image_ref` names local inputs), the cache file of each hash, and the
  job's options no other column holds (speed, blend shape, ``raw``, ``loop`` ...);
- :func:`restore` rebuilds the job from that right before the resumed send. An input
  no longer in the cache (pruned, damaged), or a URL whose credentials the log never
  keeps, ends the task with that reason, and nothing is sent. An edit's mask is the
  task's ``mask_path``, read back the same way.

Once the references are uploaded, the URLs sent are added (``sent``), so a task looked up
after a restart says what its job sent.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument
from ..inputs import MIME_TYPES, data_url_bytes, image_ref, sniff
from ..providers.base import Job

if TYPE_CHECKING:
    from ..images import ImageStore

__all__ = ["OWN_KINDS", "record", "restore", "sends_prompt", "sent_urls", "with_sent"]

#: the jobs that start from the user's own inputs (an action starts from its parent)
OWN_KINDS = ("imagine", "describe", "blend", "video", "edit", "retexture")
#: what each kind's ``images`` are, for the reason a resend is refused
_WHAT = {
    "imagine": "image prompt",
    "describe": "image to describe",
    "blend": "image to blend",
    "video": "start image",
    "edit": "image to edit",
    "retexture": "image to retexture",
}
#: the Job options kept (when they differ from the Job's defaults)
_OPTIONS = ("mode", "dimensions", "raw", "loop", "motion", "batch", "resolution")
_DEFAULTS = Job("imagine")


def sends_prompt(job: Job) -> bool:
    """Whether ``job``'s prompt goes to the provider as new text (imagine, edit,
    retexture, a remix), so its local references must be uploaded first; an action
    without a new prompt carries its parent's, already sent."""
    return job.kind in ("imagine", "edit", "retexture") or (job.kind == "action" and job.remix)


def record(job: Job, store: ImageStore) -> dict[str, Any] | None:
    """Keep ``job``'s local inputs in ``store``; what the log stores (None: an action,
    or an imagine with nothing of its own to keep)."""
    if job.kind not in OWN_KINDS:
        return None
    files: dict[str, str] = {}
    withheld = False

    def keep(image: str) -> str:
        nonlocal withheld
        if image[:5].lower() != "data:":
            ref = image_ref(image)  # a URL, its credentials redacted
            withheld = withheld or ref != image
            return ref
        path = store.save(data_url_bytes(image))  # checked when it was given
        digest = path.name.partition(".")[0]
        files[digest] = str(path)
        return f"sha256:{digest}"

    kept: dict[str, Any] = {"images": [keep(image) for image in job.images]}
    if job.end:
        kept["end"] = keep(job.end)
    if job.refs:
        # pairs, not a mapping: the log drops keys that look like credentials
        kept["refs"] = [[path, keep(image)] for path, image in job.refs]
    kept["files"] = files
    for name in _OPTIONS:
        value = getattr(job, name)
        if value != getattr(_DEFAULTS, name):
            kept[name] = value
    if withheld:
        kept["withheld"] = True
    if job.kind == "imagine" and set(kept) == {"images", "files"} and not job.images:
        return None  # its prompt says it all
    return kept


def with_sent(kept: Mapping[str, Any] | None, urls: Mapping[str, str]) -> dict[str, Any]:
    """``kept`` with the URLs the references were uploaded as (``[path, URL]`` pairs)."""
    return {**(kept or {}), "sent": [[path, url] for path, url in urls.items()]}


def sent_urls(kept: Mapping[str, Any] | None) -> dict[str, str]:
    """The URLs the references of a sent task went as (path -> URL), as logged."""
    return dict(_pairs((kept or {}).get("sent")))


def _pairs(value: Any) -> list[tuple[str, str]]:
    """``[[a, b], ...]`` from the log, every odd item left out."""
    pairs = value if isinstance(value, list) else []
    return [
        (p[0], p[1])
        for p in pairs
        if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
    ]


def restore(job: Job, kept: Mapping[str, Any], mask_path: Path | None) -> Job:
    """``job`` (rebuilt from its log row) with its inputs read back from the cache.

    Raises :class:`~mjnb.errors.InvalidArgument` (the task's reason; nothing is sent)
    when one is gone or damaged, or when an image URL had credentials the log dropped.
    """
    if kept.get("withheld"):
        raise InvalidArgument(
            "one of its image URLs carried credentials, which the log never keeps, so it "
            "cannot be sent again as given; nothing was sent: run it again."
        )
    found = kept.get("files")
    files: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    what = _WHAT.get(job.kind, "image")

    def load(ref: Any, name: str) -> str:
        if not isinstance(ref, str) or not ref:
            raise InvalidArgument(f"the log lost its {name}; nothing was sent: run it again.")
        if not ref.startswith("sha256:"):
            return ref  # a URL: the provider fetches it
        return _data_url(ref[7:], files, name)

    images = tuple(load(ref, what) for ref in _listed(kept.get("images")))
    end = load(kept["end"], "end frame") if kept.get("end") else None
    refs = tuple((path, load(ref, f"reference {path}")) for path, ref in _pairs(kept.get("refs")))
    mask = None
    if mask_path is not None:
        mask = base64.b64encode(_read(mask_path, "mask", None)).decode("ascii")
    options = {name: kept[name] for name in _OPTIONS if name in kept}
    return replace(job, images=images, end=end, refs=refs, mask=mask, **options)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _data_url(digest: str, files: Mapping[str, Any], name: str) -> str:
    path = files.get(digest)
    if not isinstance(path, str):
        raise InvalidArgument(
            f"the log names no cache file for its {name}; nothing was sent: run it again."
        )
    data = _read(Path(path), name, digest)
    kind = sniff(data)
    if kind is None:
        raise InvalidArgument(f"its {name} in the cache ({path}) is damaged; nothing was sent.")
    return f"data:{MIME_TYPES[kind]};base64,{base64.b64encode(data).decode('ascii')}"


def _read(path: Path, name: str, digest: str | None) -> bytes:
    """The bytes of a kept input; gone or changed is the task's reason."""
    try:
        data = path.read_bytes()
    except OSError:
        raise InvalidArgument(
            f"its {name} is no longer in the cache ({path}: pruned or moved?); nothing was "
            "sent: give the image again and run it again."
        ) from None
    if digest is not None and hashlib.sha256(data).hexdigest() != digest:
        raise InvalidArgument(
            f"its {name} in the cache ({path}) has changed since it was logged; nothing "
            "was sent: run it again."
        )
    return data

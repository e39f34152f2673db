"""``ImageUpload``: the panel's file picker for an image of your own.

    >>> upload = ImageUpload()
    >>> upload.take(Path("cat.png").read_bytes(), "cat.png")   # what a pick does
    >>> upload.prompt_and_options("a fox", mj)   # ("a fox", {"images": [b"..."]})
    >>> upload.role.value = "style reference"
    >>> upload.prompt_and_options("a fox", mj)   # ("a fox --sref ~/.mjnb/images/ab/ab....png", {})

The picked file is checked at once (:func:`mjnb.inputs.image_input`: type, bytes,
pixels) and kept in Python as bytes. As an image prompt it goes through imagine's
``images=``; as a style reference it is saved into the image cache (content-addressed:
the same file is stored once) and that file's path goes after ``--sref`` in the prompt.
Either way each adapter uploads it or sends it inline as its protocol allows, or refuses
it in one line before anything is sent. The ``FileUpload`` is emptied right after: its
value is synced widget state, and a saved notebook would otherwise keep the whole file.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import InvalidArgument, MJError

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["ROLES", "ImageUpload"]

#: what an uploaded image is for, and where it goes: imagine's ``images=``, or the
#: prompt's ``--sref`` (as the path of its copy in the image cache)
ROLES: Mapping[str, str] = {"image prompt": "images", "style reference": "sref"}


class ImageUpload(widgets.VBox):
    """A FileUpload, its role (image prompt or style reference), Clear, and a note."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.upload = widgets.FileUpload(
            accept=".png,.jpg,.jpeg,.webp,.gif",  # extensions: no "image/png" in saved state
            multiple=False,
            description="Image",
            layout=widgets.Layout(width="auto"),
        )
        self.upload.add_class("mjnb-panel-upload")
        self.role = widgets.Dropdown(
            options=list(ROLES), value="image prompt", layout=widgets.Layout(width="150px")
        )
        self.clear_button = widgets.Button(
            description="Clear", icon="times", layout=widgets.Layout(width="auto")
        )
        self.clear_button.on_click(lambda _b: self.clear())
        self.note = widgets.HTML()
        self._on_error = on_error
        self.data: bytes | None = None
        self.name = ""
        self.upload.observe(self._on_upload, "value")
        self.role.observe(lambda _change: self._show(), "value")  # the note names the role
        super().__init__(
            children=[
                widgets.HBox(
                    [self.upload, self.role, self.clear_button],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.note,
            ]
        )
        self._show()

    def _on_upload(self, change: Mapping[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        picked = files[0]
        try:
            self.take(bytes(picked["content"]), str(picked.get("name") or "the upload"))
        except MJError as exc:
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self.upload.value = ()  # no file in the widget state a notebook saves

    def take(self, data: bytes, name: str) -> None:
        """Check ``data`` (the picked file) and keep it; raises InvalidArgument (one line)."""
        from ..inputs import image_input

        try:
            image_input(data, name=name)
        except InvalidArgument:
            self.clear()
            raise
        self.data, self.name = data, name
        self._show()

    def clear(self) -> None:
        self.data, self.name = None, ""
        self._show()

    def _show(self) -> None:
        if self.data is None:
            self.note.value = (
                "<small style='color:#555'>no image: pick one to use it as an image prompt "
                "or a style reference</small>"
            )
            self.clear_button.disabled = True
            return
        self.clear_button.disabled = False
        self.note.value = (
            f"<small><b>{html.escape(self.name)}</b> ({len(self.data) / 1024:.0f} KB) goes "
            f"with the next prompt as its {html.escape(self.role.value)}</small>"
        )

    def prompt_and_options(
        self, text: str, client: Client, *, strict: bool = True
    ) -> tuple[str, dict[str, Any]]:
        """The prompt text and the ``imagine`` keyword arguments for the picked image
        (``text`` and ``{}`` with none).

        An image prompt goes as ``images=[bytes]``. A style reference is saved into the
        client's image cache and its path is added after ``--sref`` (next to any the
        prompt has), so it is sent the way the provider takes local references."""
        if self.data is None:
            return text, {}
        if ROLES[self.role.value] == "images":
            return text, {"images": [self.data]}
        from ..prompt import parse_prompt

        kept = client.session.images.save(self.data)
        prompt = parse_prompt(text, strict=strict, warn=False)
        refs = prompt.params.get("sref")
        listed = list(refs) if isinstance(refs, list) else []
        return str(prompt.with_params(sref=[*listed, prompt_path(kept)])), {}


def prompt_path(path: Path) -> str:
    """``path`` as one word of a prompt: as it is, else under ``~``; a space cannot be."""
    text = str(path)
    if not any(c.isspace() for c in text):
        return text
    home = Path.home()
    if path.is_relative_to(home):
        short = "~" + os.sep + str(path.relative_to(home))
        if not any(c.isspace() for c in short):
            return short
    raise InvalidArgument(
        f"The image cache is at {path.parent.parent}, whose path has a space, and a path "
        "in a prompt cannot: set MJNB_HOME to a folder without spaces."
    )

"""``ImageUpload``: the panel's file picker for an image of your own.

    >>> upload = ImageUpload()
    >>> upload.take(Path("cat.png").read_bytes(), "cat.png")   # what a pick does
    >>> upload.imagine_options()      # {"images": [b"..."]}: mj.imagine(..., **these)

The picked file is checked at once (:func:`mjnb.inputs.image_input`: type, bytes,
pixels), kept in Python as bytes and passed through the API's image arguments, where
each adapter uploads it or sends it inline as its protocol allows (or refuses it in one
line before anything is sent). The ``FileUpload`` is emptied right after: its value is
synced widget state, and a saved notebook would otherwise keep the whole file.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..errors import InvalidArgument, MJError

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["ROLES", "ImageUpload"]

#: what an uploaded image is for, and the ``imagine`` argument that takes it
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

    def imagine_options(self, client: Client | None = None) -> dict[str, Any]:
        """The ``imagine`` keyword arguments for the picked image ({} with none).

        A style reference needs an ``imagine(sref=...)`` that takes images; where the
        client has none, one line says so (nothing is sent)."""
        if self.data is None:
            return {}
        argument = ROLES[self.role.value]
        if client is not None and argument not in inspect.signature(client.imagine).parameters:
            raise InvalidArgument(
                f"This mjnb cannot send an uploaded {self.role.value} yet (imagine has no "
                f"{argument}= argument): give its URL in the prompt (--sref <url>) instead."
            )
        return {argument: [self.data]}

"""How the panel and its pieces tell the user something: muted, warning and error lines,
and the guard that turns a callback's exception into an error line.

ipywidgets logs (and the user never sees) whatever an observer or ``on_click`` handler
raises, so each callback of the panel and its pieces is wrapped with :func:`guarded`:
the error goes to the owner's ``show_error``, which puts it in the panel's status line.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = [
    "ERROR_STYLE",
    "MUTED_STYLE",
    "WARNING_STYLE",
    "ShowsErrors",
    "error_html",
    "guarded",
    "warnings_html",
]

ERROR_STYLE = "color:#c62828"
MUTED_STYLE = "color:#666"
WARNING_STYLE = "color:#ef6c00"


def error_html(message: str) -> str:
    return f"<span style='{ERROR_STYLE}'>{html.escape(message)}</span>"


def warnings_html(notes: list[str]) -> str:
    """Each PromptWarning as one line (the prompt is sent anyway)."""
    return "".join(
        f"<br><span style='{WARNING_STYLE}'>⚠ {html.escape(note)}</span>" for note in notes
    )


F = TypeVar("F", bound=Callable[..., Any])


class ShowsErrors(Protocol):
    """Whatever owns guarded callbacks: it shows an error to the user."""

    def show_error(self, exc: BaseException) -> None: ...


def guarded(method: F) -> F:
    """Run a callback; show anything it raises through ``self.show_error``."""

    @functools.wraps(method)
    def wrapper(self: ShowsErrors, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.show_error(exc)
            return None

    return wrapper  # type: ignore[return-value]

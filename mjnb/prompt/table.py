"""The version table as Markdown, for docs/prompts.md and ``%mj help``.

Rendered from :data:`~mjnb.prompt.params.VERSIONS`, so the docs cannot drift from what
the parser checks (a test compares docs/prompts.md with this output).
"""

from __future__ import annotations

from .model import format_number
from .params import CURRENT_VERSIONS, DEFAULT_VERSION, FEATURES, VERSIONS, Support

_MARK = {"yes": "✓", "no": "✗", "disputed": "⚠", "unknown": "?"}
_SHOWN = ("current", *FEATURES)


def _cell(support: Support) -> str:
    mark = _MARK[support.status]
    if support.values:
        values = " ".join(format_number(v) for v in support.values)
        if support.others == "unknown":
            values += " ?"
        return values if support.status == "yes" else f"{mark} {values}"
    if support.high is not None:
        return f"{mark} ≤{format_number(support.high)}" if support.status != "yes" else (
            f"≤{format_number(support.high)}"
        )  # fmt: skip
    return mark


def versions_markdown() -> str:
    """The per-version table (one row per version, one column per feature), a legend,
    and the disputed cells with their sources."""
    head = ["version", "released", "--ar", *(FEATURES[name][0] for name in FEATURES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in VERSIONS.values():
        label = row.label + (" (default)" if row.name == DEFAULT_VERSION else "")
        ar = "any" if row.ar is None else f"1:{row.ar}-{row.ar}:1"
        cells = [label, row.released or "", ar]
        for name in FEATURES:
            support = row.features[name]
            cells.append(_cell(support))
            if (support.why and support.status != "yes") or support.others == "disputed":
                notes.append(f"- {row.label} {FEATURES[name][0]}: {support.why or 'disputed'}")
        lines.append("| " + " | ".join(cells) + " |")
    current = ", ".join(VERSIONS[name].label for name in CURRENT_VERSIONS)
    legend = (
        "✓ takes it · ✗ refused before sending (PromptError) · ⚠ sources disagree: sent "
        "with a PromptWarning · ? no source says: sent · numbers: the values it takes. "
        f"A prompt with no version is refused only for what no current version ({current}) "
        "takes."
    )
    return (
        "\n".join(
            [*lines, "", legend, "", "Notes and sources (tags as in the reference):", "", *notes]
        )
        + "\n"
    )

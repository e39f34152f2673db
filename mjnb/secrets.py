"""What a secret is, defined once.

Three things need to know: the log (which keys it never stores), the engine's log
filter (which query values it masks) and every path that turns a provider's text into
an error, a widget or output (which values it scrubs). They all ask this module.

>>> scrub("bad token sk/Abc+123 (SK/ABC+123, sk%2FAbc%2B123)", ["sk/Abc+123"])
'bad token *** (***, ***)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "is_secret_key",
    "redact_text",
    "redact_url",
    "scrub",
    "scrub_mapping",
]

MASK = "***"

#: a mapping key or query parameter whose value is a credential
_SECRET_KEY = re.compile(
    r"token|secret|api[_-]?key|apikey|authori[sz]ation|passw(or)?d|credential|cookie"
    r"|^key$|^app[_-]?key$|^sign(ature)?$",
    re.IGNORECASE,
)
#: credential-shaped runs inside free text (``Bearer x``, ``token=x``, ``"api_key": "x"``)
_SECRET_TEXT = (
    re.compile(r"(?i)(bearer\s+)[^\s'\",;]+"),
    re.compile(
        r"(?i)\b(token|secret|api[_-]?key|apikey|app[_-]?key|authorization|password)"
        r"(\"?\s*[=:]\s*[\"']?)[^\s&'\",;}]+"
    ),
)
#: no real credential is shorter; masking every "t" would only garble a message
_MIN_SECRET = 4


def is_secret_key(name: str) -> bool:
    """True if a mapping key or query parameter called ``name`` holds a credential."""
    return bool(_SECRET_KEY.search(name))


def _spellings(secret: str) -> set[str]:
    """The forms a provider may echo a secret in: raw, URL-encoded, either case."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}
    return {case(form) for form in forms for case in (str, str.lower, str.upper)}


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret, in every spelling, replaced by ``***``.

    Matching ignores case, so a lowercased or upper-cased echo is masked too.
    """
    forms = sorted(
        {form for s in secrets if s and len(s) >= _MIN_SECRET for form in _spellings(s)},
        key=len,
        reverse=True,
    )
    if not forms or not text:
        return text
    pattern = re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE)
    return pattern.sub(MASK, text)


def redact_text(text: str) -> str:
    """``text`` with credential-shaped runs masked, for text whose secrets are unknown."""
    for pattern in _SECRET_TEXT:
        text = pattern.sub(lambda m: "".join(g or "" for g in m.groups()) + MASK, text)
    return text


def redact_url(url: Any) -> str:
    """``url`` without user info and with credential query values replaced by ``***``."""
    text = str(url)
    parts = urlsplit(text)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) for k, _ in pairs):
            masked = [(k, MASK if is_secret_key(k) else v) for k, v in pairs]
            query = urlencode(masked, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub_mapping(value: Any) -> Any:
    """A copy of ``value`` without any mapping key that names a credential."""
    if isinstance(value, Mapping):
        return {str(k): scrub_mapping(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub_mapping(v) for v in value]
    return value

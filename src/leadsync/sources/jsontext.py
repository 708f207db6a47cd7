"""JSON read and written on the request's path and the worker's: orjson's speed, the standard
library's answers.

orjson reads and writes JSON several times faster than :mod:`json` (a 400-byte webhook body:
read 2 µs against 7, written 0.7 µs against 9). It differs at the edges, so every call names
the standard library's way (``exact``), taken whenever orjson's answer could differ:

- an integer beyond 64 bits, which orjson reads as a float (a lossy id): text with a run of 19
  digits or more (``-9223372036854775809`` has 19) never goes to orjson, nor then does a
  mantissa at the limit of a double's precision;
- what orjson refuses — invalid UTF-8, a byte-order mark, an unpaired surrogate, ``NaN``,
  ``1e400``, nesting beyond its limit — is read again by ``exact``, which gives the value or
  the error message it always gave;
- writing, an integer beyond 64 bits, a string with an unpaired surrogate or a key that is not
  a string (orjson refuses them) is written by ``exact``.

What is written here always comes from strict JSON (no ``NaN`` or infinity, which orjson
would write as ``null``). A float may be spelled differently (``1e16`` for ``1e+16``): the
same value. Imports nothing of ours.

How deep JSON may nest is leadsync's own limit, :data:`MAX_DEPTH`, which every reader of
outside JSON checks with :func:`too_deep` once it has read the text (webhook bodies and
``leadsync ingest`` lines: :func:`leadsync.sources.base.decode_json`; canonical lines:
:func:`leadsync.sources.canonical.parse_line`; admin API bodies), and names in its message
(:data:`TOO_DEEP`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "TOO_DEEP", "dumps", "loads", "sorted_bytes", "too_deep"]

MAX_DEPTH = 128
"""The most levels of arrays and objects JSON from outside may nest (``[]`` is one level,
``[{"a": []}]`` three); vendors' bodies nest a handful. Without it, how deep a body could go
depended on which decoder read it and where: orjson reads 1024 levels, the standard library's
decoder and encoder as many as Python's recursion limit (1000) less the calls already on the
stack, so a body of about 1000 levels was read, then failed to be stored. This one holds
wherever it is read, with room for the envelope a stored body gets and for every function
that walks a value."""

TOO_DEEP = (
    f"nested deeper than {MAX_DEPTH} levels; allowed: at most {MAX_DEPTH} levels of arrays "
    "and objects"
)
"""What is wrong with JSON :func:`too_deep` (or a decoder's ``RecursionError``) refuses."""

_LONG_DIGITS_TEXT = re.compile(r"\d{19}", re.ASCII)
# Bytes: every digit made "0" and every other byte a blank, then a plain search for 19 zeros
# (two passes of C: a seventh of the regular expression's time on a webhook body).
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def loads(text: str | bytes, exact: Callable[[Any], Any]) -> Any:
    """The value of JSON ``text``, as ``exact(text)`` gives it (its errors too)."""
    if isinstance(text, bytes):
        plain = _LONG_RUN not in text.translate(_DIGITS_AS_ZEROS)
    else:
        plain = _LONG_DIGITS_TEXT.search(text) is None
    if plain:
        with suppress(orjson.JSONDecodeError):  # refused: ``exact`` says what it says
            return orjson.loads(text)
    return exact(text)


def dumps(value: Any, exact: Callable[[Any], str]) -> str:
    """Compact JSON text of ``value`` (UTF-8, nothing escaped that need not be), as
    ``exact(value)`` writes it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return exact(value)


def sorted_bytes(value: Any) -> bytes:
    """``value`` as JSON bytes with every object's keys sorted: the same bytes for the same
    value, whatever order its keys came in (for a hash of it, never read back)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits, an unpaired surrogate
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# A string's escaped backslashes and quotes, then its quotes: what is left between every other
# quote is outside the strings. Every byte but the brackets is dropped; the brackets, made
# parentheses, nest as the value does.
_ESCAPES = (b"\\\\", b'\\"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")
_RUNS = re.compile(rb"\(+|\)+")


def too_deep(text: str | bytes) -> bool:
    """Whether JSON ``text`` (read already: its strings end) nests deeper than
    :data:`MAX_DEPTH`. Costs two counts for text with fewer brackets than that (every body
    on the hot path); otherwise a few passes of C over the text and a step per run of
    brackets: never a recursion, whatever the depth."""
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= MAX_DEPTH:
            return False
        raw = text.encode("utf-8", "surrogatepass")
    elif text.count(b"[") + text.count(b"{") <= MAX_DEPTH:
        return False
    else:
        raw = text
    for escape in _ESCAPES:
        raw = raw.replace(escape, b"")
    outside = b"".join(raw.split(b'"')[0::2])
    # Without the innermost pairs (``()``, one level less), runs are long: few steps.
    brackets = outside.translate(_PARENTHESES, _NOT_BRACKETS).replace(b"()", b"")
    depth = 1
    for run in _RUNS.finditer(brackets):
        start, end = run.span()
        if brackets[start] == ord("("):
            depth += end - start
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= end - start
    return False

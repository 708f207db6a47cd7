"""The deduplication keys of vendors that send no event id: a hash of what identifies the
event (:func:`stable_key`), in the forms :mod:`leadsync.model` gives the inbox."""

from __future__ import annotations

import hashlib
from typing import Any

from leadsync.model import hashed_key
from leadsync.sources import jsontext

__all__ = ["stable_key"]

_WHOLE = object()


def stable_key(*parts: Any, order: Any = None, body: Any = _WHOLE, content: Any = _WHOLE) -> str:
    """A deduplication key for vendors that send no event id: a hash of what identifies the
    event (its name, the object's id, the vendor's timestamp). Same parts, same key.

    Parts are JSON values from the payload; their ``repr`` is unambiguous (strings are
    quoted, ``None`` is not ``"None"``). A dict part is hashed with its keys sorted.
    ``order`` is the object's id when the vendor numbers its objects in the order it makes
    them: the inbox keeps it after the event's time (:func:`leadsync.model.timed_key`).

    ``body``: the whole payload, for parts every event of the vendor carries. When one is
    missing (None) the payload does not say which event it is, and the key is the hash of the
    body itself: two bodies that lack them (a misplaced line, a broken body) never share a
    key — the second was counted a duplicate of the first and never read, never a dead
    letter — while a redelivery, sent again as it was, keeps its key.

    ``content``: what the event says (its object, without what changes from one delivery
    to the next), for vendors whose parts can be the same for two different events — times
    to the second: two comments on a call, or two edits of a prospect, in one second. Its
    hash follows the key's (:func:`leadsync.model.hashed_key`): a redelivery has the same
    content, so the same key; another event, another key.
    """
    if body is not _WHOLE and any(part is None for part in parts):
        parts, order, content = (parts[0], "whole body", body), None, _WHOLE
    said = None if content is _WHOLE else _content_hash(content)
    text = repr(parts)  # the usual case: names, ids and times
    for part in parts:
        if isinstance(part, dict | list | tuple):
            text = repr(tuple(_canonical(p) for p in parts))
            break
    return hashed_key(hashlib.sha256(text.encode()).hexdigest()[:40], order, said)


def _content_hash(content: Any) -> str:
    """16 hex digits of what an event says, the same whatever order its keys came in."""
    return hashlib.sha256(jsontext.sorted_bytes(content)).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    return value

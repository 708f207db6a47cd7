"""Hostile input made harmless before it reaches the database, a log or another request.

What a sender controls (the body, the headers, a captured line) must cost nobody else: one
request's bytes never fail another request's commit, a number never raises past the decoder,
and a secret never lands in a dead letter. This module holds the small pieces the adapters
(:mod:`leadsync.sources.base`), the intake and the inbox share for that:

**Text every database can hold.** PostgreSQL refuses NUL (U+0000) in text, and no driver can
encode an unpaired surrogate (U+D800 to U+DFFF) as UTF-8; both come out of JSON's ``\\u0000``
and ``\\ud800`` escapes. SQLite would take a NUL, PostgreSQL would not: so that both databases
behave the same, leadsync decides before the database does.

- Stored text (an inbox payload, a dead letter's raw text, an error) goes through
  :func:`representable`: those characters are written as their JSON escapes, so JSON stays
  the same JSON and nothing is lost.
- A dedupe key that holds one, or is longer than the store keeps, is replaced by a hash of
  it (:func:`storable_key`): the same key again gives the same hash.
- A canonical event with such a character in any text is refused with the field named
  (:func:`check_events`): the request is stored and acknowledged, its event becomes a dead
  letter, on SQLite and on PostgreSQL alike.

**Numbers JSON can carry.** :func:`finite_float` (a decoder's ``parse_float``) refuses floats
out of a double's range (``1e400``, which Python would read as infinity); Python itself
refuses integers of more than ``sys.get_int_max_str_digits()`` digits. :func:`number_problem`
says which number, where (line and column) and what is allowed.

**Headers sent more than once.** :class:`Headers` keeps every copy, so a signature check sees
a bad copy sent before a good one and refuses the request.

**Secrets in kept text.** :func:`redact_text` replaces secret fields after parsing the text and
writes it out again, so no spelling of a key (``"tok\\u0065n"``) slips through; a stored body
drops them (:func:`without_secret_fields`). A key names a secret field whatever its case and
the blanks around it (:func:`is_secret_field`): ``"Token "`` is the token.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from leadsync.errors import EventError
from leadsync.model import Event

__all__ = [
    "CREDENTIAL_FIELDS",
    "CREDENTIAL_HEADERS",
    "MAX_KEY_LENGTH",
    "REDACTED",
    "Headers",
    "NumberOutOfRange",
    "check_events",
    "finite_float",
    "is_secret_field",
    "may_hold_unstorable",
    "number_problem",
    "redact_text",
    "representable",
    "storable_key",
    "unstorable_at",
    "without_secret_fields",
]

# ------------------------------------------------------------------ text the database can hold

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

MAX_KEY_LENGTH = 200
"""Longest dedupe key the inbox keeps (``inbox.event_id``, see leadsync.store.schema)."""

ALLOWED_TEXT = (
    "allowed: text without NUL characters (U+0000) or unpaired surrogates (U+D800 to U+DFFF), "
    "which a database cannot store"
)


def unstorable_at(text: str) -> int | None:
    """The index of the first character no database column can hold (NUL, an unpaired
    surrogate), or None."""
    nul = text.find("\x00")
    if not text.isascii():
        try:
            text.encode("utf-8")  # several times faster than a regular expression
        except UnicodeEncodeError as exc:  # at the first unpaired surrogate
            return exc.start if nul < 0 else min(nul, exc.start)
    return None if nul < 0 else nul


def representable(text: str) -> str:
    """``text`` with NUL and unpaired surrogates written as JSON escapes (``\\u0000``,
    ``\\ud800``). In JSON text those characters can only stand inside a string, where the
    escape means the same character: the JSON is unchanged and nothing is lost."""
    if unstorable_at(text) is None:
        return text
    return _UNSTORABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def storable_key(key: str) -> str:
    """A dedupe key the inbox can keep: ``key`` itself, or a hash of it when it holds a
    character no database can store or is longer than :data:`MAX_KEY_LENGTH` (the same key
    always gives the same hash, so redeliveries are still recognized)."""
    if len(key) <= MAX_KEY_LENGTH and unstorable_at(key) is None:
        return key
    return "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def may_hold_unstorable(payload: str) -> bool:
    """False when no text decoded from ``payload`` (JSON or not) can hold NUL or an unpaired
    surrogate: it has neither, and no ``\\u`` escape that could make one. Cheap."""
    return "\\u" in payload or unstorable_at(payload) is not None


def check_events(events: Sequence[Event]) -> None:
    """EventError naming the field of the first text in ``events`` that no database can
    store (see the module docstring)."""
    for event in events:
        for path, value in _texts(event):
            index = unstorable_at(value)
            if index is not None:
                char = value[index]
                what = "a NUL character" if char == "\x00" else "an unpaired surrogate"
                raise EventError(
                    f'field "{representable(path)}": holds {what} (\\u{ord(char):04x}) at '
                    f"character {index + 1}; {ALLOWED_TEXT}"
                )


def _texts(event: Event) -> Iterator[tuple[str, str]]:
    """Every text of a canonical event, with its canonical field path."""
    for name in ("id", "external_id", "email", "domain", "changed_at"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            yield name, value
    for key, value in event.properties.items():
        yield "properties", key
        if isinstance(value, str):
            yield f"properties.{key}", value
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    yield f"properties.{key}[{index}]", item
    if event.owner is not None:
        for name in ("id", "email", "name"):
            value = getattr(event.owner, name)
            if isinstance(value, str):
                yield f"owner.{name}", value
    for index, ref in enumerate(event.associations):
        for name in ("external_id", "email", "domain"):
            value = getattr(ref, name)
            if isinstance(value, str):
                yield f"associations[{index}].{name}", value
    for name in ("aliases", "merged"):
        for index, other in enumerate(getattr(event, name)):
            yield f"{name}[{index}]", other


# ------------------------------------------------------------------ numbers


class NumberOutOfRange(ValueError):
    """A JSON number Python would read as infinity."""


def finite_float(text: str) -> float:
    """``parse_float`` for a JSON decoder: ``1e400`` is refused, not read as infinity."""
    value = float(text)
    if math.isinf(value):
        raise NumberOutOfRange(text)
    return value


_STRING_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_NUMBER_START = re.compile(r'["\-0-9]')


def number_problem(text: str) -> tuple[str, str] | None:
    """Which number of a JSON text cannot be read, as ``(what, place)``: ``what`` says which
    number and what is allowed, ``place`` is ``line L, column C``. None when every number
    reads. Call it after the decoder refused a number: the text before it is valid JSON."""
    limit = sys.get_int_max_str_digits()
    position = 0
    while True:
        found = _NUMBER_START.search(text, position)
        if found is None:
            return None
        start = found.start()
        if text[start] == '"':
            rest = _STRING_REST.match(text, start + 1)
            if rest is None:
                return None
            position = rest.end()
            continue
        number = _NUMBER.match(text, start)
        if number is None:
            position = start + 1
            continue
        token = number.group()
        position = number.end()
        shown = token if len(token) <= 24 else token[:20] + "..."
        if any(c in token for c in ".eE"):
            if math.isinf(float(token)):
                return (
                    f"the number {shown} is out of range; allowed: numbers of magnitude at "
                    "most 1.8e308 (a 64-bit float)",
                    _place(text, start),
                )
            continue
        digits = len(token.lstrip("-"))
        if limit and digits > limit:
            return (
                f"the number {shown} has {digits} digits; allowed: integers of at most "
                f"{limit} digits",
                _place(text, start),
            )


def _place(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return f"line {line}, column {column}"


# ------------------------------------------------------------------ headers


class Headers(Mapping[str, str]):
    """Request headers by lowercase name, keeping every copy of a header sent more than once
    (HTTP allows it; a signature check must not pick one copy silently). ``headers[name]``
    is the first copy; :meth:`getlist` gives them all; :meth:`conflicting` names the headers
    whose copies differ."""

    __slots__ = ("_all", "_first")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        first: dict[str, str] = {}
        every: dict[str, list[str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in first:
                every.setdefault(key, [first[key]]).append(value)
            else:
                first[key] = value
        self._first = first
        self._all = every

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """From ASGI's ``scope["headers"]`` (names and values as bytes, Latin-1)."""
        pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
        first = dict(pairs)
        if len(first) < len(pairs):  # a header sent more than once: every copy kept
            return cls(pairs)
        headers = cls.__new__(cls)
        headers._first, headers._all = first, {}
        return headers

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        # Mapping's get goes through __getitem__ and a KeyError for every header not sent:
        # this runs a few times per webhook request.
        return self._first.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, name: str) -> list[str]:
        """Every copy of header ``name`` (any case), in the order received."""
        key = name.lower()
        if key in self._all:
            return list(self._all[key])
        return [self._first[key]] if key in self._first else []

    def conflicting(self, names: Iterable[str] | None = None) -> list[str]:
        """The headers (of ``names``, else all) sent more than once with different values."""
        if not self._all:  # the usual request: no header sent twice
            return []
        wanted = self._all if names is None else [n.lower() for n in names]
        return [n for n in wanted if n in self._all and len(set(self._all[n])) > 1]

    def __repr__(self) -> str:
        return f"Headers({sorted(self._first)!r})"  # names only: values may be credentials


# ------------------------------------------------------------------ secrets in kept text

REDACTED = "[redacted]"
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
"""Headers whose value is a credential (Pipedrive's HTTP Basic password): never kept."""
CREDENTIAL_FIELDS = frozenset(
    {
        "password", "passwd", "secret", "client_secret", "api_key", "apikey", "access_token",
        "refresh_token", "private_key",
    }
)  # fmt: skip
"""Body keys that name a credential in any tool's body: redacted in a dead letter beside the
vendor's own secret fields (no CRM record carries one; a captured line or a generic body
might)."""
_WRAPPERS = frozenset({"headers", "body"})
_MAX_DEPTH = 64  # levels of a decoded value walked for secrets (hostile input is bounded)

_LENIENT = json.JSONDecoder(strict=False)
_MAX_NESTING = 8


def redact_text(text: str, fields: Collection[str] = ()) -> str:
    """A body or captured line as kept with a dead letter: the value of every top-level
    ``fields`` key of the body (Aircall's ``token``) and of credential headers of an ingest
    envelope ``{"headers", "body"}`` is ``"[redacted]"``.

    The text is parsed and, when something was redacted, written out again (compact JSON):
    keys are compared after their escapes are read, so ``"tok\\u0065n"`` is the token; a
    string ``body`` (a raw body in an envelope) is redacted the same way. Text that is not
    JSON is read string by string (each string's escapes decoded): a value after a key that
    names a secret field is redacted, through to the end of the text when it never ends.
    Unchanged text is returned as given. Keys naming a credential (:data:`CREDENTIAL_FIELDS`)
    are secret fields of every vendor."""
    return _redact(text, frozenset(fields) | CREDENTIAL_FIELDS, 0)


def _redact(text: str, fields: frozenset[str], depth: int) -> str:
    if depth > _MAX_NESTING:
        return text
    try:
        data = _LENIENT.decode(text)
    except (ValueError, RecursionError):
        return _redact_strings(text, fields, depth)
    if not _redact_data(data, fields, depth):
        return text
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # pragma: no cover - it was just decoded
        return _redact_strings(text, fields, depth)


def _redact_data(data: Any, fields: frozenset[str], depth: int, level: int = 0) -> bool:
    """Redact in place, at any depth: a secret field's value wherever its key is, a
    credential header in any ``headers`` object, a ``body`` that is JSON text redacted as
    such (a captured line's envelope, with keys of its own beside them or not; a list of
    bodies on one line). True when something changed."""
    if level > _MAX_DEPTH:
        return False
    changed = False
    if isinstance(data, list):
        for item in data:
            changed = _redact_data(item, fields, depth, level + 1) or changed
        return changed
    if not isinstance(data, dict):
        return False
    for key, value in data.items():
        name = key.strip().casefold() if isinstance(key, str) else ""
        if name and is_secret_field(name, fields):
            if value != REDACTED:
                data[key] = REDACTED
                changed = True
        elif name == "headers" and isinstance(value, dict):
            for header in value:
                credential = (
                    isinstance(header, str) and header.strip().lower() in CREDENTIAL_HEADERS
                )
                if credential and value[header] != REDACTED:
                    value[header] = REDACTED
                    changed = True
        elif name == "body" and isinstance(value, str):
            kept = _redact(value, fields, depth + 1)
            if kept != value:
                data[key] = kept
                changed = True
        elif isinstance(value, dict | list):
            changed = _redact_data(value, fields, depth, level + 1) or changed
    return changed


def is_secret_field(key: str, fields: Collection[str]) -> bool:
    """Whether body key ``key`` names one of the (lowercase) secret ``fields``, whatever its
    case and surrounding blanks: ``"Token "`` holds the token as surely as ``"token"``."""
    return key in fields or key.strip().casefold() in fields


def without_secret_fields(body: Any, fields: Collection[str]) -> Any:
    """``body`` as it may be stored: without the keys that name a secret field
    (:func:`is_secret_field`) — a vendor's body at its top level; a list of bodies, or a
    body wrapped in a capture's ``headers``/``body`` (with keys of its own: not read as an
    envelope), at any depth. Anything else is returned as given."""
    if not fields:
        return body
    if isinstance(body, dict):
        try:  # the keys as is_secret_field reads them (a decoded body's are strings)
            read = {key.strip().casefold(): key for key in body}
        except AttributeError:  # a key that is no string: the general walk
            read = None
        if read is not None and read.keys().isdisjoint(_WRAPPERS):
            secret = {read[name] for name in read.keys() & fields}
            if len(read) < len(body):  # two keys read alike ("Token", "token ")
                secret = {key for key in body if is_secret_field(key, fields)}
            if not secret:
                return dict(body)
            return {key: value for key, value in body.items() if key not in secret}
    return _without(body, fields, 0) if isinstance(body, dict | list) else body


def _without(value: Any, fields: Collection[str], level: int) -> Any:
    if level > _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            k: _without(v, fields, level + 1)
            for k, v in value.items()
            if not (isinstance(k, str) and is_secret_field(k, fields))
        }
    if isinstance(value, list):
        return [_without(v, fields, level + 1) for v in value]
    return value


_SPACE = re.compile(r"\s*")
_INCOMPLETE_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?$")
_BARE_VALUE = re.compile(r"[^\s,}\]]*")


def _redact_strings(text: str, fields: frozenset[str], depth: int) -> str:
    """Text that is not JSON, read string by string: see :func:`redact_text`."""
    wanted = fields | CREDENTIAL_HEADERS
    out: list[str] = []
    kept_to = 0
    position = 0
    while True:
        start = text.find('"', position)
        if start < 0:
            break
        rest = _STRING_REST.match(text, start + 1)
        if rest is None:  # a string that never ends (text cut short): the rest is in it
            value = _decode_string(_INCOMPLETE_ESCAPE.sub("", text[start:]) + '"')
            if value is not None and '"' in value:
                kept = _redact(value, fields, depth + 1)
                if kept != value:
                    out.append(text[kept_to:start])
                    out.append(json.dumps(kept, ensure_ascii=False)[:-1])
                    kept_to = len(text)
            break
        end = rest.end()
        value = _decode_string(text[start:end])
        after = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        if value is not None and after < len(text) and text[after] == ":":
            if is_secret_field(value, wanted):
                begin = _SPACE.match(text, after + 1).end()  # type: ignore[union-attr]
                out.append(text[kept_to:begin])
                out.append(json.dumps(REDACTED))
                if begin < len(text) and text[begin] == '"':
                    closing = _STRING_REST.match(text, begin + 1)
                    kept_to = len(text) if closing is None else closing.end()
                else:
                    kept_to = _BARE_VALUE.match(text, begin).end()  # type: ignore[union-attr]
                position = kept_to
                if kept_to >= len(text):
                    break
                continue
        elif value is not None and '"' in value:  # text inside a string (an escaped body)
            kept = _redact(value, fields, depth + 1)
            if kept != value:
                out.append(text[kept_to:start])
                out.append(json.dumps(kept, ensure_ascii=False))
                kept_to = end
        position = end
    out.append(text[kept_to:])
    return _redact_keys_anywhere("".join(out), wanted)


_SHORT_KEY = re.compile(r'"((?:[^"\\\n]|\\.){1,64})"\s*:\s*')


def _redact_keys_anywhere(text: str, wanted: frozenset[str]) -> str:
    """Second pass over text that is not JSON: a stray quote can put the strings out of
    step, so a secret key is looked for at every quote, whatever came before."""
    out: list[str] = []
    kept_to = 0
    position = 0
    while True:
        start = text.find('"', position)
        if start < 0:
            break
        key = _SHORT_KEY.match(text, start)
        name = None if key is None else _decode_string(f'"{key.group(1)}"')
        if key is None or name is None or not is_secret_field(name, wanted):
            position = start + 1
            continue
        begin = key.end()
        out.append(text[kept_to:begin])
        out.append(json.dumps(REDACTED))
        if text.startswith(json.dumps(REDACTED), begin):
            kept_to = begin + len(json.dumps(REDACTED))
        elif begin < len(text) and text[begin] == '"':
            closing = _STRING_REST.match(text, begin + 1)
            kept_to = len(text) if closing is None else closing.end()
        else:
            kept_to = _BARE_VALUE.match(text, begin).end()  # type: ignore[union-attr]
        position = max(kept_to, start + 1)
    out.append(text[kept_to:])
    return "".join(out)


def _decode_string(literal: str) -> str | None:
    try:
        value = _LENIENT.decode(literal)
    except ValueError:
        return None
    return value if isinstance(value, str) else None

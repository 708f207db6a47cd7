"""Pydantic's errors as the messages people read: ``FILE:LINE: key.path: what; allowed: ...``.

Every problem of a document is collected and reported at once, in document order, as one
:class:`~leadsync.errors.ConfigError`. Messages of our own checks (error types ``OWN_ERROR``
and ``OWN_PROBLEMS``) are shown as written; pydantic's are reworded here, once, with the
allowed values read from the schema (an enum's members, a model's keys).
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Iterator
from itertools import chain
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from leadsync.errors import ConfigError
from leadsync.settings.base import (
    OWN_ERROR,
    OWN_PROBLEMS,
    Bounds,
    KeyPath,
    PathPart,
    Written,
    format_path,
    key_text,
    listing,
    show,
)
from leadsync.settings.workspace import CRM_TAG, LIST_TAG

__all__ = ["KeyLines", "Place", "PlacedLater", "messages", "validate_as"]

M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------- error translation


def unwrap_annotation(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that says what is expected."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def annotation_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The declared type a pydantic error location points at (None when it cannot be told)."""
    annotation: Any = root
    parts = list(loc)
    index = 0
    while index < len(parts):
        part = parts[index]
        annotation = unwrap_annotation(annotation)
        origin = get_origin(annotation)
        if part in (LIST_TAG, CRM_TAG):
            # A tagged union (``owners``): the member the tag names.
            annotation = next(
                (a for a in get_args(annotation) if Tag(str(part)) in get_args(a)[1:]), None
            )
            if annotation is None:
                return None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif origin is Union or origin is types.UnionType:
            # One of several models (``vendor``: the options of each kind): one with that key.
            annotation = next(
                (
                    member.model_fields[str(part)].annotation
                    for member in get_args(annotation)
                    if isinstance(member, type)
                    and issubclass(member, BaseModel)
                    and str(part) in member.model_fields
                ),
                None,
            )
            if annotation is None:
                return None
        elif origin in (tuple, list):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            key_type, value_type = get_args(annotation)
            is_key = index + 1 < len(parts) and parts[index + 1] == "[key]"
            annotation = key_type if is_key else value_type
            index += 1 if is_key else 0
        else:
            return None
        index += 1
    return unwrap_annotation(annotation)


def _resolve(loc: tuple[int | str, ...], raw: Any) -> KeyPath:
    """A pydantic location as a key path into the document (list index vs mapping key)."""
    path: list[PathPart] = []
    node = raw
    for part in loc:
        if part == "[key]" or part in (LIST_TAG, CRM_TAG):
            continue  # the problem is the key itself; its line is the key's line
        if isinstance(node, list | tuple) and isinstance(part, int):
            path.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(node, dict):
            # pydantic reports a `true` key as 1, a `null` key as 'None' and a key YAML read
            # as a date by its repr: prefer an exact match, then equality, then the same text.
            key = next(
                chain(
                    (k for k in node if k == part and type(k) is type(part)),
                    (k for k in node if k == part),
                    (k for k in node if str(k) == str(part)),
                    (k for k in node if key_text(k) == str(part)),
                    (k for k in node if repr(k) == str(part)),
                ),
                part,
            )
            path.append(key_text(key))
            node = node.get(key)
        else:
            path.append(str(part))
            node = None
    return tuple(path)


_TYPE_MESSAGES = {
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}

_BOUND_MESSAGES = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be more than"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be less than"),
}


def _number(value: Any) -> str:
    """A bound as people write it: ``0`` for 0.0 (a bound of a float field is a float)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return show(value)


def _allowed_of(expected: Any) -> str:
    """``; allowed: ...`` for a required key whose values can be listed (an enum, a
    literal), else nothing."""
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        return f"; allowed: {listing(m.value for m in expected)}"
    if get_origin(expected) is Literal:
        return f"; allowed: {listing(get_args(expected))}"
    return ""


# A number as YAML and JSON both read it unquoted (YAML 1.1 reads ``1e3`` as text).
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


_YES_NO = dict.fromkeys(("yes", "y", "on"), "true") | dict.fromkeys(("no", "n", "off"), "false")


def _given(value: Any) -> str:
    """What was given, said so that text that reads as a number or true/false is seen to be
    text: quoted, it is no number (YAML's ``'3'``, JSON's ``"3"``)."""
    shown = show(value)
    if not isinstance(value, str):
        return shown
    text = value.strip()
    if text.lower() in ("true", "false"):
        return f"{shown} (text: write {text.lower()} without quotes)"
    if text.lower() in _YES_NO:  # YAML 1.1's words for them: text here, as in YAML 1.2
        return f"{shown} (write {_YES_NO[text.lower()]})"
    if _DECIMAL.fullmatch(text):
        return f"{shown} (text: write {text} without quotes)"
    return shown


def _unquoted(value: Any) -> str:
    """A scalar as a list's one item would be written (text as it is, quoted only when it
    would read as something else)."""
    if isinstance(value, str):
        text = value.strip()
        return repr(text) if _DECIMAL.fullmatch(text) or not text else text
    return show(value)


_NUMBER_KINDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a number",
}


def _field_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The model field a pydantic error location ends at (one of several models' too: the
    ``vendor`` options of each kind); None when it ends elsewhere (a list's item)."""
    if not loc or not isinstance(loc[-1], str):
        return None
    parent = annotation_at(root, loc[:-1])
    members = get_args(parent) if get_origin(parent) in (Union, types.UnionType) else (parent,)
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel):
            field = member.model_fields.get(loc[-1])
            if field is not None:
                return field
    return None


def _allowed_number(kind: str, root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """``; allowed: a whole number from 2 to 10000`` where a number was expected, its bounds
    read from the field; nothing for another type."""
    number = _NUMBER_KINDS.get(kind)
    field = _field_at(root, loc)
    if number is None or field is None:
        return ""
    return _allowed_bounds(number, field)


def _allowed_in_bounds(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """``; allowed: a number more than 0, at most 100`` for a number out of its field's
    bounds (a whole number when the field takes only those)."""
    field = _field_at(root, loc)
    if field is None:
        return ""
    types = get_args(field.annotation) or (field.annotation,)
    whole = int in types and float not in types
    return _allowed_bounds("a whole number" if whole else "a number", field)


def _allowed_bounds(number: str, field: FieldInfo) -> str:
    bounds = {key: _number(bound) for key, bound in Bounds.of_field(field).given.items()}
    if "ge" in bounds and "le" in bounds:
        return f"; allowed: {number} from {bounds['ge']} to {bounds['le']}"
    words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
    said = ", ".join(f"{words[key]} {bound}" for key, bound in bounds.items())
    return f"; allowed: {number}{' ' + said if said else ''}"


def messages(error: ErrorDetails, root: type[BaseModel], raw: Any) -> Iterator[tuple[KeyPath, str]]:
    """One pydantic error as (key path, human message) pairs."""
    loc = error["loc"]
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    path = _resolve(loc, raw)
    if kind == OWN_PROBLEMS:
        for suffix, message in ctx["problems"]:
            yield (*path, *suffix), message
        return
    if kind == OWN_ERROR:
        yield path, str(ctx["message"])
    elif kind == "missing":
        yield path, "required" + _allowed_of(annotation_at(root, loc))
    elif kind == "extra_forbidden":
        model = annotation_at(root, loc[:-1])
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        allowed = listing(model.model_fields) if is_model else "?"
        yield path, f"unknown key; allowed: {allowed}"
    elif kind in ("enum", "literal_error"):
        expected = annotation_at(root, loc)
        if isinstance(expected, type) and issubclass(expected, enum.Enum):
            allowed = listing(m.value for m in expected)
        else:
            allowed = str(ctx.get("expected", "?"))
        yield path, f"{show(value)} is not allowed; allowed: {allowed}"
    elif kind in ("list_type", "tuple_type"):  # unquoting would not make a list
        yield path, f"{_TYPE_MESSAGES[kind]}; got {show(value)} (write it as [{_unquoted(value)}])"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        yield path, f"{_TYPE_MESSAGES[kind]}; got {show(value)} (write `key: value` lines under it)"
    elif kind in _TYPE_MESSAGES:
        yield path, f"{_TYPE_MESSAGES[kind]}; got {_given(value)}{_allowed_number(kind, root, loc)}"
    elif kind in _BOUND_MESSAGES:
        key, words = _BOUND_MESSAGES[kind]
        allowed = _allowed_in_bounds(root, loc)
        yield path, f"{words} {_number(ctx.get(key))}; got {show(value)}{allowed}"
    elif kind in ("string_too_short", "too_short") and isinstance(value, str):
        yield path, "must not be empty"
    elif kind in ("string_too_long", "too_long") and isinstance(value, str):
        most = ctx.get("max_length")
        yield path, f"has {len(value.strip())} characters; allowed: at most {most}"
    elif kind == "too_short":
        least = ctx.get("min_length")
        count = ctx.get("actual_length")
        yield path, f"has {count} item{'' if count == 1 else 's'}; allowed: at least {least}"
    else:  # a kind we did not foresee: pydantic's own words, which carry no URL here
        message = error["msg"]
        yield path, message[:1].lower() + message[1:]


class KeyLines(dict[KeyPath, int]):
    """The line of each key path of a YAML document, and the text of the plain scalars YAML
    read as something else than text (``NO`` as false, ``0101`` as 65): ``written`` of
    values, ``written_keys`` of mapping keys, by key path."""

    def __init__(self, lines: dict[KeyPath, int]) -> None:
        super().__init__(lines)
        self.written: dict[KeyPath, str] = {}
        self.written_keys: dict[KeyPath, str] = {}

    def read_as(self, path: KeyPath, value: Any, is_key: bool) -> str:
        """`` (YAML reads NO as false; quote it: "NO")`` when the value at ``path`` (or its
        key) is not what was written there; else nothing."""
        written = (self.written_keys if is_key else self.written).get(path)
        if written is None or not written.strip() or isinstance(value, str):
            return ""
        if not (value is None or isinstance(value, bool | int | float)):
            return ""
        shown = show(value)
        if written.lower() == shown.lower():
            return ""
        what = shown if value is None or isinstance(value, bool) else f"the number {shown}"
        quoted = '"' + written.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f" (YAML reads {written} as {what}; quote it: {quoted})"


# Problems where the value YAML read is beside the point (the key, a missing key).
_NOT_ABOUT_THE_VALUE = frozenset({"missing", "extra_forbidden", OWN_PROBLEMS})
_NO_VALUE = object()


class Place:
    """Where a document came from, and the line of each key path (for YAML).

    What is validated may be more than the document: proposed settings are checked as part
    of the whole workspace. ``moved`` maps the validated part back to the document (problems
    below ``moved[0]`` are shown at ``moved[1]`` + the rest, and have lines; others are shown
    as they are, without one). ``unwritten`` is said of a problem at a key the document does
    not write (it came from the settings the document amends); ``note`` of every problem.
    """

    def __init__(
        self,
        source: str,
        lines: dict[KeyPath, int] | None,
        key_prefix: str = "",
        moved: tuple[KeyPath, KeyPath] = ((), ()),
        unwritten: str | None = None,
        note: str = "",
    ) -> None:
        self.source = source
        self.lines = lines
        self.key_prefix = key_prefix
        self.moved = moved
        self.unwritten = unwritten
        self.note = note

    def line_of(self, path: KeyPath) -> int | None:
        if self.lines is None:
            return None
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def problem(
        self, path: KeyPath, message: str, value: Any = _NO_VALUE, is_key: bool = False
    ) -> tuple[int, str]:
        """The problem ``message`` at ``path`` as ``(line, text)``; ``value`` is what was
        read there (a key when ``is_key``), to say when YAML read it as no text."""
        validated, document = self.moved
        line: int | None = None
        if path[: len(validated)] == validated:
            path = (*document, *path[len(validated) :])
            line = self.line_of(path)
            if isinstance(self.lines, KeyLines) and value is not _NO_VALUE:
                message += self.lines.read_as(path, value, is_key)
            written = self.lines is None or path in self.lines or path[:-1] in self.lines
            if self.unwritten and not written:
                message = f"{message} ({self.unwritten})"
        key = format_path(path)
        if self.key_prefix:
            key = self.key_prefix + (("" if key.startswith("[") else ".") + key if key else "")
        where = self.source if line is None else f"{self.source}:{line}"
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        return (line or 0, text + self.note)


class PlacedLater(ConfigError):
    """Problems of a document found where its lines are not known — checked against the
    workspace (owners pulled from HubSpot) once the document was read — by key path,
    shown at ``place`` until :meth:`at` places them in the document they came from."""

    def __init__(self, found: list[tuple[KeyPath, str]], place: Place) -> None:
        self.found = found
        super().__init__([place.problem(path, message)[1] for path, message in found])

    def at(self, place: Place) -> ConfigError:
        """The problems as ``place`` (the document's) shows them: FILE:LINE, in its order."""
        placed = sorted(place.problem(path, message) for path, message in self.found)
        return ConfigError([text for _, text in placed])


def validate_as(
    model: type[M],
    data: Any,
    place: Place,
    early: list[tuple[int, str]] | None = None,
    written: Written | None = None,
) -> M:
    """Validate and raise one ConfigError listing every problem, in document order.
    ``written``: what of ``data`` a person writes now, checked as such (None: the data is
    the workspace's as stored)."""
    problems = list(early or []) + _nul_problems(data, place)
    result: M | None = None
    try:
        result = model.model_validate(data, context=None if written is None else written.context())
    except ValidationError as exc:
        errors = exc.errors()
        # A list one of whose items is wrong counts only the others: its length is no problem
        # of its own ("has 1 item; allowed: at least 2" beside the item that was written).
        item_failed = {e["loc"][:-1] for e in errors if e["loc"] and isinstance(e["loc"][-1], int)}
        for error in errors:
            if error["type"] == "too_short" and error["loc"] in item_failed:
                continue
            is_key = "[key]" in error["loc"]
            value = error.get("input", _NO_VALUE)
            if error["type"] in _NOT_ABOUT_THE_VALUE:
                value = _NO_VALUE
            for path, message in messages(error, model, data):
                problems.append(place.problem(path, message, value, is_key))
    if problems or result is None:
        problems.sort(key=lambda item: item[0])
        raise ConfigError([text for _, text in problems])
    return result


def _nul_problems(data: Any, place: Place) -> list[tuple[int, str]]:
    """Every key or text of ``data`` holding a NUL character, which no text the store keeps
    can hold (PostgreSQL refuses it at the write; SQLite would keep it): named at its key
    path, as any other value the settings do not take."""
    found: list[tuple[int, str]] = []

    def walk(value: Any, path: KeyPath) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    found.append(place.problem((*path, key), _NUL, key, True))
                walk(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))
        elif isinstance(value, str) and "\x00" in value:
            found.append(place.problem(path, _NUL, value))

    walk(data, ())
    return found


_NUL = "holds a NUL character (\\x00); allowed: text without one"

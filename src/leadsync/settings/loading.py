"""Reading settings in: YAML with the line of every key path, and plain data (the database,
an API body), validated with the file's checks and every problem reported at once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from leadsync.errors import ConfigError
from leadsync.settings.base import KeyPath, Written, format_path, key_text, show
from leadsync.settings.checks import (
    empty_teams,
    inactive_references,
    shared_emails,
    unassigned_own_numbers,
)
from leadsync.settings.errors import KeyLines, Place, validate_as
from leadsync.settings.integration import IntegrationSettings
from leadsync.settings.workspace import DedupeRule, DestinationSettings, WorkspaceConfig
from leadsync.sources.jsontext import MAX_DEPTH

__all__ = [
    "config_from_dict",
    "dedupe_from_list",
    "destination_from_dict",
    "integration_from_dict",
    "load_config",
    "file_place",
    "load_config_file",
    "parse_yaml",
    "read_text",
]


class WrittenInt(int):
    """A whole number YAML 1.1 reads from a plain scalar written otherwise than the number
    (``0101`` is 65, ``0x1F`` 31, ``1_000`` 1000, ``1:20`` 80). It is the number where one is
    expected, and the text as written where text is (an id, a key: ``str()`` gives the text),
    so that ``id: 0101`` stays ``"0101"``."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        number = super().__new__(cls, value)
        number.written = written
        return number

    def __str__(self) -> str:
        return self.written


MAX_ALIASED = 100_000
"""The most values aliases may repeat in one document, all told (``*defaults`` repeats every
value of the node anchored ``&defaults``, the aliases within it included). A document
sharing a block between integrations repeats hundreds; an alias bomb ("billion laughs":
each anchor aliasing the previous one ten times) a billion, which validating, storing and
exporting would each expand, though PyYAML builds every alias as one shared object."""

TOO_DEEP = (
    f"nested deeper than {MAX_DEPTH} levels; allowed: at most {MAX_DEPTH} levels of mappings "
    "and lists, aliases expanded where they are used"
)
TOO_ALIASED = (
    f"aliases repeat more than {MAX_ALIASED:,} values; allowed: at most {MAX_ALIASED:,} "
    "values repeated by aliases in all (write a shared block once per place it is needed, "
    "or fewer aliases of aliases)"
)
SELF_ALIAS = (
    "an alias inside the node its anchor names (a value that contains itself); allowed: "
    "an alias of a node written before it, outside it"
)


class _Refused(yaml.YAMLError):
    """A document leadsync does not read however valid its YAML: too deep, too many values
    repeated by aliases, a value containing itself; refused while it is composed, before
    anything is built from it."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


class _Composer(yaml.SafeLoader):
    """PyYAML's safe loader, limited as every reader of outside JSON is
    (:data:`~leadsync.sources.jsontext.MAX_DEPTH`): no document nested deeper than that,
    counting what an alias stands for where it is used, nor one whose aliases repeat more
    than :data:`MAX_ALIASED` values (an alias bomb), nor a value containing itself. It counts
    as it composes (the composer recurses once per level, so a deeper document never reaches
    Python's recursion limit), each node's levels and values once (an alias of an alias
    costs one lookup, not its expansion)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._levels = 0  # mappings and lists open around the node being composed
        self._open_anchors: set[str] = set()
        self._expanded: dict[int, tuple[int, int]] = {}  # id(node): (levels, values)
        self._aliased = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise _Refused(line, SELF_ALIAS)
            node = super().compose_node(parent, index)
            levels, values = self._expanded[id(node)]
            self._aliased += values
            if self._levels + levels > MAX_DEPTH:
                raise _Refused(line, TOO_DEEP)
            if self._aliased > MAX_ALIASED:
                raise _Refused(line, TOO_ALIASED)
            return node
        collection = isinstance(event, yaml.CollectionStartEvent)
        if collection:
            self._levels += 1
            if self._levels > MAX_DEPTH:
                raise _Refused(line, TOO_DEEP)
            if event.anchor is not None:
                self._open_anchors.add(event.anchor)
        node = super().compose_node(parent, index)
        if collection:
            self._levels -= 1
            self._open_anchors.discard(event.anchor or "")
        if node is not None:
            self._expanded[id(node)] = self._count(node)
        return node

    def _count(self, node: yaml.Node) -> tuple[int, int]:
        """A composed node's levels and values, every alias in it expanded."""
        if isinstance(node, yaml.ScalarNode):
            return 0, 1
        children: list[yaml.Node] = (
            [child for pair in node.value for child in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        counted = [self._expanded[id(child)] for child in children]
        return 1 + max((levels for levels, _ in counted), default=0), 1 + sum(
            values for _, values in counted
        )


class _Loader(_Composer):
    """:class:`_Composer`, with a line number for values it cannot build (``2024-02-30``),
    and whole numbers written otherwise than as the number kept with their text
    (:class:`WrittenInt`)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        number = super().construct_yaml_int(node)
        text = str(node.value)
        return number if text == str(number) else WrittenInt(number, text)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            shown = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read{shown}: {exc}", node.start_mark
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _refuse_tag(loader: _Loader, node: yaml.Node) -> Any:
    """A value YAML builds as something no setting is (bytes, a set, pairs): refused at its
    line, not turned into text behind the checks' back (``!!binary`` passed a secret as
    ``secret_env``, an email that was no address)."""
    tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
    raise yaml.constructor.ConstructorError(
        None,
        None,
        f"the tag {tag} is not read; allowed: plain text, numbers, true/false, null, lists "
        "and mappings (write the value itself, quoted where it must stay text)",
        node.start_mark,
    )


for _tag in ("binary", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)

# Plain scalars YAML 1.1 reads as something else than text (``NO`` is false, ``0101`` is 65):
# their text is kept, so that a problem with the value can say what was written.
_NOT_TEXT = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("bool", "int", "float", "null", "timestamp")
)


def _written(node: yaml.Node) -> str | None:
    """A plain scalar's text when YAML did not read it as text."""
    if isinstance(node, yaml.ScalarNode) and node.style is None and node.tag in _NOT_TEXT:
        return str(node.value)
    return None


def _indentation_problem(exc: yaml.MarkedYAMLError) -> str | None:
    """PyYAML's words for a misplaced indentation (they name only the tokens it expected),
    said plainly with the columns; None for its other problems."""
    assert exc.problem_mark is not None
    column = exc.problem_mark.column
    if exc.problem == "mapping values are not allowed here":
        return (
            f"the ': ' at column {column + 1} makes a key where none can start (the line is"
            " indented more than the key above it, which has its value already; or a text"
            " holding ': ' is not quoted); allowed: the keys of one mapping indented alike,"
            " a key's own keys indented more"
        )
    opened = exc.context_mark
    if (
        exc.context == "while parsing a block mapping"
        and (exc.problem or "").startswith("expected <block end>")
        and opened is not None
    ):
        return (
            f"this line is indented {column} spaces, and the mapping it follows (from line"
            f" {opened.line + 1}) indents its keys {opened.column}; allowed: the keys of one"
            " mapping indented alike, a key's own keys indented more"
        )
    return None


def _yaml_problem(exc: Exception, text: str, source: str) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line = exc.problem_mark.line + 1
        what = exc.problem or str(exc)
        plainly = _indentation_problem(exc)
        if plainly is not None:
            return ConfigError([f"{source}:{line}: invalid YAML: {plainly}"])
        if exc.context:
            started = exc.context_mark.line + 1 if exc.context_mark is not None else line
            opened = f" (opened on line {started})" if started != line else ""
            what = f"{exc.context}{opened}, {what}"
        if "'\\t'" in what:  # PyYAML's words for a tab where YAML takes none
            what += "; allowed: spaces, never tabs, to indent and to separate"
        return ConfigError([f"{source}:{line}: invalid YAML: {what}"])
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return ConfigError(
            [f"{source}:{line}: invalid YAML: character #x{exc.character:04x} is not allowed"]
        )
    return ConfigError([f"{source}: invalid YAML: {exc}"])


def _line_map(
    root: yaml.Node, loader: _Loader, source: str
) -> tuple[KeyLines, list[tuple[int, str]]]:
    """The line of every key path in the document (with what was written where YAML read
    no text: :class:`KeyLines`), and duplicate-key problems.

    An aliased node is walked once only: paths below a later alias take the alias's line,
    which is where that copy is, and alias bombs cannot make this walk explode.
    """
    lines = KeyLines({(): root.start_mark.line + 1})
    duplicates: list[tuple[int, str]] = []
    walked: set[int] = set()
    pending: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while pending:
        node, path = pending.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        if (text := _written(node)) is not None:
            lines.written[path] = text
        children: list[tuple[yaml.Node, KeyPath]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, tuple[int, int]] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys take the line of the mapping they land in
                key = key_text(loader.construct_object(key_node, deep=True))
                line = key_node.start_mark.line + 1
                child = (*path, key)
                if key in seen:
                    where = f"{source}:{line}: {format_path(child)}"
                    first, column = seen[key]  # one line of {a: 1, a: 2}: the column says which
                    other = f"line {first}" if first != line else f"column {column} of this line"
                    duplicates.append(
                        (line, f"{where}: duplicate key (also {other}); allowed: each key once")
                    )
                seen[key] = (line, key_node.start_mark.column + 1)
                lines[child] = line
                if (text := _written(key_node)) is not None:
                    lines.written_keys[child] = text
                children.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                children.append((item, (*path, index)))
        # Document order, so an anchor is walked where it is written, before its aliases.
        pending.extend(reversed(children))
    return lines, duplicates


def parse_yaml(text: str, source: str) -> tuple[Any, dict[KeyPath, int], list[tuple[int, str]]]:
    """The document, the line of every key path in it, and duplicate-key problems."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader rejects some characters up front
        raise _yaml_problem(exc, text, source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, KeyLines({(): 1}), []
        lines, duplicates = _line_map(node, loader, source)
        data = loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError([f"{source}:{exc.line}: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text, source) from None
    finally:
        loader.dispose()
    return data, lines, duplicates


def load_config(
    text: str, source: str = "<config>", warnings: list[str] | None = None
) -> WorkspaceConfig:
    """Read a workspace YAML document; ``source`` names it in messages (usually the path).
    ``warnings``, when given, receives what the document says that is allowed but may be a
    mistake (active owners sharing an email, a team with no members), as
    ``FILE:LINE: key.path: message``."""
    data, lines, duplicates = parse_yaml(text, source)
    if data is None:
        # An empty file would archive every owner and remove every integration: more likely
        # a truncated or wrong file than what is meant, which can be said explicitly.
        raise ConfigError(
            [
                f"{source}: the file declares nothing (it is empty); to remove every owner "
                "and integration, apply a file that says so: owners: [] and integrations: {}"
            ]
        )
    if not isinstance(data, dict):
        line = lines[()]
        raise ConfigError(
            [
                f"{source}:{line}: the top level must be a mapping; allowed keys: "
                f"{', '.join(WorkspaceConfig.model_fields)}; got {show(data)}"
            ]
        )
    # Top-level keys starting with x- hold what anchors share (x-defaults: &defaults …), as
    # in a Compose file: read for the aliases, then left out (not settings, not exported).
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    place = Place(source, lines, "")
    config = validate_as(WorkspaceConfig, data, place, duplicates, Written())
    if warnings is not None:
        found = [
            *shared_emails(data),
            *empty_teams(data),
            *inactive_references(data),
            *unassigned_own_numbers(data),
        ]
        placed = [place.problem(path, message) for path, message in found]
        warnings.extend(text for _line, text in sorted(placed, key=lambda p: p[0]))  # by line
    return config


def config_from_dict(
    data: Any, source: str = "<settings>", written: Written | None = None
) -> WorkspaceConfig:
    """A whole workspace from plain data, with the file's checks and key paths (no line
    numbers). ``written`` says what of it a person writes now; by default every integration
    (its fallback owner must be active), the owners being the workspace's as stored (an
    integration saved through the API or the console is validated with the workspace's
    current owners around it: an owner's email is not checked again). A caller that knows
    which integration it writes passes ``Written.only([NAME])``: the others are then taken
    as stored too."""
    place = Place(source, None, "")
    if not isinstance(data, dict):
        _, text = place.problem((), f"expected a mapping; got {show(data)}")
        raise ConfigError([text])
    return validate_as(WorkspaceConfig, data, place, written=written or Written(owners=False))


def read_text(path: str | Path) -> str:
    """A settings file's text; a missing or unreadable file is a ConfigError naming it."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([_not_utf8(source, exc)]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None


STDIN = "<stdin>"


def read_stdin() -> str:
    """A settings file given on stdin (``leadsync apply -``), read as a file is."""
    try:
        return sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([_not_utf8(STDIN, exc)]) from None


def _not_utf8(source: str, exc: UnicodeDecodeError) -> str:
    """Where a settings file stops being UTF-8, and how to make it so."""
    data = bytes(exc.object)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return (
            f"{source}:1: not UTF-8 text: the file is UTF-16 (it begins with the byte order "
            f"mark {data[:2].hex(' ').upper()}); allowed: UTF-8 (`iconv -f UTF-16 -t UTF-8` "
            "converts it)"
        )
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start : exc.start + 1].hex().upper()
    return (
        f"{source}:{line}: not UTF-8 text (byte 0x{byte}: {exc.reason}); allowed: UTF-8 (a "
        "file saved as Latin-1 or Windows-1252: `iconv -f WINDOWS-1252 -t UTF-8` converts it)"
    )


def file_place(path: str | Path) -> Place:
    """Where the keys of a workspace file are (read again: for problems found once it was
    read, :class:`~leadsync.settings.errors.PlacedLater`)."""
    _, lines, _ = parse_yaml(read_text(path), str(path))
    return Place(str(path), lines, "")


def load_config_file(path: str | Path, warnings: list[str] | None = None) -> WorkspaceConfig:
    """Read a workspace file; a missing or unreadable file is a ConfigError naming it
    (``warnings``: as :func:`load_config`'s)."""
    return load_config(read_text(path), str(path), warnings)


def integration_from_dict(
    data: dict[str, Any], source: str = "<settings>", key_prefix: str = ""
) -> IntegrationSettings:
    """Integration settings from plain data (the database, an API) with the file's checks.

    Workspace cross references (owners, teams) are not checked here: they need the workspace.
    Messages have no line numbers; ``key_prefix`` (e.g. ``integrations.dialer``) starts each
    key path so the message reads as it would for the file.
    """
    place = Place(source, None, key_prefix)
    if not isinstance(data, dict):
        _, text = place.problem((), f"expected a mapping; got {show(data)}")
        raise ConfigError([text])
    return validate_as(IntegrationSettings, data, place)


def dedupe_from_list(data: list[dict[str, Any]]) -> tuple[DedupeRule, ...]:
    """The dedupe rules as stored in the workspace."""
    return tuple(
        validate_as(DedupeRule, item, Place("<workspace>", None, f"dedupe[{i}]"))
        for i, item in enumerate(data)
    )


def destination_from_dict(data: dict[str, Any]) -> DestinationSettings:
    """The destination block as stored in the workspace."""
    return validate_as(DestinationSettings, data, Place("<workspace>", None, "destination"))

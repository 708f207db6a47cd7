"""What ``leadsync ingest`` reads: a file (or stdin, or lines given in code) cut into numbered
lines, each one body or canonical event for :mod:`leadsync.pipeline.ingest`.

JSON lines are read a line at a time. A file that is not (its first non-blank line is not a
complete JSON value) is read ahead, up to :data:`WHOLE_FILE_MAX_BYTES`:

- one JSON document spread over several lines (a pretty-printed capture) is one line, its
  line 1; several, one after another (``jq .``), a line each, numbered where it starts;
- a document cut short or broken (it goes on over several lines, and no line of it reads
  alone as a JSON object or array, as the good lines of JSON lines beside a bad one do) is
  one dead letter numbered where it starts, naming the file's line and column of the error;
  the documents before it are read;
- anything else is read line by line, as always, its first line's error saying what ingest
  reads.

A file (or stdin) that starts with ``<`` is one XML document (a Salesforce Outbound Message
as received), read whole, up to the same size, as one body: never line by line.

A file that is not JSON at all (a CSV export given by mistake: none of its first
:data:`SNIFFED_LINES` non-blank lines reads as a JSON value) is refused before anything is
stored, when its name is given (``source``: ``leadsync ingest``), rather than becoming a dead
letter per line; a file of JSON lines with some bad lines keeps its good lines.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from leadsync.errors import EventError
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.base import Adapter
from leadsync.sources.hygiene import representable
from leadsync.sources.jsontext import TOO_DEEP

#: The largest file read whole when it is one document spread over several lines (a
#: pretty-printed JSON capture, or an XML one); a larger JSON one is read line by line.
WHOLE_FILE_MAX_BYTES = 4 * 1024 * 1024

#: How many non-blank lines of an input that does not start as JSON lines are looked at
#: before it is refused as not JSON at all (all of them, when it has fewer).
SNIFFED_LINES = 20

#: A line as read: its number, its text (stripped) and why it cannot be read, if it cannot.
Line = tuple[int, str, str | None]


class InputFile:
    """A file given to ``leadsync ingest FILE``, read as binary lines, counting the lines and
    bytes read so far (for progress).

    ``whole``: a file that does not read as JSON lines because it is a pretty-printed JSON
    document (see the module docstring) is read whole; False for stdin, a stream read as it
    comes (an XML document is read whole all the same: it has no lines to read one by one)."""

    def __init__(self, handle: BinaryIO, *, whole: bool = True) -> None:
        self.handle = handle
        self.whole = whole
        self.lines = 0
        self.bytes = 0

    @property
    def size(self) -> int | None:
        """The size of a regular file (stdin too, when redirected from one); None for a
        pipe."""
        try:
            status = os.fstat(self.handle.fileno())
        except (OSError, ValueError):  # no file descriptor (a test's stdin), or closed
            return None
        return status.st_size if stat.S_ISREG(status.st_mode) else None

    def __iter__(self) -> Iterator[bytes]:
        # A line is read up to MAX_LINE_BYTES, never whole: a line of a few hundred MB (a
        # dump's one array, a file that is no text) held memory by its size.
        read = self.handle.readline
        while line := read(MAX_LINE_BYTES + 1):
            self.lines += 1
            self.bytes += len(line)
            if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
                yield line
                continue
            size = len(line)
            while more := read(_SKIP_BYTES):
                size += len(more)
                self.bytes += len(more)
                if more.endswith(b"\n"):
                    break
            yield Oversize(line[:KEPT_BYTES], size)


#: The longest line ingest reads: as a webhook's body (``serve``'s default limit).
MAX_LINE_BYTES = 8 * 2**20
#: Of a longer line, what its dead letter keeps (its beginning).
KEPT_BYTES = 64 * 2**10
_SKIP_BYTES = 2**20  # the rest of a longer line is read past in pieces this size


class Oversize(bytes):
    """The beginning of a line longer than :data:`MAX_LINE_BYTES` (``size``: its length)."""

    size: int

    def __new__(cls, kept: bytes, size: int) -> Oversize:
        line = super().__new__(cls, kept)
        line.size = size
        return line

    @property
    def problem(self) -> str:
        return (
            f"a line of {self.size:,} bytes ({self.size / 2**20:.1f} MiB); ingest reads lines "
            f"of up to {MAX_LINE_BYTES // 2**20} MiB, as a webhook's body (its first "
            f"{KEPT_BYTES // 2**10} KiB are kept here); split it (an array of events: `jq -c "
            "'.[]'`)"
        )


def is_xml(text: str) -> bool:
    """Text that is an XML document: it starts with ``<`` (after a byte order mark and
    blanks)."""
    return text.lstrip("\ufeff \t\r\n")[:1] == "<"


def _takes_xml(content_type: str) -> bool:
    return content_type.endswith(("/xml", "+xml"))


def xml_media_type(adapter: Adapter) -> str:
    """The media type an XML body is given to ``adapter`` with (``text/xml``); EventError,
    saying which kinds take XML, for a kind that takes none."""
    for content_type in adapter.content_types:
        if _takes_xml(content_type):
            return content_type
    kinds = [k for k in KINDS if any(map(_takes_xml, adapter_class(k).content_types))]
    reads = "canonical JSON events" if adapter.stores_canonical else "JSON bodies"
    raise EventError(
        f"body is XML, not JSON: kind {adapter.kind} reads {reads}; "
        f"the kinds that take XML: {', '.join(kinds)}"
    )


class Lines:
    """The numbered non-blank lines of an input, decoded and stripped, read as the module
    docstring says. The first line's error of an input read line by line although it is not
    JSON lines says what ``ingest`` reads (``hints``, by line number).

    ``source``: the input's name (``events.csv``, ``<stdin>``), given by ``ingest``: a file
    (or stdin) none of whose first :data:`SNIFFED_LINES` non-blank lines reads as JSON is
    refused as a whole — EventError at ``source:LINE`` of its first line, raised before the
    first line is yielded, so nothing is stored. Lines given in code are never refused so."""

    def __init__(
        self, lines: Iterable[str | bytes], adapter: Adapter, source: str | None = None
    ) -> None:
        self.lines = lines
        self.adapter = adapter
        self.source = source if isinstance(lines, InputFile) else None
        self.hints: dict[int, str] = {}
        self.file = isinstance(lines, InputFile) and lines.whole
        # A larger file is not read ahead; a pipe's size is unknown (None): read ahead as far.
        small = isinstance(lines, InputFile) and (lines.size or 0) <= WHOLE_FILE_MAX_BYTES
        self.limit = WHOLE_FILE_MAX_BYTES if self.file and small else 0
        self.xml_limit = WHOLE_FILE_MAX_BYTES if small else 0  # stdin too
        self.xml = isinstance(lines, InputFile)  # lines given in code are lines
        self.json = "not valid JSON" if adapter.stores_canonical else "body is not valid JSON"
        self.what, self.many = (
            ("one JSON event, or array of events, per line", "events or arrays")
            if adapter.stores_canonical
            else ("one JSON body per line", "bodies")
        )

    def __iter__(self) -> Iterator[Line]:
        numbered = enumerate(self.lines, start=1)
        for line_no, line in numbered:
            text, problem = _decoded(line)
            if not text.lstrip("\ufeff").strip():  # a byte order mark alone too
                continue
            if isinstance(line, Oversize):  # too long to tell what it is: its own fault
                yield (line_no, text.strip(), problem)
                break
            if self.xml and is_xml(text):
                yield self._xml_document(line_no, line, numbered)
                return
            if isinstance(line, bytes) and line[:2] == _GZIP_MAGIC and self.source is not None:
                raise EventError(
                    "not JSON lines: the file is gzip-compressed; allowed: JSON lines (`zcat "
                    f"{self.source} | leadsync ingest INTEGRATION -` reads it); nothing was "
                    "stored",
                    f"{self.source}:{line_no}",
                )
            if isinstance(line, bytes) and line[:2] in _UTF16_MARKS and self.source is not None:
                raise EventError(
                    f"not JSON lines: the file is UTF-16 text (it begins with the byte order "
                    f"mark {line[:2].hex(' ').upper()}); allowed: UTF-8 (`iconv -f UTF-16 -t "
                    "UTF-8` converts it); nothing was stored",
                    f"{self.source}:{line_no}",
                )
            if problem is not None or not _one_value(text):  # not UTF-8 text, or not JSON
                first = (line_no, text, problem)
                yield from self._not_json_lines(first, len(line), numbered)
            else:
                yield (line_no, text.strip(), problem)
            break
        for line_no, line in numbered:
            text, problem = _decoded(line)
            text = text.strip()
            if text:
                yield (line_no, text, problem)

    def _xml_document(
        self, line_no: int, first: str | bytes, rest: Iterator[tuple[int, str | bytes]]
    ) -> Line:
        """An input that starts with ``<`` (its first non-blank line is ``first``): one XML
        document, read whole up to :data:`WHOLE_FILE_MAX_BYTES`; a larger one is one dead
        letter (what was read ahead of it kept)."""
        held, size = [first], len(first)
        over = not self.xml_limit
        if not over:
            for _, line in rest:
                held.append(line)
                size += len(line)
                if size > self.xml_limit:
                    over = True
                    break
        text, problem = _decoded(_joined(held))
        if over:
            for _ in rest:  # the rest of the document: read (progress counts it), not kept
                pass
            mib = f"{WHOLE_FILE_MAX_BYTES / 2**20:g} MiB"
            try:
                xml_media_type(self.adapter)
            except EventError as exc:
                problem = exc.detail
            else:
                problem = (
                    f"body is an XML document of more than {mib}; ingest reads one whole up "
                    f"to {mib}"
                )
        return (line_no, text.strip(), problem)

    def _not_json_lines(
        self,
        first: Line,
        size: int,
        rest: Iterator[tuple[int, str | bytes]],
    ) -> Iterator[Line]:
        """The lines of an input whose first non-blank line (``first``, not stripped) is not
        a complete JSON value: documents read whole, or each line as it is."""
        held = [first]
        if self.limit:
            for line_no, line in rest:
                size += len(line)
                held.append((line_no, *_decoded(line)))
                if size > self.limit:
                    break
            else:  # the whole file is read: is it JSON documents, one after another?
                documents = self._documents(held)
                if documents is not None:
                    yield from documents
                    return
        mib = f"{WHOLE_FILE_MAX_BYTES / 2**20:g} MiB"
        whole = f"read whole up to {mib}" + ("" if self.file else " when named, not from stdin")
        file_size = self.lines.size if isinstance(self.lines, InputFile) else None
        if self.file and file_size is not None and file_size > WHOLE_FILE_MAX_BYTES:
            whole += f", and this file is {file_size:,} bytes"
        self.hints[first[0]] = (
            f"ingest reads {self.what} (a pretty-printed file of {self.many} is {whole}; "
            "compact others with `jq -c`)"
        )
        if self.source is not None:
            self._refuse_if_not_json(held, rest)
        for line_no, text, problem in held:
            if text.strip():
                yield (line_no, text.strip(), problem)

    def _refuse_if_not_json(
        self, held: list[Line], rest: Iterator[tuple[int, str | bytes]]
    ) -> None:
        """EventError, naming the input's first line, when none of its first
        :data:`SNIFFED_LINES` non-blank lines (``held``, topped up from ``rest`` as far as
        needed: those read are kept in ``held``) reads as a JSON value: the input is not
        JSON lines with bad lines among them but something else (a CSV export), and reading
        it would make a dead letter of every line."""
        sniffed = [line for line in held if line[1].strip()][:SNIFFED_LINES]
        while len(sniffed) < SNIFFED_LINES:
            line_no, raw = next(rest, (0, b""))
            if not line_no:
                break
            line = (line_no, *_decoded(raw))
            held.append(line)
            if line[1].strip():
                sniffed.append(line)
        if any(problem is None and _one_value(text) for _, text, problem in sniffed):
            return
        first_no, first_text, first_problem = sniffed[0]
        if first_text.strip()[:1] in ("{", "[") and all(
            problem is not None and problem.startswith(NOT_UTF8) for *_, problem in sniffed
        ):  # JSON in another encoding (a Windows or Latin-1 export)
            raise EventError(
                f"not UTF-8 text: line {first_no} reads as JSON but is not UTF-8 ("
                f"{first_problem}); allowed: UTF-8 (`iconv -f WINDOWS-1252 -t UTF-8` converts "
                "a file in Windows' or Latin-1 encoding); nothing was stored",
                f"{self.source}:{first_no}",
            )
        shown = first_text.strip()
        shown = repr(shown if len(shown) <= 60 else shown[:57] + "...")
        shown = first_problem or shown  # not UTF-8 text (a binary file): not shown
        if len(sniffed) == 1:
            none = "its one non-blank line does not read as JSON"
        elif len(sniffed) < SNIFFED_LINES:
            none = f"none of its {len(sniffed)} non-blank lines reads as JSON"
        else:
            none = f"none of its first {SNIFFED_LINES} non-blank lines reads as JSON"
        raise EventError(
            f"not JSON lines: {none} (line {first_no}: {shown}); "
            f"{self.hints[held[0][0]]}; nothing was stored",
            f"{self.source}:{first_no}",
        )

    def _documents(self, held: list[Line]) -> list[Line] | None:
        """The documents of a file read whole (``held``: its lines from the first non-blank
        one, not stripped), a line each; None when it is to be read line by line."""
        if any(problem is not None for *_, problem in held):
            return None
        start = held[0][0]
        values, broken = _json_values("".join(text for _, text, _ in held))
        if broken is None and len(values) == 1:  # the usual capture: one body
            return [(1, values[0][1], None)]  # the file's line breaks kept: errors say where
        # `jq .` of several bodies: each from the line where it starts
        documents: list[Line] = [(start + breaks, text, None) for breaks, text in values]
        if broken is None:
            return documents
        begins = start + broken.breaks
        if broken.line is None or not _one_document(held, begins, start + broken.line - 1):
            return None
        last = max(line_no for line_no, text, _ in held if text.strip())
        error = (
            f"{self.json}: {broken.error} (line {start + broken.line - 1}, column "
            f"{broken.column}); lines {begins}-{last} are read as one pretty-printed document"
        )
        return [*documents, (begins, broken.text.strip(), error)]


def _one_document(held: list[Line], begins: int, error_line: int) -> bool:
    """Whether the JSON value at line ``begins`` that cannot be read is one document cut short
    or broken, rather than a bad line of JSON lines: it goes on over several lines (its error
    is on a later line), and none of its other lines reads alone as a JSON object or array
    (what the good lines beside a bad one hold)."""
    return error_line > begins and not any(
        line_no > begins and text.strip()[:1] in ("{", "[") and _one_value(text)
        for line_no, text, _ in held
    )


def _joined(lines: list[str | bytes]) -> str | bytes:
    if all(isinstance(line, bytes) for line in lines):
        return b"".join(line for line in lines if isinstance(line, bytes))
    return "".join(
        line if isinstance(line, str) else line.decode("utf-8", "replace") for line in lines
    )


_GZIP_MAGIC = b"\x1f\x8b"  # the first bytes of every gzip file
_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16's byte order marks, little and big endian


#: How a line that is not UTF-8 text is refused (its dead letter's error begins so).
NOT_UTF8 = "not valid UTF-8 at byte"


def _decoded(line: str | bytes) -> tuple[str, str | None]:
    """A line as text, and why it cannot be read if it cannot (too long: its beginning;
    not UTF-8: then each byte
    that is not is written as a backslash, x and its two hex digits — replaced by U+FFFD,
    what it held was lost, and a retry of its dead letter applied the replacement: José in
    Latin-1 became a name ending in U+FFFD)."""
    if isinstance(line, Oversize):
        return line.decode("utf-8", errors="backslashreplace"), line.problem
    if isinstance(line, bytes):
        try:
            return line.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            return line.decode("utf-8", errors="backslashreplace"), f"{NOT_UTF8} {exc.start}"
    return representable(line), None  # text a caller decoded leniently (lone surrogates)


@dataclass(frozen=True, slots=True)
class _Broken:
    """The first value of a text that cannot be read: the line breaks before it, its text,
    and the error, with its line and column in the text (None: it cannot say where)."""

    breaks: int
    text: str
    error: str
    line: int | None
    column: int | None


# Syntax alone: a number out of range or NaN is a JSON value whose line says what is wrong.
_SYNTAX = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)


def _json_values(text: str) -> tuple[list[tuple[int, str]], _Broken | None]:
    """The JSON values ``text`` is, one after another with blanks between, each with the
    number of line breaks before it; and the first one that cannot be read, if any (the
    values after it are not looked for)."""
    values: list[tuple[int, str]] = []
    breaks = counted = 0
    at = _skip(text, 0, _LEADING)
    while at < len(text):
        breaks += text.count("\n", counted, at)
        counted = at
        try:
            _, end = _SYNTAX.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            return values, _Broken(breaks, text[at:], exc.msg, exc.lineno, exc.colno)
        except (ValueError, RecursionError):  # deeper than Python recurses: past MAX_DEPTH
            return values, _Broken(breaks, text[at:], TOO_DEEP, None, None)
        values.append((breaks, text[at:end]))
        at = _skip(text, end, _BLANKS)
    return values, None


def _one_value(text: str) -> bool:
    """Whether ``text`` is exactly one JSON value (blanks around it). One nested too deep
    for Python to read counts as one: the line is then refused for its depth, as one nested
    less deeply is, never taken for a line of something other than JSON."""
    values, broken = _json_values(text)
    if broken is not None and broken.error == TOO_DEEP:
        return not values
    return broken is None and len(values) == 1


_LEADING = re.compile(r"[\ufeff \t\r\n]*")
_BLANKS = re.compile(r"[ \t\r\n]*")


def _skip(text: str, at: int, blanks: re.Pattern[str]) -> int:
    found = blanks.match(text, at)
    return found.end() if found is not None else at

"""Reading an uploaded CSV as a stream: bytes in 64 KiB reads → an incremental UTF-8 decoder
(a BOM is dropped) → complete lines → `csv.reader`. Only one read block and one line are
held at a time, whatever the file size.

The header row names the columns; common spellings are accepted case- and
punctuation-insensitively ("E-mail", "Phone Number", "Zip Code", "First Name"). The
delimiter is the one of `,` `;` tab `|` that the header line uses most.
"""

from __future__ import annotations

import codecs
import csv
import re
from _csv import Reader
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from audiences.custom_audiences.errors import CsvUnreadable
from audiences.errors import ErrorItem

READ_SIZE = 64 * 1024
MAX_LINE_CHARS = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
IDENTIFIER_FIELDS = frozenset({"email", "phone", "externalId"})

# Header spelling (lower-case, letters and digits only) → the field it is read as.
HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail", "emailid", "emails"), "email"),
    **dict.fromkeys(
        (
            "phone",
            "phonenumber",
            "phoneno",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "telephone",
            "tel",
            "msisdn",
        ),
        "phone",
    ),
    **dict.fromkeys(("firstname", "first", "fname", "givenname", "forename", "fn"), "firstName"),
    **dict.fromkeys(("lastname", "last", "lname", "surname", "familyname", "ln"), "lastName"),
    **dict.fromkeys(("country", "countrycode", "ctry"), "country"),
    **dict.fromkeys(("zip", "zipcode", "postalcode", "postcode", "postal", "plz"), "zip"),
    **dict.fromkeys(
        ("externalid", "extid", "id", "contactid", "customerid", "userid", "uid", "crmid"), "externalId"
    ),
}

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


class ByteSource(Protocol):
    """Anything with a binary `read(size)`: an UploadFile's spooled file, an open file."""

    def read(self, size: int = -1, /) -> bytes: ...


def header_field(name: str) -> str | None:
    return HEADER_ALIASES.get(_NOT_ALNUM.sub("", name.strip().lower()))


def unreadable(code: str, message: str, line: int | None = None) -> CsvUnreadable:
    path = f"file:{line}" if line is not None else "file"
    return CsvUnreadable(message, code=code, errors=[ErrorItem(code, path, message)])


def iter_lines(raw: ByteSource, *, read_size: int = READ_SIZE) -> Iterator[str]:
    """Decoded lines (ending in `\\n` except maybe the last) from a binary stream."""
    start = raw.read(read_size)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise unreadable("unsupported_encoding", "The file is UTF-16; save it as UTF-8.")
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    line_no = 0
    block = start
    while True:
        pending += decoder.decode(block, final=not block)
        parts = pending.split("\n")
        pending = parts.pop()
        for part in parts:
            line_no += 1
            yield part + "\n"
        if len(pending) > MAX_LINE_CHARS:
            raise unreadable(
                "line_too_long",
                f"Line {line_no + 1} is longer than {MAX_LINE_CHARS} characters.",
                line_no + 1,
            )
        if not block:
            break
        block = raw.read(read_size)
    if pending:
        yield pending


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the first (`,`)
    return best if counts[best] else ","


@dataclass(slots=True)
class CsvUpload:
    """A CSV being read: its header mapping and a cursor over its records."""

    delimiter: str
    columns: dict[str, str]  # header text → field
    ignored: list[str]
    _positions: dict[int, str]
    _reader: Reader = field(repr=False)
    _header_line: int = 1

    @classmethod
    def open(cls, raw: ByteSource) -> CsvUpload:
        lines = iter_lines(raw)
        header_line = None
        header_line_no = 0
        for line in lines:
            header_line_no += 1
            if line.strip():
                header_line = line
                break
        if header_line is None:
            raise unreadable("empty_file", "The file is empty; the first line must name the columns.")
        delimiter = sniff_delimiter(header_line)
        header = next(csv.reader([header_line], delimiter=delimiter))
        positions: dict[int, str] = {}
        columns: dict[str, str] = {}
        ignored: list[str] = []
        for position, name in enumerate(header):
            target = header_field(name)
            if target is None or target in positions.values():
                ignored.append(name)
                continue
            positions[position] = target
            columns[name] = target
        if not IDENTIFIER_FIELDS & set(positions.values()):
            raise unreadable(
                "no_identifier_column",
                "The header has no email, phone or externalId column (first line: "
                f"{header_line.strip()[:200]!r}).",
                header_line_no,
            )
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        return cls(delimiter, columns, ignored, positions, reader, header_line_no)

    def records(self, limit: int) -> tuple[list[tuple[int, dict[str, str]]], bool]:
        """Up to `limit` non-blank records as (line, field → text), and whether the file ended.
        Lines are numbered in the file (the header is usually line 1); a quoted multi-line
        record has the line it ends on."""
        out: list[tuple[int, dict[str, str]]] = []
        reader = self._reader
        while len(out) < limit:
            try:
                record = next(reader)
            except StopIteration:
                return out, True
            except csv.Error as exc:
                line = self._header_line + reader.line_num
                raise unreadable("malformed_csv", f"Line {line}: {exc}", line) from exc
            if not any(cell.strip() for cell in record):
                continue
            line = self._header_line + reader.line_num
            out.append((line, {name: record[at] for at, name in self._positions.items() if at < len(record)}))
        return out, False

"""Shared machinery of every CSV import: decoding, delimiter sniffing, header aliases, file line
numbers, and the preview/result shapes that pages and GraphQL render.

An import reads the whole upload, reports every bad row as {line, field, code, message} (line = the
1-based line of the file where the row starts, the header being line 1), and writes nothing, only the
good rows, or everything, as the user chose (DESIGN §4.10). File-level problems (empty file, unknown
encoding, missing required columns) raise `ImportFileError` before any row is looked at.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.core import db
from server.core.errors import DomainError, ErrorList, ValidationError

MODES = ("all_or_nothing", "good_rows")
MAX_BYTES = 32 * 1024 * 1024
MAX_ROWS = 100_000
BOOL_TRUE = {"true", "t", "1", "yes", "y", "是", "对", "已付款", "已支付", "启用", "有效", "active"}
BOOL_FALSE = {"false", "f", "0", "no", "n", "否", "未付款", "未支付", "停用", "无效", "inactive"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (nothing is imported, no row is looked at)."""

    def __init__(self, message: str, *, code: str, line: int = 0):
        super().__init__(message, code=code, field="file", details={"line": line})


@dataclass
class RowError:
    line: int            # 1-based line of the file where the row starts (the header is line 1)
    field: str           # the CSV column (canonical English name), or "" for the row as a whole
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class ImportItem:
    """One thing the file creates or changes: a SKU (one row) or an order (one or more rows)."""

    key: str                          # SKU code / order external id
    lines: list[int]                  # the file lines it came from
    action: str                       # create | update | unchanged | created | updated | already_imported | error
    errors: list[RowError] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)   # what pages show: changes, totals, ids


@dataclass
class ImportPreview:
    kind: str                                            # "sku" | "order"
    rows: int = 0                                        # data rows read (blank lines skipped)
    columns: list[str] = field(default_factory=list)     # recognised columns, canonical names, file order
    items: list[ImportItem] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)     # sorted by line
    warnings: list[RowError] = field(default_factory=list)   # e.g. unknown columns (ignored)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    def counts(self) -> dict[str, int]:
        return dict(Counter(i.action for i in self.items))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rows": self.rows, "columns": self.columns, "counts": self.counts(),
                "errors": [e.as_dict() for e in self.errors], "warnings": [w.as_dict() for w in self.warnings],
                "items": [{"key": i.key, "lines": i.lines, "action": i.action, "info": i.info,
                           "errors": [e.as_dict() for e in i.errors]} for i in self.items]}


@dataclass
class ImportResult(ImportPreview):
    mode: str = "all_or_nothing"
    applied: bool = False        # False: nothing was written (all_or_nothing with errors)

    def as_dict(self) -> dict:
        return super().as_dict() | {"mode": self.mode, "applied": self.applied}


def finish(preview: ImportPreview) -> ImportPreview:
    """Collect every item's errors into the preview, in file order."""
    errors = _dedupe(e for i in preview.items for e in i.errors)
    preview.errors = sorted(errors, key=lambda e: (e.line, e.field, e.code))
    return preview


def _dedupe(errors: Iterable[RowError]) -> list[RowError]:
    seen: set[tuple[int, str, str]] = set()
    out = []
    for e in errors:
        if (e.line, e.field, e.code) not in seen:
            seen.add((e.line, e.field, e.code))
            out.append(e)
    return out


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}", code="invalid_mode", field="mode")
    return mode


# -- reading ------------------------------------------------------------------------------------

def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel 'Unicode text'), else GB18030 (a superset
    of GBK/GB2312, what Chinese Excel writes by default)."""
    if not data or not data.strip():
        raise ImportFileError("the file is empty", code="empty_file")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it",
                              code="too_large")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the file is neither UTF-8 nor GBK/GB18030 text; save it as 'CSV UTF-8'",
                          code="bad_encoding")


def sniff_delimiter(header_line: str) -> str:
    """Comma, tab or semicolon: whichever the header line uses most."""
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


_SPACES = re.compile(r"[\s_\-.]+")


def normalize_header(text: str) -> str:
    """'Weight (g)', 'weight_g', '重量（g）' compare equal to their alias spellings."""
    t = (text or "").replace("\ufeff", "").strip().casefold()
    t = t.replace("（", "(").replace("）", ")").replace("：", ":").replace(":", "")
    return _SPACES.sub("", t)


@dataclass
class Columns:
    """The columns an import understands: canonical name -> alias spellings (English and Chinese)."""

    aliases: dict[str, tuple[str, ...]]
    required: tuple[str, ...] = ()

    def lookup(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for canon, names in self.aliases.items():
            for name in (canon, *names):
                table[normalize_header(name)] = canon
        return table


@dataclass
class Row:
    line: int
    values: dict[str, str]
    errors: list[RowError] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class Table:
    columns: list[str]
    rows: list[Row]
    warnings: list[RowError]


def read_table(data: bytes, spec: Columns, *, required: Iterable[str] | None = None) -> Table:
    """Decode, sniff, map the header and read every non-blank row with its file line number."""
    text = decode(data)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=sniff_delimiter(first))
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: {exc}", code="bad_csv", line=reader.line_num) from exc
    if header is None:
        raise ImportFileError("the file is empty", code="empty_file")
    header_line = reader.line_num
    lookup = spec.lookup()
    mapping: dict[int, str] = {}
    warnings: list[RowError] = []
    seen: dict[str, str] = {}
    problems: list[ValidationError] = []
    for idx, raw in enumerate(header):
        name = raw.replace("\ufeff", "").strip()
        canon = lookup.get(normalize_header(name))
        if canon is None:
            if name:
                warnings.append(RowError(header_line, name, "unknown_column",
                                         f"unknown column {name!r} is ignored"))
            continue
        if canon in seen:
            problems.append(ImportFileError(f"columns {seen[canon]!r} and {name!r} both mean {canon}; keep one",
                                            code="duplicate_column", line=header_line))
            continue
        seen[canon] = name
        mapping[idx] = canon
    missing = [c for c in (spec.required if required is None else required) if c not in seen]
    if missing:
        hint = f" (unrecognised columns: {', '.join(w.field for w in warnings)})" if warnings else ""
        problems.append(ImportFileError(f"missing required column(s): {', '.join(missing)}{hint}",
                                        code="missing_columns", line=header_line))
    if problems:
        raise problems[0] if len(problems) == 1 else ErrorList(problems)
    rows: list[Row] = []
    start = header_line + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportFileError(f"more than {MAX_ROWS} rows; split the file", code="too_many_rows", line=line)
            values = {canon: unquote_cell(cells[i].strip()) for i, canon in mapping.items() if i < len(cells)}
            row = Row(line, values)
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                row.errors.append(RowError(line, "", "column_count",
                                           f"{len(cells)} values but the header has {len(header)} columns "
                                           "(a comma inside a value must be quoted)"))
            rows.append(row)
    except csv.Error as exc:
        raise ImportFileError(f"line {reader.line_num}: {exc}", code="bad_csv", line=reader.line_num) from exc
    if not rows:
        raise ImportFileError("the file has a header but no rows", code="no_rows", line=header_line)
    return Table(columns=[mapping[i] for i in sorted(mapping)], rows=rows, warnings=warnings)


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 (with or without offset) or 'YYYY-MM-DD HH:MM[:SS]' / 'YYYY/M/D H:MM'; a time without
    an offset is in the merchant's timezone. Answers UTC."""
    t = text.strip()
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                dt = datetime.strptime(t, fmt)
                break
            except ValueError:
                continue
        else:
            raise
    return (dt if dt.tzinfo else dt.replace(tzinfo=tz)).astimezone(UTC)


def parse_bool(text: str) -> bool:
    v = text.strip().casefold()
    if v in BOOL_TRUE:
        return True
    if v in BOOL_FALSE:
        return False
    raise ValueError(text)


# -- writing ------------------------------------------------------------------------------------

def safe_cell(value: Any) -> str:
    """A text cell Excel will not run as a formula ('=HYPERLINK(…)' from a platform title)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def unquote_cell(text: str) -> str:
    """Undo `safe_cell` so an export imports back unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


class CsvWriter:
    """Rows to CSV text chunks for streaming; the first chunk starts with a UTF-8 BOM for Excel."""

    def __init__(self, header: list[str]):
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf)
        self._writer.writerow(header)
        self._first = True

    def add(self, cells: list[Any]) -> None:
        self._writer.writerow(cells)

    def take(self) -> str:
        out = self._buf.getvalue()
        self._buf.seek(0)
        self._buf.truncate()
        if self._first:
            self._first = False
            return "\ufeff" + out
        return out


# -- writing in savepoints ----------------------------------------------------------------------

@contextlib.asynccontextmanager
async def savepoint() -> AsyncIterator[None]:
    """Inside a transaction: undo only this block's writes when it raises (the rest carries on)."""
    tx = db.DB.current_transaction.get()
    if tx is None:
        raise RuntimeError("savepoint() needs a transaction")
    sp = await tx.savepoint()
    try:
        yield
    except BaseException:
        await sp.rollback_to()
        raise
    await sp.release()


def file_digest(data: bytes) -> str:
    """Names an upload in the audit trail (the same file imported twice has the same digest)."""
    return hashlib.sha256(data).hexdigest()[:16]


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- applying planned rows in the chosen mode ---------------------------------------------------

WRITE_CHUNK = 50     # rows per transaction in good_rows mode: one savepoint each, under PostgreSQL's 64


class _Rollback(Exception):
    """Undo an all-or-nothing import after a row failed while writing (things moved since the plan)."""


def row_errors(line: int, exc: DomainError, fields: Mapping[str, str] | None = None) -> list[RowError]:
    """A service's refusal of one row as RowErrors on that row's line (API field names mapped to the
    file's column names by `fields`)."""
    errors = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
    fields = fields or {}
    return [RowError(line, fields.get(e.field or "", e.field or ""), e.code, e.message) for e in errors]


async def apply_rows(result: ImportResult, todo: list[tuple[ImportItem, Any]],
                     write_row: Callable[[ImportItem, Any], Awaitable[None]],
                     summarize: Callable[[], Awaitable[None]], *, planned: Mapping[str, str],
                     fields: Mapping[str, str] | None = None) -> ImportResult:
    """Write the planned rows through `write_row` (a service call that sets the item's done action,
    or raises DomainError) in `result.mode`:
    - all_or_nothing: nothing when the plan has a bad row; else one transaction, and the first row
      that fails while writing undoes the lot (the items go back to their `planned` actions);
    - good_rows: WRITE_CHUNK rows per transaction, each in a savepoint, a failing row reported and
      skipped.
    `summarize` (the import's one audit entry) commits with the writes."""
    async def write(part: list[tuple[ImportItem, Any]], *, stop_at_error: bool) -> None:
        for item, payload in part:
            try:
                if stop_at_error:
                    await write_row(item, payload)
                else:
                    async with savepoint():
                        await write_row(item, payload)
            except DomainError as exc:
                item.errors += row_errors(item.lines[0], exc, fields)
                item.action = "error"
                if stop_at_error:
                    raise _Rollback from exc

    if result.mode == "all_or_nothing":
        if not finish(result).ok:      # the plan already has a bad row
            return result
        async with db.transaction():
            try:
                async with savepoint():     # undoes every row, also inside a caller's transaction
                    await write(todo, stop_at_error=True)
                    await summarize()
            except _Rollback:
                for item, _ in todo:
                    item.action = "error" if item.errors else planned.get(item.action, item.action)
                return finish(result)
    else:
        for part in chunks(todo, WRITE_CHUNK):
            async with db.transaction():
                await write(part, stop_at_error=False)
        async with db.transaction():
            await summarize()
    result.applied = True
    return finish(result)

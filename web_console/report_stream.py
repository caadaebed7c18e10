"""Report tables, and their CSV and JSON sent as they are encoded.

A month of agents by quarter hour is 150,000 rows: a table's rows may be made as they are
read (:class:`Table`), and its CSV or JSON goes out a thousand rows at a time, so neither the
rows nor the text of the whole answer is ever held at once, and other requests (the desk's
websockets, the AMI reader) get the event loop between chunks.

A client that leaves in the middle of a download is not an error of ours: the answer stops
there, logged at INFO (the export's audit row was written before the first byte).
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from web_console.errors import SECURITY_HEADERS
from web_console.transport import HSTS

_LOG = logging.getLogger(__name__)
ROWS_PER_CHUNK = 1000
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Totals keyed by campaign id: json.dumps wrote int keys as strings; so does this.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a report: column keys, their headings, rows of plain values.

    ``rows`` may be a sequence that makes each row as it is read. ``typed``: the columns that
    may hold text people typed (a username, a queue's name), the only ones a CSV needs to
    make safe for a spreadsheet; None when any column may."""

    columns: list[str]
    headings: list[str]
    rows: Sequence[Sequence[Any]]
    typed: tuple[int, ...] | None = None

    def csv(self) -> str:
        """The whole CSV at once (a small table: a segment's members)."""
        return "".join(csv_chunks(self))


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, quoted with ``'``."""
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value


def _chunks(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    it = iter(rows)
    while chunk := list(itertools.islice(it, ROWS_PER_CHUNK)):
        yield chunk


def _made_safe(typed: tuple[int, ...] | None) -> Callable[[Sequence[Any]], Sequence[Any]]:
    if typed is None:
        return lambda row: [csv_safe(v) for v in row]

    def typed_cells_safe(row: Sequence[Any]) -> Sequence[Any]:
        for index in typed:
            value = row[index]
            if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
                cells = list(row)
                cells[index] = "'" + value
                row = cells
        return row

    return typed_cells_safe


def csv_chunks(table: Table) -> Iterator[str]:
    """The table as CSV (headings first, CRLF line ends, None as an empty cell), a chunk of
    rows at a time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in table.headings])
    safe = _made_safe(table.typed)
    for chunk in _chunks(table.rows):
        writer.writerows(map(safe, chunk))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    if out.tell():
        yield out.getvalue()  # the headings of a table without rows


def json_chunks(head: dict[str, Any], table: Table) -> Iterator[bytes]:
    """``head`` as a JSON object with ``rows`` added last: the table's rows, each an object
    of its column keys."""
    yield orjson.dumps(head, option=_JSON_OPTIONS)[:-1] + (b',"rows":[' if head else b'"rows":[')
    columns = table.columns
    separator = b""
    for chunk in _chunks(table.rows):
        objects = [dict(zip(columns, row, strict=True)) for row in chunk]
        yield separator + orjson.dumps(objects, option=_JSON_OPTIONS)[1:-1]
        separator = b","
    yield b"]}"


def _started(request: web.Request, content_type: str) -> web.StreamResponse:
    response = web.StreamResponse()
    response.content_type = content_type
    response.charset = "utf-8"
    # The middlewares add these to an answer returned to them: this one's headers are sent
    # before that, when its first chunk is.
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    if request.secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _next_paused(chunks: Iterator[bytes]) -> bytes | None:
    """The next chunk, made with the cyclic garbage collector paused (nothing is awaited
    meanwhile, no other task runs). A chunk's rows and objects are freed by reference
    counting; the collections their making set off (200-350 for a month of agents by quarter
    hour, one a full one walking the report's 200,000 objects for 0.1 s) took 15 % of an
    export's time (measured; some 60 are left, as many as the report alone sets off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return next(chunks, None)
    finally:
        if enabled:
            gc.enable()


async def _send(
    request: web.Request, response: web.StreamResponse, chunks: Iterator[bytes]
) -> web.StreamResponse:
    try:
        await response.prepare(request)
        while (chunk := _next_paused(chunks)) is not None:
            await response.write(chunk)
            # write() returns at once while the socket takes the bytes: yield to the loop.
            await asyncio.sleep(0)
        await response.write_eof()
    except ConnectionError:
        _LOG.info("%s %s: the client left before the end", request.method, request.path)
    return response


async def stream_csv(request: web.Request, table: Table, filename: str) -> web.StreamResponse:
    """The table as a CSV attachment named ``filename``, sent a chunk of rows at a time."""
    response = _started(request, "text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return await _send(request, response, (text.encode() for text in csv_chunks(table)))


async def stream_json(
    request: web.Request, head: dict[str, Any], table: Table
) -> web.StreamResponse:
    """``head`` and the table's rows (``rows``, last) as JSON, sent a chunk of rows at a time.
    ``head`` is encoded before anything is sent: a value JSON cannot hold is a 500, not a
    broken answer."""
    chunks = json_chunks(head, table)
    first = next(chunks)
    response = _started(request, "application/json")
    return await _send(request, response, itertools.chain([first], chunks))

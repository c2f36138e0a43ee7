"""One delimited table read as text, with the file's true line numbers, and where a file goes wrong.

:func:`_read_table` loads a table as strings (ids stay as written, ``'007'`` reaches
:func:`~pprlib.data.schema.build_dataset` unchanged) and adds the column ``_row`` with the file's
1-based line number (the header counts, so the first data row of a headered file is row 2 and
of a headerless file row 1; a quoted field may span lines, and the rows after it keep their
true numbers). Blank lines (and rows with no value at all) are skipped; line numbers still count
them. An empty file, a wrong separator, a malformed row, a wrong number of fields or bytes that
are not text raise :class:`~pprlib.data.errors.DataValidationError` naming the file (and the
line, column or byte as a user counts them).
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pprlib.data.errors import ROW, DataValidationError, DataWarning

# separators we recognise when a file was read with the wrong one
_SEPARATORS = (",", ";", "\t", "|", "::")


def _read_table(
    source: str,
    data: Path | bytes,
    *,
    sep: str,
    columns: Sequence[str] | None = None,
    encoding: str = "utf-8",
    sep_hint: bool = False,
) -> pd.DataFrame:
    """One delimited table as strings plus ``_row`` (1-based line numbers in the file).

    ``columns=None``: the file has a header (names are stripped of surrounding spaces);
    otherwise it has no header and every row must have exactly these fields.
    Raises :class:`DataValidationError` naming ``source`` for an empty file, a wrong
    separator, a malformed row (pandas' message with the line number is kept) or a wrong
    number of fields; ``FileNotFoundError`` for a missing file.
    """
    if isinstance(data, Path):
        if not data.is_file():
            raise FileNotFoundError(f"{source}: file not found")
        if data.stat().st_size == 0:
            raise DataValidationError(f"{source}: the file is empty")
        handle = data
    else:
        if len(data) == 0:
            raise DataValidationError(f"{source}: the file is empty")
        handle = io.BytesIO(data)

    try:
        with warnings.catch_warnings():
            # pandas only *warns* when the first data row is longer than the header and
            # then drops the extra fields; make it an error instead
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                handle,
                sep=sep,
                header=0 if columns is None else None,
                dtype=str,  # ids such as '007' stay as written; build_dataset parses numbers
                keep_default_na=False,  # 'NA', 'null', 'None' are labels, not missing values
                skip_blank_lines=False,  # keep blank lines so that row numbers stay true
                index_col=False,  # never turn a first column into the index
                engine="python" if len(sep) > 1 else "c",  # the C engine takes one character
                encoding=encoding,
            )
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{source}: the file is empty (no columns to read)") from None
    except pd.errors.ParserWarning:  # only with a header: without one pandas counts line 1
        raise DataValidationError(
            f"{source}: malformed row: the first data row (line 2) has more fields than the "
            f"header"
        ) from None
    except pd.errors.ParserError as exc:
        message = " ".join(str(exc).split())  # pandas puts the line number in its message
        raise DataValidationError(f"{source}: malformed CSV: {message}") from None
    except UnicodeDecodeError as exc:  # pandas decodes in chunks: its position is within a chunk
        raise DataValidationError(_decode_error(source, data, encoding, exc)) from None

    if columns is None:
        frame.columns = [str(c).strip() for c in frame.columns]  # Ali: "new_user_class_level "
    _check_separator(frame, source, sep, header=columns is None, hint=sep_hint)
    if columns is not None:
        if frame.shape[1] != len(columns):
            raise DataValidationError(
                f"{source}: expected {len(columns)} fields per row ({', '.join(columns)}), "
                f"but line 1 has {frame.shape[1]}"
            )
        frame.columns = list(columns)

    frame[ROW] = np.arange(len(frame), dtype=np.int64) + (2 if columns is None else 1)
    starts = _record_lines(data, sep, encoding)  # a quoted field may span lines: count them
    if starts is not None and len(starts) == len(frame) + (columns is None):
        frame[ROW] = np.asarray(starts[1:] if columns is None else starts, dtype=np.int64)
    values = frame.drop(columns=ROW)
    blank = (values.isna() | values.apply(lambda c: c.str.strip() == "")).all(axis=1).to_numpy()
    frame = frame[~blank].reset_index(drop=True)
    if columns is not None and len(frame) and _looks_like_header(frame, columns):
        warnings.warn(
            f"{source}, line {frame[ROW].iloc[0]}: looks like a header line "
            f"({', '.join(repr(v) for v in frame.iloc[0, :-1])}) and is skipped: this format has no header",
            DataWarning, stacklevel=3)
        frame = frame.iloc[1:].reset_index(drop=True)
    return frame


def _raw(data: Path | bytes) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else bytes(data)


def _decode_error(source: str, data: Path | bytes, encoding: str, exc: UnicodeDecodeError) -> str:
    """Where a file stops being ``encoding`` text, as a user counts it: the byte (from 1), the
    line and the column (from 1), found by decoding the whole file (``exc`` as a fallback)."""
    raw = _raw(data)
    try:
        raw.decode(encoding)
        start, reason = exc.start, exc.reason
    except UnicodeDecodeError as whole:
        start, reason = whole.start, whole.reason
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return (f"{source}, line {line}: not {encoding} text ({reason} at byte {start + 1} of the file, "
            f"column {column} of the line, counting from 1)")


def _record_lines(data: Path | bytes, sep: str, encoding: str) -> list[int] | None:
    """The line (from 1) on which each record of a delimited file starts, blank lines and the
    header included, where a quoted field may hold line breaks; None where no field is quoted
    (every record is one line) or the separator is not one character."""
    raw = _raw(data)
    if len(sep) != 1 or b'"' not in raw:
        return None
    reader = csv.reader(io.StringIO(raw.decode(encoding), newline=""), delimiter=sep)
    starts, line = [], 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def _looks_like_header(frame: pd.DataFrame, columns: Sequence[str]) -> bool:
    """The first row of a headerless file names columns rather than holding values: a field
    equals a column name of the format, or every field is a word where the next row has numbers."""
    first = [str(v).strip() for v in frame.iloc[0][list(columns)]]
    names = {c.lower() for c in columns}
    if any(v.split(":")[0].lower() in names for v in first):
        return True
    if len(frame) < 2 or not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*", v) for v in first):
        return False
    second = [str(v).strip() for v in frame.iloc[1][list(columns)]]
    return any(re.fullmatch(r"[-+]?\d+(\.\d*)?", v) for v in second)


def _check_separator(frame: pd.DataFrame, source: str, sep: str, *, header: bool, hint: bool) -> None:
    """A table read as one column whose text holds another separator was read with the wrong one."""
    if frame.shape[1] != 1:
        return
    if header:
        text = str(frame.columns[0])
    else:
        values = frame.iloc[:, 0].dropna()
        text = str(values.iloc[0]) if len(values) else ""
    for other in _SEPARATORS:
        if other != sep and other in text:
            advice = f"; read it with sep={other!r}" if hint else ""
            raise DataValidationError(
                f"{source}: the file seems to use {other!r} as separator, not {sep!r} "
                f"(a single column was read: {text[:60]!r}){advice}"
            )


def _read_file(path: Path, **kwargs) -> pd.DataFrame:
    """:func:`_read_table` of a file on disk, named by its path in messages."""
    return _read_table(str(path), path, **kwargs)


def _folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder not found")
    return folder

"""How the data layer reports a problem with input data: the errors and warnings it raises,
and where in a source a problem sits (file, column, rows as the source numbers them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

ROW = "_row"
"""Optional column of raw frames: the row number in the source file, used in messages."""


class DataValidationError(ValueError):
    """A problem with input data; the message names the source, column and row or value."""


class DataWarning(UserWarning):
    """Something in the input was left out or changed; the message says what and where."""


def _where(source: str, column: str | None = None, rows: Sequence | None = None) -> str:
    parts = [source]
    if column is not None:
        parts.append(f"column {column!r}")
    if rows is not None and len(rows):
        shown = ", ".join(str(r) for r in list(rows)[:5])
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        parts.append(f"row{'s' if len(rows) > 1 else ''} {shown}{more}")
    return ", ".join(parts)


def _row_labels(frame: pd.DataFrame, mask: np.ndarray) -> list:
    """Row numbers for messages: the source's own numbering when the reader kept it."""
    if ROW in frame.columns:
        return frame.loc[mask, ROW].tolist()
    return frame.index[mask].tolist()

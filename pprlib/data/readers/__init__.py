"""Readers of raw interaction files, by format family: each returns a validated :class:`InteractionData`.

* :mod:`~pprlib.data.readers.tables`: one delimited table as text with true line numbers (shared);
* :mod:`~pprlib.data.readers.csv_pair`: your own data, two CSV files with a column mapping;
* :mod:`~pprlib.data.readers.movielens`: MovieLens (GroupLens folders, the recbole wheel);
* :mod:`~pprlib.data.readers.ecommerce`: the paper's click logs (CIKM 2019, Ali_Display_Ad_Click).

Every reader only *reads*: it loads the files as text (ids stay strings, so ``'007'`` reaches
:func:`~pprlib.data.schema.build_dataset` as written), adds the column ``_row`` with the
file's 1-based line number (the header counts, so the first data row of a headered file is
row 2 and of a headerless file row 1), keeps the rows it is asked to keep (clicks), and hands
the frames to :func:`build_dataset`, which does all validation, encoding and sorting and
names the file (or ``wheel.whl:member``), the column and the row in its messages.

This package re-exports the readers under their documented path ``pprlib.data.readers``; each
is defined in its family's module.
"""

from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.readers.ecommerce import ALI_PROFILE_FIELDS, CIKM_PROFILE_FIELDS, read_ali_display_ad, read_cikm2019
from pprlib.data.readers.movielens import (
    ML_AGE_BUCKETS,
    ML_PROFILE_FIELDS,
    MOVIELENS_1M_ENV,
    MOVIELENS_ENV,
    MOVIELENS_LABELS,
    DatasetUnavailableError,
    dataset_label,
    fetch_movielens_100k,
    read_grouplens,
    read_movielens_100k,
)

__all__ = [
    "DatasetUnavailableError",
    "read_csv_pair",
    "read_grouplens",
    "fetch_movielens_100k",
    "read_movielens_100k",
    "read_cikm2019",
    "read_ali_display_ad",
    "dataset_label",
    "ML_PROFILE_FIELDS",
    "ML_AGE_BUCKETS",
    "CIKM_PROFILE_FIELDS",
    "ALI_PROFILE_FIELDS",
    "MOVIELENS_ENV",
    "MOVIELENS_1M_ENV",
    "MOVIELENS_LABELS",
]

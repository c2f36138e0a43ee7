"""What the summary page and the introduction show of the claims' verdicts.

The tables of :func:`pprlib.reproduction.evaluate_claims` and
:func:`pprlib.reproduction.across_data` as the page shows them (text cells with short labels, one
table per dataset) and how many claims got each verdict (the book's findings in words are
:func:`pprlib.prose.findings`).
"""

from __future__ import annotations

import math
import re

import pandas as pd

from pprlib import evidence
from pprlib.reproduction import SUMMARY_VERDICTS

SUMMARY_COLUMNS = {"claim": "claim", "interval": "our effect [95% interval]", "unit": "unit of effect, δ and MDE",
                   "δ": "paper's δ", "MDE": "MDE", "p (Holm)": "p (Holm)", "verdict": "verdict"}
"""The summary page's main table: column of :func:`~pprlib.reproduction.evaluate_claims`
(``interval``: our effect and its interval as numbers; ``unit``: the unit of those numbers, of
``δ``, the paper's effect in our units, and of the MDE) -> its short label on the page."""

ACROSS_COLUMNS = {"ours": "our effect [95% interval]", "δ": "paper's δ (our effect's unit)",
                  "MDE": "MDE (our effect's unit)"}
"""The per-dataset tables of :func:`across_view`: column of
:func:`~pprlib.reproduction.across_data` -> its label on the page (our effect's cell names its unit)."""

DETAIL_COLUMNS = {"chapter": "chapter", "claim": "claim", "paper": "the paper reports", "ours": "ours (unit, relative)",
                  "δ (paper, our units)": "paper's δ (source)", "p": "p", "evidence": "evidence",
                  "simpler method": "a simpler method that beats the reference"}
"""The summary page's second table: where each δ comes from, and the evidence in full."""


def summary_view(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables the summary page shows for :func:`~pprlib.reproduction.evaluate_claims`'
    ``table``, as text with short labels: the main one (claim, our effect with its interval, the
    unit of the effect, δ and MDE (:func:`effect_unit`), the paper's δ in our units, MDE,
    Holm-adjusted p, verdict) and the details (chapter, the paper's
    numbers, our effect with its unit and relative change, where δ comes from, the unadjusted p
    and the evidence). Missing numbers show "—"."""
    shown = table.copy()
    shown["interval"] = [evidence.interval_text(e, lo, hi) if math.isfinite(e) else ours
                         for e, lo, hi, ours in zip(shown.effect.astype(float), shown.lo.astype(float),
                                                    shown.hi.astype(float), shown.ours, strict=True)]
    shown["unit"] = [effect_unit(interval, ours) for interval, ours in zip(shown.interval, shown.ours, strict=True)]
    shown["δ"] = [f"{d:+.4f}" if isinstance(d, float) and math.isfinite(d) else "—" for d in shown.delta]
    shown["MDE"] = shown.MDE.map(evidence.format_mde)
    shown["p"] = shown.p.map(evidence.format_p)
    shown["p (Holm)"] = shown["p (Holm)"].map(evidence.format_p)
    main = shown[list(SUMMARY_COLUMNS)].rename(columns=SUMMARY_COLUMNS)
    details = shown[list(DETAIL_COLUMNS)].rename(columns=DETAIL_COLUMNS)
    return main, details


def effect_unit(interval: str, ours: str) -> str:
    """The unit of a claim's effect: what its ``ours`` cell (``"<interval> <unit>"`` and, for a
    relative claim, `` (+0.44%)``) says after the interval; "—" where the cell is no interval
    (the parameter share, a claim not run: the cell then says its own unit)."""
    if interval == "—" or not ours.startswith(interval + " "):
        return "—"
    unit = re.sub(r" \([+-]?\d+(\.\d+)?%\)$", "", ours[len(interval) + 1:]).strip()
    return unit or "—"


def across_view(across: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """:func:`~pprlib.reproduction.across_data` as one table per dataset (claim, our effect with
    its unit, δ, MDE, verdict; :data:`ACROSS_COLUMNS`), so that each fits the page's column; the
    paper's numbers are in the summary's details."""
    claims = across[("", "claim")]
    return {d: across[d].set_axis(claims, axis=0).rename(columns=ACROSS_COLUMNS).rename_axis("claim")
            for d in dataset_labels(across)}


def dataset_labels(across: pd.DataFrame) -> list[str]:
    """The dataset labels of an :func:`~pprlib.reproduction.across_data` table, in its column order."""
    return [d for d in dict.fromkeys(across.columns.get_level_values(0)) if d]


def verdict_counts(table: pd.DataFrame, across: pd.DataFrame, ablation: pd.DataFrame | None = None) -> pd.DataFrame:
    """How many claims got each verdict: every scored claim on the generated data, the main
    claims (:data:`~pprlib.reproduction.ACROSS_DATA`) on each dataset and, given
    :func:`~pprlib.reproduction.ablation_across`, the ablation's claims on its second dataset."""
    columns = {"all claims (generated data)": table.verdict}
    columns |= {f"main claims ({d})": across[(d, "verdict")] for d in dataset_labels(across)}
    if ablation is not None:
        columns |= {f"ablation claims ({d})": ablation[(d, "verdict")] for d in dataset_labels(ablation)[1:]}
    return pd.DataFrame({name: pd.Series(list(v)).value_counts().reindex(SUMMARY_VERDICTS, fill_value=0)
                         for name, v in columns.items()}).rename_axis("verdict")



"""Property-based tests of the CSV reader: any valid pair of files reads without error, and
nothing is lost or reordered beyond the documented sort by (user, time)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.schema import MISSING

ids = st.one_of(st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True),
                st.sampled_from(["NA", "null", "None", "nan", "N/A", "007"]))
values = st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,8}", fullmatch=True).map(str.strip).filter(bool),
                   st.integers(0, 99).map(str), st.from_regex(r"0[0-9]{1,4}", fullmatch=True),  # zip codes
                   st.sampled_from(["NA", "null", "None", "nan"]), st.just(""))


def _number(label: str) -> str:
    """The number an id spells (``'007'`` -> ``'7'``), or the id itself."""
    return str(int(label)) if label.isdigit() and label.isascii() else label


@st.composite
def csv_pairs(draw):
    # one spelling per number: '7' beside '007' is refused (pprlib.data.checks.refuse_two_spellings)
    users = draw(st.lists(ids, min_size=1, max_size=8, unique_by=_number))
    items = draw(st.lists(ids, min_size=1, max_size=12, unique_by=_number))
    n_fields = draw(st.integers(1, 3))
    fields = [f"field{j}" for j in range(n_fields)]
    profiles = {u: [draw(values) for _ in fields] for u in users}
    for j in range(n_fields):  # a field must have at least one value somewhere
        if all(profiles[u][j] == "" for u in users):
            profiles[users[0]][j] = "x"
    events = draw(st.lists(st.tuples(st.sampled_from(users), st.sampled_from(items), st.integers(0, 10**9)),
                           min_size=1, max_size=40, unique=True))
    return users, fields, profiles, events


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_pairs())
def test_any_valid_pair_reads_and_keeps_every_click(pair):
    users, fields, profiles, events = pair
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pd.DataFrame(events, columns=["user_id", "item_id", "timestamp"]).to_csv(folder / "i.csv", index=False)
        # ids are written as they are (pandas must not turn 'NA' or '007' into something else)
        pd.DataFrame([[u, *profiles[u]] for u in users], columns=["user_id", *fields]).to_csv(
            folder / "u.csv", index=False)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # users without clicks are left out with a warning
            data = read_csv_pair(folder / "i.csv", folder / "u.csv")
    assert data.n_interactions == len(events)
    active = {u for u, _, _ in events}
    assert set(data.user_ids) == active
    for u in range(data.n_users):
        label = data.user_ids[u]
        seq = data.sequence(u)
        expected = sorted(((t, i) for v, i, t in events if v == label), key=lambda x: x[0])
        assert [data.item_ids[k] for k in seq] == [i for _, i in expected]
        read_profile = data.profile_labels(u)
        for j, f in enumerate(fields):
            raw = profiles[label][j]
            assert read_profile[f] == (MISSING if raw == "" else raw)  # text as written: '02139' stays

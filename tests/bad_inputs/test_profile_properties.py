"""Property-based tests of the profile schema: any mapping is either a valid BookConfig or a
ValueError that names a key; never another exception (a TypeError, an IndexError...). The same
holds for any text given as a profile file."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pprlib import book
from pprlib.experiments import PROFILE_KEYS, BookConfig
from pprlib.params import SettingError

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["synthetic", "movielens-100k", "csv:", "auto", "cpu", "cuda:0", "SASRec",
                                           "ce", "bpr", "false", "5e-3", "[1, 2]"]),
    st.dates(),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                           max_size=3), max_leaves=8)
keys = st.one_of(st.sampled_from(sorted(PROFILE_KEYS) + ["progress", "pretrain_lr", "pretrain_epoch", "Seed"]),
                 st.text(max_size=10), st.integers(), st.none())
FIELDS = {f.name: f for f in dataclasses.fields(BookConfig)}


def plausible_value(name):
    """Values near the valid ones, so that the range checks are reached too."""
    default = FIELDS[name].default
    if isinstance(default, tuple):
        item = default[0] if default else 0  # an empty default (main_seeds) holds seeds
        return st.lists(st.one_of(st.just(item), st.integers(-3, 10), st.floats(-1, 3), st.text(max_size=3)),
                        max_size=4)
    return st.one_of(st.just(default), values)


@st.composite
def profiles(draw):
    names = draw(st.lists(st.sampled_from(sorted(PROFILE_KEYS)), max_size=6, unique=True))
    out = {name: draw(plausible_value(name)) for name in names}
    out.update(draw(st.dictionaries(keys, values, max_size=2)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_any_mapping_is_a_config_or_a_clear_error(params):
    try:
        config = BookConfig.from_params(params)
    except SettingError as exc:
        assert str(exc.key) and exc.detail  # names a key and says what is wrong
        return
    except ValueError as exc:  # a dataset name DataSpec refused names the dataset
        assert "DataSpec.source" in str(exc)
        return
    for name, value in params.items():  # accepted: the values are there, lists as tuples
        got = getattr(config, name)
        assert got == (tuple(value) if isinstance(value, list) else value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode),
                 st.lists(st.sampled_from([b"seed: 1\n", b"seeds: [0, 1]\n", b"seed: 2\n", b"- x\n", b"  a: b\n",
                                           b"lr_grid: [1e-3\n", b"\t", b"\xe9", b"# c\n", b"device: cpu\n",
                                           b"deterministic: no\n", b"{", b": :", b"!!python/object:os.system x\n"]),
                          max_size=6).map(b"".join)))
def test_any_file_is_a_profile_or_a_clear_error(content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mine.yaml"
        path.write_bytes(content)
        try:
            params = book.load_profile(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path))  # every message names the file first
            return
    BookConfig.from_params(params)  # what load_profile accepts, the chapters accept

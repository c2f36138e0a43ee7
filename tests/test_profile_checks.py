"""Profiles checked before any work, generated: every profile is either accepted or refused with
one ``ValueError`` that names a setting it changed, fast, without starting any work; and
settings that constrain one another (the generated catalogue against the histories and the
evaluation's negatives) are refused together in the profile's own terms."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pprlib.context
import pprlib.data.synthetic
import pprlib.runs
from pprlib import profiles, resources
from pprlib.config import BACKBONES, BookConfig, check_together
from pprlib.context import book_data
from pprlib.data.protocol import ProtocolConfig
from pprlib.data.synthetic import SyntheticConfig
from pprlib.params import SettingError

TINY = profiles.PROFILES_DIR / "tiny.yaml"
BASE = yaml.safe_load(TINY.read_text())
GIB = 2**30

# ------------------------------------------------------------------------------------------
# generated profiles
# ------------------------------------------------------------------------------------------
SIZES = ("n_users", "n_items", "heldout_users", "zero_shot_users", "dose_users")
COUNTS = ("seed", "pretrain_epochs", "tune_epochs", "dose_pretrain_epochs")
SEED_LISTS = ("seeds", "main_seeds", "zero_shot_seeds")
FLOAT_LISTS = ("lr_grid", "noise_rates", "cl_weights", "temperatures", "mask_ratios", "dose_levels")
INT_LISTS = ("k_shots", "prompt_lengths")

wrong_type = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12), st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), max_size=2))
sizes = st.one_of(st.integers(-10, 5_000), st.integers(5_000, 2**40),  # in range, out of range, beyond the machine
                  st.sampled_from([0, 1, 50, 200, 201, 2**31 - 1, 2**31, 2**63, 10**30]))
counts = st.one_of(st.integers(-3, 100), st.sampled_from([2**31, 2**32, 2**64, -(2**63)]))
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, 1.0, 1e-3, -1e-3, 2.0])


def _value(key: str):
    """Values of the setting ``key``: of its type in and out of range, and of other types."""
    if key in SIZES:
        right = sizes
    elif key in COUNTS:
        right = counts
    elif key in SEED_LISTS:
        right = st.lists(counts, max_size=4)
    elif key in FLOAT_LISTS:
        right = st.lists(floats, max_size=4)
    elif key in INT_LISTS:
        right = st.lists(st.integers(-2, 10**6) | st.sampled_from([2**40]), max_size=3)
    elif key == "dataset":
        right = st.sampled_from(["synthetic", "movielens-100k", "netflix", "csv:", "csv:no/such/folder",
                                 "grouplens:no/such/folder", " synthetic"])
    elif key == "pretrain_loss":
        right = st.sampled_from(["ce", "bpr", "hinge", "CE"])
    elif key == "device":
        right = st.sampled_from(["auto", "cpu", "cuda", "cuda:0", "cuda:7", "cuda:99999999999999999999", "tpu", "gpu"])
    elif key == "backbones":
        right = st.lists(st.sampled_from([*BACKBONES, "BERT4Rec", ""]), max_size=3)
    elif key == "deterministic":
        right = st.booleans()
    elif key == "profile":
        right = st.text(max_size=8)
    else:
        raise AssertionError(f"no values for the setting {key!r}: add them here")
    return st.one_of(right, right, wrong_type)  # two thirds of their own type


KEYS = sorted(BASE)
UNKNOWN = st.sampled_from(["n_user", "n_itmes", "seeds_", "learning_rate", "epochs", "Profile"])


@st.composite
def generated_profiles(draw):
    """The ``tiny`` profile with one to three settings changed (and sometimes a key it does not
    have): ``(the mapping, the keys changed)``."""
    changed = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
    params = dict(BASE)
    for key in changed:
        params[key] = draw(_value(key))
    if draw(st.integers(0, 9)) == 0:
        extra = draw(UNKNOWN)
        params[extra] = draw(st.integers(0, 3))
        changed.append(extra)
    return params, changed


def surely_wrong(params: dict, changed: list[str]) -> bool:
    """Whether a changed setting is wrong whatever else the profile says: a key no profile has,
    nothing, a number that is not finite, a negative size or count, a boolean for a number."""
    for key in changed:
        value = params[key]
        items = value if isinstance(value, list) else [value]
        if key not in BASE or value is None:
            return True
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            return True
        numeric = key in SIZES + COUNTS + SEED_LISTS + FLOAT_LISTS + INT_LISTS
        if numeric and any(isinstance(v, bool) for v in items):
            return True
        if key in SIZES + COUNTS and isinstance(value, int) and value < 0:
            return True
    return False


def test_every_setting_has_generated_values():
    assert set(KEYS) == set(SIZES + COUNTS + SEED_LISTS + FLOAT_LISTS + INT_LISTS) | {
        "dataset", "pretrain_loss", "device", "backbones", "deterministic", "profile"}


@pytest.fixture
def no_work(monkeypatch):
    """Data generation, splitting and pre-training fail the test if anything starts them; the
    machine has 8 GiB available, whatever it really has (the refusals do not depend on it)."""
    def started(*args, **kwargs):
        raise AssertionError("work started before the profile was accepted")

    for module, name in [(pprlib.data.synthetic, "generate"), (pprlib.runs, "pretrain"),
                         (pprlib.context, "load_split"), (pprlib.context, "load_data")]:
        monkeypatch.setattr(module, name, started)
    monkeypatch.setattr(resources, "available_memory", lambda: 8 * GIB)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=generated_profiles())
@example(generated=({**BASE, "n_items": 50}, ["n_items"]))
@example(generated=({**BASE, "n_users": 2**31 - 1}, ["n_users"]))
@example(generated=({**BASE, "seeds": [2**64]}, ["seeds"]))
@example(generated=({**BASE, "lr_grid": [math.nan]}, ["lr_grid"]))
def test_a_generated_profile_is_accepted_or_refused_naming_a_setting_before_work(generated, tmp_path, no_work):
    params, changed = generated
    path = tmp_path / "generated.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    start = time.perf_counter()
    try:
        loaded = profiles.load_profile(path)
    except ValueError as exc:  # SettingError is one; no other exception type may come out
        message = str(exc)
        assert message.startswith(str(path)), message
        assert "\n" not in message, message
        assert any(f"key {key!r}" in message for key in changed), (changed, message)
        accepted = False
    else:
        accepted = True
    assert time.perf_counter() - start < 10, "the check took longer than a check should"
    assert not (accepted and surely_wrong(params, changed)), f"accepted {[(k, params[k]) for k in changed]}"
    if accepted:  # what the first chapter does first with it cannot fail on these settings
        config = BookConfig.from_params(loaded)
        assert resources.memory_needed(config)[0] <= 8 * GIB
        ProtocolConfig(seed=config.seed)
        if config.dataset == "synthetic":
            SyntheticConfig(n_users=config.n_users, n_items=config.n_items, seed=config.seed,
                            heldout_users=config.heldout_users, zero_shot_users=config.zero_shot_users)
            SyntheticConfig(n_users=config.dose_users, n_items=config.n_items, seed=config.seed,
                            heldout_users=3 * config.dose_users)  # the dose study's reduced worlds


# ------------------------------------------------------------------------------------------
# settings that constrain one another: the generated catalogue
# ------------------------------------------------------------------------------------------
def _profile(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}, sort_keys=False))
    return path


@pytest.mark.parametrize("n_items", [50, 100, 150, 200])
def test_a_catalogue_smaller_than_the_histories_is_refused_naming_n_items(tmp_path, n_items, no_work):
    """Before this check a catalogue of 50 items passed the profile and the first chapter died in
    the generator with ``SyntheticConfig.max_length (200) must be below n_items (50)``, a setting
    no profile has."""
    path = _profile(tmp_path, n_items=n_items)
    with pytest.raises(ValueError) as info:
        profiles.load_profile(path)
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith("n_items:"))
    assert str(info.value) == (
        f"{path}, line {line}: key 'n_items' must be at least 201 for generated data (dataset: synthetic), got "
        f"{n_items}: the generator's histories hold up to 200 clicks and must leave items unclicked, since every "
        "evaluated click is ranked against 99 items its user never clicked; raise n_items to 201 or more (299 "
        "leaves room for 99 negatives beside the longest history)")


def test_the_smallest_catalogue_accepted_is_one_above_the_longest_history(tmp_path, no_work):
    assert SyntheticConfig.max_length == 200 and ProtocolConfig.n_negatives == 99  # what the message says
    assert profiles.load_profile(_profile(tmp_path, n_items=201))["n_items"] == 201
    SyntheticConfig(n_items=201)  # the generator takes it


def test_real_data_ignores_the_catalogue_setting():
    check_together(BookConfig(dataset="movielens-100k", n_items=5))


def test_a_chapter_meets_the_same_message_in_the_profiles_terms(no_work):
    """A chapter that builds its data from settings the profile check never saw (a notebook run
    by hand) gets the profile's setting named too, not the generator's."""
    with pytest.raises(SettingError) as info:
        book_data(BookConfig(n_items=50))
    assert info.value.key == "n_items" and str(info.value).startswith("BookConfig.n_items must be at least 201")
    with pytest.raises(AssertionError, match="work started"):  # an explicit generator is the caller's own
        book_data(BookConfig(n_items=50), synthetic=SyntheticConfig(n_users=100, n_items=80, max_length=60))

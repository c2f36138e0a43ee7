"""The time a run will take, stated before the first chapter (never a refusal): the measured
seconds per chapter of ``benchmarks/results/book_time.csv``, scaled by the profile's users,
epochs and seeds (:func:`pprlib.resources.time_needed`)."""

from __future__ import annotations

import csv
import shutil
import statistics

import pytest

from pprlib import book, profiles
from pprlib.resources import MEASURED_TIME, SCALED_BY, time_needed
from pprlib.timing import PARTS

DEFAULT = profiles.read_profile_file(profiles.PROFILES_DIR / "default.yaml")[0]
TINY = profiles.read_profile_file(profiles.PROFILES_DIR / "tiny.yaml")[0]


def _measured() -> list[dict]:
    with open(MEASURED_TIME, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if r["label"] == rows[-1]["label"]]


CHAPTERS = [r["chapter"] for r in _measured()]


def test_every_measured_part_is_scaled_by_something_said():
    assert set(SCALED_BY) == {*PARTS, "everything else"}


def test_the_measured_profile_is_estimated_at_its_measured_seconds():
    seconds, sentence = time_needed(DEFAULT, CHAPTERS, jobs=1)
    assert seconds == pytest.approx(sum(float(r["seconds"]) for r in _measured()), rel=1e-3)
    latest = _measured()[-1]
    assert sentence.startswith(f"estimated about {seconds / 60:,.0f} min for {len(CHAPTERS)} chapter(s) at --jobs 1 "
                               f"on a machine like {latest['machine']}: the measured seconds per chapter "
                               f"({latest['label']}, benchmarks/results/book_time.csv) scaled by "
                               "users, epochs and seeds")


@pytest.mark.parametrize("change", [
    {"n_users": 12000}, {"heldout_users": 30000}, {"zero_shot_users": 40000},
    {"seeds": [0, 1, 2, 3, 4, 5]}, {"main_seeds": list(range(12))}, {"zero_shot_seeds": list(range(24))},
    {"tune_epochs": 60}, {"pretrain_epochs": 80}, {"dose_users": 1600},
])
def test_more_users_seeds_or_epochs_take_longer(change):
    base, _ = time_needed(DEFAULT, CHAPTERS)
    more, _ = time_needed({**DEFAULT, **change}, CHAPTERS)
    assert more > base + 10, change


def test_users_and_seeds_scale_their_parts_in_proportion():
    """Twice the users and seeds: the tuning parts four times, the fixed parts (kernel start,
    imports, figures) unchanged."""
    rows = {r["chapter"]: r for r in _measured()}
    chapter = "sparsity"  # tuning, validation, test evaluation and choice; no pre-training, no ceilings
    base, _ = time_needed(DEFAULT, [chapter])
    doubled = {**DEFAULT, "n_users": 2 * DEFAULT["n_users"], "heldout_users": 2 * DEFAULT["heldout_users"],
               "zero_shot_users": 2 * DEFAULT["zero_shot_users"], "seeds": list(range(6)),
               "main_seeds": list(range(12)), "zero_shot_seeds": list(range(24))}
    more, _ = time_needed(doubled, [chapter])
    row = {k: float(v) for k, v in rows[chapter].items() if k in SCALED_BY}
    assert base == pytest.approx(sum(row.values()))
    assert more == pytest.approx(row["everything else"] + 4 * (sum(row.values()) - row["everything else"]))


def test_fewer_users_never_go_below_the_fixed_part():
    seconds, _ = time_needed({**DEFAULT, "n_users": 1, "heldout_users": 0, "zero_shot_users": 0}, CHAPTERS)
    assert seconds >= sum(float(r["everything else"]) for r in _measured())
    tiny, _ = time_needed(TINY, CHAPTERS)
    assert 60 < tiny < time_needed(DEFAULT, CHAPTERS)[0] / 4


def test_chapters_at_once_divide_the_sum_up_to_the_measured_cores_and_the_longest_chapter():
    one, _ = time_needed(DEFAULT, CHAPTERS, jobs=1)
    assert time_needed(DEFAULT, CHAPTERS, jobs=2)[0] == pytest.approx(one / 2)
    assert time_needed(DEFAULT, CHAPTERS, jobs=8)[0] == pytest.approx(one / 2)  # measured on 2 cores
    longest = max(float(r["seconds"]) for r in _measured())
    assert time_needed(DEFAULT, ["mechanism", "summary"], jobs=2)[0] == pytest.approx(longest, abs=0.5)  # parts rounded


def test_fewer_chapters_take_less_and_an_unmeasured_one_counts_as_the_median():
    assert time_needed(DEFAULT, CHAPTERS[:3])[0] < time_needed(DEFAULT, CHAPTERS)[0]
    seconds, sentence = time_needed(DEFAULT, ["a_new_chapter"])
    assert seconds == pytest.approx(sum(statistics.median(float(r[part]) for r in _measured()) for part in SCALED_BY))
    assert "1 chapter(s) not measured count as the median one" in sentence


def test_settings_a_profile_leaves_out_are_the_measured_ones():
    """A profile file need not set every setting: the chapters then use BookConfig's defaults,
    which are the default profile's, the one measured."""
    from pprlib.config import BookConfig

    assert BookConfig.from_params(DEFAULT) == BookConfig(profile="default")
    assert time_needed({}, CHAPTERS) == time_needed(DEFAULT, CHAPTERS)
    assert time_needed({"n_users": 12000}, CHAPTERS)[0] > time_needed(DEFAULT, CHAPTERS)[0]


def test_no_estimate_for_real_data_or_without_a_measurement(tmp_path):
    assert time_needed({**DEFAULT, "dataset": "movielens-100k"}, CHAPTERS) == (
        None, "no time estimate: the measured run is of generated data, and dataset 'movielens-100k' is sized by its "
              "files")
    seconds, sentence = time_needed(DEFAULT, CHAPTERS, measured=tmp_path / "none.csv")
    assert seconds is None and sentence.startswith("no time estimate: no measurement to scale (")
    empty = tmp_path / "empty.csv"
    shutil.copy(MEASURED_TIME, empty)
    empty.write_text(empty.read_text().splitlines()[0] + "\n")
    assert time_needed(DEFAULT, CHAPTERS, measured=empty)[0] is None


def test_the_runner_states_the_estimate_before_the_first_chapter(tmp_path, monkeypatch, write_notebook):
    """Only the chapters it will execute count: one up to date is left out of the next estimate."""
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    pages = [write_notebook(root / "book" / f"{name}.ipynb", "n_users = 1", "x = 1") for name in ("few_shot", "noise")]
    monkeypatch.setattr(book, "ROOT", root)
    monkeypatch.setattr(book, "toc_files", lambda: pages)
    monkeypatch.setattr("papermill.execute_notebook", lambda source, output, **kw: shutil.copy(source, output))
    profile = tmp_path / "p.yaml"
    profile.write_text("n_users: 6000\n")
    lines = []
    book.execute(profile, build_dir=tmp_path / "_build", jobs=1, log=lines.append)
    expected = time_needed({"n_users": 6000}, ["few_shot", "noise"], 1)[1]
    assert lines[0] == f"[book] {expected}" and lines[1] == "[book] book/few_shot.ipynb: started"

    write_notebook(pages[1], "n_users = 1", "x = 2")  # changed: only it runs again
    lines.clear()
    book.execute(profile, build_dir=tmp_path / "_build", jobs=1, log=lines.append)
    assert lines[:2] == ["[book] book/few_shot.ipynb: up to date, skipped",
                         f"[book] {time_needed({'n_users': 6000}, ['noise'], 1)[1]}"]

    lines.clear()
    book.execute(profile, build_dir=tmp_path / "_build", jobs=1, log=lines.append)
    assert not any("estimate" in line for line in lines)  # nothing to execute, nothing estimated

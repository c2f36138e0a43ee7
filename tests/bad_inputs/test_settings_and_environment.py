"""The bad-input corpus, part two: run profiles, command-line arguments, data read wrongly
without a word, structural limits of the protocol, and a damaged cache or environment.

Every case compares the whole message a user sees (``{dir}`` stands for the folder its files
were written to); where the input is valid after all, the case checks the right result.
"""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile

import numpy as np
import pytest

from pprlib import book
from pprlib.cache import CacheError, cache_dir, cached
from pprlib.cli import main
from pprlib.data import DataValidationError, DataWarning
from pprlib.data.protocol import ProtocolConfig, split
from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.readers.ecommerce import read_cikm2019
from pprlib.data.readers.movielens import read_grouplens, read_movielens_100k
from pprlib.data.schema import MISSING, InteractionData
from pprlib.experiments import BookConfig, recommend

SETTINGS = ("['backbones', 'cl_weights', 'dataset', 'deterministic', 'device', 'dose_levels', 'dose_pretrain_epochs', 'dose_users', 'heldout_users', 'k_shots', 'lr_grid', 'main_seeds', 'mask_ratios', "
            "'n_items', 'n_users', 'noise_rates', 'pretrain_epochs', 'pretrain_loss', 'profile', 'prompt_lengths', 'seed', 'seeds', "
            "'temperatures', 'tune_epochs', 'zero_shot_seeds', 'zero_shot_users']")
NAMES = book.profile_names()

# ------------------------------------------------------------------------------------------
# run profiles: every key known, every value of the right type and range, YAML read strictly
# ------------------------------------------------------------------------------------------
PROFILE_CASES = {
    "misspelt key": (b"seed: 1\npretrain_epoch: 3\n",
                     "{path}, line 2: key 'pretrain_epoch' is not a setting; did you mean 'pretrain_epochs'? "
                     f"The settings are {SETTINGS}"),
    "key far from any setting": (b"colour: blue\n", f"{{path}}, line 1: key 'colour' is not a setting. The settings are {SETTINGS}"),
    "empty file": (b"", "{path}: the profile is empty; write its settings (copy book/profiles/default.yaml and "
                        "change what you need)"),
    "only comments": (b"# my profile\n\n", "{path}: the profile is empty; write its settings (copy "
                                            "book/profiles/default.yaml and change what you need)"),
    "duplicate key": (b"seed: 1\nn_users: 900\nseed: 2\n",
                      "{path}, line 3: key 'seed' is written twice (first on line 1); keep one of them"),
    "boolean written as a string": (b'deterministic: "false"\n',
                                    "{path}, line 1: key 'deterministic' must be true or false, got 'false' "
                                    "(a string); write false without quotes"),
    "a number where a list belongs": (b"seeds: 3\n", "{path}, line 1: key 'seeds' must be a list of integers such "
                                                     "as [0, 1, 2], got 3"),
    "a fraction in a list of integers": (b"seeds: [1.7]\n",
                                         "{path}, line 1: key 'seeds' item 1 must be an integer, got 1.7"),
    "a word where a list of numbers belongs": (b"lr_grid: fast\n",
                                               "{path}, line 1: key 'lr_grid' must be a list of numbers such as "
                                               "[0.0001, 0.001], got 'fast' (a string)"),
    "a quoted number": (b'n_users: "800"\n', "{path}, line 1: key 'n_users' must be an integer, got '800' "
                                             "(a string); write the number without quotes"),
    "a boolean where an integer belongs": (b"n_items: yes\n", "{path}, line 1: key 'n_items' must be an integer, "
                                                             "got True (a boolean)"),
    "an empty value": (b"seed:\n", "{path}, line 1: key 'seed' must be an integer, got nothing (an empty value)"),
    "not a number": (b"lr_grid: [.nan]\n", "{path}, line 1: key 'lr_grid' item 1 must be a finite number, got nan"),
    "a rate above 1": (b"noise_rates: [0.0, 1.5]\n",
                       "{path}, line 1: key 'noise_rates' must hold rates from 0 to 1, got 1.5"),
    "a zero temperature": (b"temperatures: [0]\n",
                           "{path}, line 1: key 'temperatures' must hold temperatures > 0, got 0.0"),
    "a repeated seed": (b"seeds: [0, 0]\n", "{path}, line 1: key 'seeds' must not repeat a seed, got [0, 0]"),
    "a negative seed": (b"seed: -1\n", "{path}, line 1: key 'seed' must hold integers from 0 to 2**32 - 1 "
                                       "(random seeds), got -1"),
    "no epochs": (b"tune_epochs: 0\n", "{path}, line 1: key 'tune_epochs' must be a positive integer, got 0"),
    "an unknown backbone": (b"backbones: [SASRec, BERT4Rec]\n",
                            "{path}, line 1: key 'backbones' must name backbones from ['SASRec', 'CL4SRec', "
                            "'GRU4Rec', 'SASRec (2 layers)'], got 'BERT4Rec'"),
    "an unknown device": (b"device: gpu\n",
                          "{path}, line 1: key 'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
    "a setting no chapter reads": (b"pretrain_lr: 5e-3\n",
                                   "{path}, line 1: key 'pretrain_lr' cannot be set here: no chapter's parameters "
                                   "cell reads it (set it in code)"),
    "YAML syntax error": (b"seed: 1\nseeds: [0, 1\ndevice: cpu\n",
                          "{path}, line 3, column 7, key 'seeds': not valid YAML (while parsing a flow sequence "
                          "that starts on line 2, column 8: expected ',' or ']', but got ':')"),
    "a tab for indentation": (b"seed:\t1\n", "{path}, line 1, column 6, key 'seed': not valid YAML (while scanning "
                                              "for the next token: found character '\\t' that cannot start any token)"),
    "a non-UTF-8 byte": (b"seed: 1\ndataset: caf\xe9\n",
                         "{path}, line 2, key 'dataset': not UTF-8 text (byte 0xe9); save the profile as UTF-8"),
    "a list instead of a mapping": (b"- seed\n- 1\n", "{path}: a profile must be a mapping of parameter names to values"),
    "a dataset folder that is missing": (b"dataset: csv:no/such/folder\n",
                                         "{path}, line 1: key 'dataset' names no usable data: DataSpec.source "
                                         "'csv:no/such/folder': folder {root}/no/such/folder not found (read from the "
                                         "project root); the dataset must be 'synthetic', 'movielens-100k', "
                                         "'csv:<folder>', 'cikm2019:<folder>', 'ali-display-ad:<folder>' or "
                                         "'grouplens:<folder>'"),
}


@pytest.mark.parametrize("kind", list(PROFILE_CASES))
def test_profile_rejects(kind, tmp_path):
    content, expected = PROFILE_CASES[kind]
    path = tmp_path / "mine.yaml"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        book.load_profile(path)
    assert str(info.value) == expected.format(path=path, root=book.ROOT)


def test_profile_that_is_a_folder(tmp_path):
    with pytest.raises(ValueError) as info:
        book.load_profile(tmp_path)
    assert str(info.value) == (f"profile '{tmp_path}' is a folder, not a file; give a YAML file (such as "
                               f"book/profiles/tiny.yaml) or a name from {NAMES}")


def test_profile_name_in_the_wrong_case_suggests_the_right_one():
    with pytest.raises(ValueError) as info:
        book.load_profile("Tiny")
    assert str(info.value) == f"unknown profile 'Tiny' (did you mean 'tiny'?); choose from {NAMES} or give a YAML file"


@pytest.mark.parametrize("name", ["mine.YAML", "mine.Yml", "mine"])
def test_profile_file_with_any_suffix_is_read(tmp_path, name):
    path = tmp_path / name
    path.write_text("seed: 3\n")
    assert book.load_profile(path) == {"seed": 3, "profile": "mine"}


def test_profile_name_with_its_suffix_is_found_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert book.load_profile("tiny.yaml") == book.load_profile("tiny")


def test_yaml_floats_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("lr_grid: [5e-3, 1E-4]\n")
    assert BookConfig.from_params(book.load_profile(path)).lr_grid == (5e-3, 1e-4)


def test_book_config_direct_use_is_as_strict():
    with pytest.raises(ValueError) as info:
        BookConfig(deterministic="false")
    assert str(info.value) == ("BookConfig.deterministic must be true or false, got 'false' (a string); "
                               "write false without quotes")


# ------------------------------------------------------------------------------------------
# the command line: every argument checked before any work
# ------------------------------------------------------------------------------------------
@pytest.fixture
def no_execution(monkeypatch):
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(a))
    return started


def test_cli_build_dir_with_a_wrong_name_fails_before_any_chapter(tmp_path, capsys, no_execution):
    assert main(["book", "--profile", "tiny", "--build-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: --build-dir {tmp_path}/out: the build folder must be called _build (Jupyter Book writes to "
        f"<folder>/_build); use {tmp_path}/out/_build")
    assert no_execution == []


def test_cli_build_dir_that_is_a_file(tmp_path, capsys, no_execution):
    (tmp_path / "_build").write_text("not a folder")
    assert main(["book", "--profile", "tiny", "--build-dir", str(tmp_path / "_build")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: --build-dir {tmp_path}/_build: {tmp_path}/_build is a file, not a folder; remove it or choose "
        "another folder")
    assert no_execution == []


def test_cli_bad_profile_value(tmp_path, capsys, no_execution):
    path = tmp_path / "mine.yaml"
    path.write_text("k_shots: [1, 3.5]\n")
    assert main(["book", "--profile", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {path}, line 1: key 'k_shots' item 2 must be an integer, got 3.5"
    assert no_execution == []


def test_cli_stats_uses_the_profiles_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    folder = tmp_path / "mine"
    folder.mkdir()
    rows = ["user_id,item_id,timestamp"]
    for u in range(60):
        n = 3 + u % 5 if u < 30 else 15
        rows += [f"u{u},i{i},{t}" for t, i in enumerate(rng.choice(300, size=n, replace=False))]
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    (folder / "users.csv").write_text("user_id,g\n" + "".join(f"u{u},{'ab'[u % 2]}\n" for u in range(60)))
    profile = tmp_path / "mine.yaml"
    profile.write_text(f"dataset: csv:{folder}\n")
    assert main(["stats", "--profile", str(profile)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].strip() == "value" and "mine" in out.splitlines()[1]
    assert [line.split()[-1] for line in out.splitlines() if line.startswith(("users", "warm users"))] == ["60", "30"]


# ------------------------------------------------------------------------------------------
# data that was read wrongly without a word
# ------------------------------------------------------------------------------------------
USERS = "user_id,zip\nu1,02139\nu2,2139\n"


def read(folder, inter, users=USERS, **kwargs):
    (folder / "interactions.csv").write_text(inter)
    (folder / "users.csv").write_text(users)
    return read_csv_pair(folder / "interactions.csv", folder / "users.csv", **kwargs)


def test_timestamps_mixing_seconds_and_milliseconds_within_a_user(tmp_path):
    inter = ("user_id,item_id,timestamp\nu1,i1,1600000000\nu1,i2,1600000100000\nu1,i3,1600000200\n"
             "u2,i1,1600000000000\n")
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, inter)
    assert str(info.value) == (
        f"{tmp_path}/interactions.csv, column 'timestamp', row 3: user 'u1' mixes timestamp units: 1600000100000 "
        "looks like milliseconds while 1600000000 looks like seconds, so their clicks would be ordered wrongly "
        "(1 user(s) affected); write every timestamp in one unit")


def test_one_unit_per_user_is_fine_even_if_users_differ(tmp_path):
    inter = "user_id,item_id,timestamp\nu1,i1,1600000000\nu1,i2,1600000100\nu2,i1,1600000000000\n"
    data = read(tmp_path, inter)
    assert data.timestamps.tolist() == [1600000000, 1600000100, 1600000000000]


def test_timestamp_beyond_64_bits(tmp_path):
    inter = "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,99999999999999999999\n"
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, inter)
    assert str(info.value) == (f"{tmp_path}/interactions.csv, column 'timestamp', row 3: timestamp "
                               "'99999999999999999999' does not fit a 64-bit integer; expected unix time "
                               "(seconds or milliseconds)")


def test_large_timestamps_are_read_exactly(tmp_path):
    # nanoseconds: through float64 these two would be equal and could swap
    inter = "user_id,item_id,timestamp\nu1,i2,1600000000000000001\nu1,i1,1600000000000000000\n"
    data = read(tmp_path, inter, users="user_id,zip\nu1,02139\n")
    assert data.timestamps.tolist() == [1600000000000000000, 1600000000000000001]
    assert [data.item_ids[i] for i in data.sequence(0)] == ["i1", "i2"]


@pytest.mark.parametrize("ids, first, second, rows", [
    ("1 1.0 2", "1", "1.0", "rows 2, 3"),
    ("007 7 2", "007", "7", "rows 2, 3"),
    ("2 7 7.00", "7", "7.00", "rows 3, 4"),
    ("0.5 00.50 2", "0.5", "00.50", "rows 2, 3"),
])
def test_ids_that_are_one_number_in_two_spellings_are_refused(tmp_path, ids, first, second, rows):
    a, b, c = ids.split()
    inter = f"user_id,item_id,timestamp\nu1,{a},1\nu1,{b},2\nu2,{c},3\n"
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, inter)
    assert str(info.value) == (
        f"{tmp_path}/interactions.csv, column 'item_id', {rows}: ids {first!r} and {second!r} are the same number "
        "written two ways (2 ids of this column are); ids are read as text, so they would be two different ids: "
        "write each id one way")


def test_ids_of_one_spelling_each_are_fine(tmp_path):
    data = read(tmp_path, "user_id,item_id,timestamp\nu1,007,1\nu1,070,2\nu2,7.5,3\nu2,x7,4\n")
    assert sorted(data.item_ids[1:]) == ["007", "070", "7.5", "x7"]


JOIN_CASES = {
    "no profile row matches a clicking user": (
        "user_id,item_id,timestamp\nx1,i1,1\nx2,i1,2\n", "user_id,zip\nu1,02139\nu2,2139\n",
        "{dir}/users.csv, column 'user_id': no profile row matches a clicking user, no interaction of "
        "{dir}/interactions.csv has a user with a profile row (2 profile id(s), e.g. 'u1'; 2 clicking user(s), e.g. "
        "'x1'); the two files must use the same user ids"),
    "the ids match only as numbers": (
        "user_id,item_id,timestamp\n7,i1,1\n8,i1,2\n", "user_id,zip\n007,02139\n008,2139\n",
        "{dir}/users.csv, column 'user_id': no profile row matches a clicking user, no interaction of "
        "{dir}/interactions.csv has a user with a profile row (2 profile id(s), e.g. '007'; 2 clicking user(s), e.g. "
        "'7'); they match as numbers ('007' here is '7' there): write the ids the same way in both; the two files "
        "must use the same user ids"),
}


@pytest.mark.parametrize("kind", list(JOIN_CASES))
@pytest.mark.parametrize("unknown_users", ["error", "missing", "drop"])
def test_profiles_that_join_no_clicking_user_are_refused(tmp_path, kind, unknown_users):
    inter, users, expected = JOIN_CASES[kind]
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, inter, users, unknown_users=unknown_users)
    assert str(info.value) == expected.format(dir=tmp_path)


@pytest.mark.parametrize("unknown_users, fate", [("missing", "get an all-missing profile"),
                                                 ("drop", "are left out with their 3 interaction(s)")])
def test_clicking_users_without_a_profile_row_are_counted(tmp_path, unknown_users, fate):
    inter = "user_id,item_id,timestamp\nu1,i1,1\nu9,i1,2\nu8,i2,3\nu9,i2,4\nu2,i3,5\n"
    with pytest.warns(DataWarning) as caught:
        read(tmp_path, inter, unknown_users=unknown_users)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}/interactions.csv, column 'user_id', rows 3, 4, 5: 2 of 4 clicking user(s) have no profile row in "
        f"{tmp_path}/users.csv (e.g. 'u9') and {fate}"]


def test_cikm_profiles_of_other_users_are_refused(tmp_path):
    (tmp_path / "user_behavior.csv").write_text("1,10,pv,100\n2,11,pv,101\n")
    (tmp_path / "user.csv").write_text("3,F,25,3\n")
    with pytest.raises(DataValidationError, match=r"user\.csv, column 'user_id': no profile row matches a clicking "
                                                  r"user"):
        read_cikm2019(tmp_path)


def test_grouplens_columns_in_another_order_are_refused(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::1193::978300760::5\n1::661::978302109::3\n")
    (tmp_path / "users.dat").write_text("1::F::1::10::48067\n")
    with pytest.raises(DataValidationError) as info:
        read_grouplens(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/ratings.dat, column 'rating', rows 1, 2: '978300760' is not a rating (0.5 to 5); column "
        "'timestamp' holds values from 0.5 to 5: are the columns in another order than the format's (user_id, "
        "item_id, rating, timestamp)?")


def test_movielens_wheel_with_ratings_out_of_range(tmp_path):
    path = _wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl",
                  inter="user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t881250949\n"
                        "1\t2\t50\t881250950\n")
    with pytest.raises(DataValidationError) as info:
        read_movielens_100k(wheel=path)
    assert str(info.value) == (
        f"{path}:recbole/dataset_example/ml-100k/ml-100k.inter, column 'rating', row 3: '50' is not a rating "
        "(0.5 to 5): are the columns in another order than the format's (user_id, item_id, rating, timestamp)?")


def test_cikm_columns_in_another_order_say_where_the_behaviors_are(tmp_path):
    (tmp_path / "user_behavior.csv").write_text("1,10,100,pv\n1,11,101,pv\n")
    (tmp_path / "user.csv").write_text("1,F,25,3\n")
    with pytest.raises(DataValidationError) as info:
        read_cikm2019(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}/user_behavior.csv, column 'behavior': no row has a behavior in ['pv']; found ['100', '101']; "
        "column 'timestamp' holds them: are the columns in another order than the format's (user_id, item_id, "
        "behavior, timestamp)?")


def test_zip_codes_keep_their_leading_zero(tmp_path):
    data = read(tmp_path, "user_id,item_id,timestamp\nu1,i1,1\nu2,i1,2\n")
    assert [data.profile_labels(u)["zip"] for u in range(2)] == ["02139", "2139"]


def test_na_and_null_are_ids_and_labels_not_missing_values(tmp_path):
    inter = "user_id,item_id,timestamp\nNA,null,1\nNA,None,2\nu2,NaN,3\n"
    data = read(tmp_path, inter, users="user_id,g\nNA,null\nu2,N/A\n")
    assert list(data.user_ids) == ["NA", "u2"]
    assert sorted(data.item_ids[1:]) == ["NaN", "None", "null"]
    assert data.profile_labels(0) == {"g": "null"} and data.profile_labels(1) == {"g": "N/A"}
    assert MISSING not in data.vocab["g"][1:]


def test_header_line_in_a_headerless_cikm_file_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "user_behavior.csv").write_text("user_id,item_id,behavior,timestamp\n1,10,pv,100\n1,11,pv,101\n")
    (tmp_path / "user.csv").write_text("1,F,25,3\n")
    with pytest.warns(DataWarning) as caught:
        data = read_cikm2019(tmp_path)
    assert [str(w.message) for w in caught] == [
        f"{tmp_path}/user_behavior.csv, line 1: looks like a header line ('user_id', 'item_id', 'behavior', "
        "'timestamp') and is skipped: this format has no header"]
    assert sorted(data.item_ids[1:]) == ["10", "11"] and list(data.user_ids) == ["1"]


def test_header_line_with_other_names_is_recognised(tmp_path):
    (tmp_path / "user_behavior.csv").write_text("1,10,pv,100\n")
    (tmp_path / "user.csv").write_text("uid,sex,age_group,power\n1,F,25,3\n")
    with pytest.warns(DataWarning, match=r"user\.csv, line 1: looks like a header line \('uid', 'sex', 'age_group', "
                                         r"'power'\) and is skipped"):
        data = read_cikm2019(tmp_path)
    assert data.profile_labels(0) == {"gender": "F", "age": "25", "purchase_power": "3"}


# ------------------------------------------------------------------------------------------
# structural limits of the protocol, said in the data's own terms
# ------------------------------------------------------------------------------------------
def make_data(lengths, n_items):
    rng = np.random.default_rng(0)
    lengths = np.asarray(lengths)
    users = np.repeat(np.arange(len(lengths)), lengths)
    items = np.concatenate([rng.choice(n_items, size=n, replace=False) + 1 for n in lengths])
    return InteractionData(
        name="mine", profile_fields=["g"], vocab={"g": [MISSING, "a"]}, profiles=np.ones((len(lengths), 1), int),
        user_ids=np.array([f"u{u}" for u in range(len(lengths))], dtype=object),
        item_ids=np.array([None, *(f"i{i}" for i in range(1, n_items + 1))], dtype=object),
        users=users, items=items.astype(np.int64), timestamps=np.arange(len(users), dtype=np.int64))


PROTOCOL_CASES = {
    "every cold user has one click": (
        lambda: split(make_data([1] * 40 + [20] * 30, 300)),
        "mine: each of the 8 cold test user(s) has a single click, so there is no few-shot test instance (a click "
        "after at least one earlier click); 0 of 40 cold users have 2 to 9 clicks, and the few-shot steps need such "
        "users in the tuning, validation and test groups"),
    "catalogue smaller than the negatives": (
        lambda: split(make_data([3] * 40 + [20] * 30, 80)),
        "mine: the catalogue has 80 items, but every evaluated click is ranked against 99 items its user never "
        "clicked: the protocol needs data with more than 99 items (plus each user's own clicks), or fewer negatives "
        "(ProtocolConfig.n_negatives)"),
    "users who clicked nearly everything": (
        lambda: split(make_data([3] * 40 + [20] * 29 + [60], 150)),
        "mine: 1 user(s) clicked so many of the 150 items that fewer than 99 unclicked ones remain as negatives "
        "(e.g. user 'u69' clicked 60); the protocol needs a catalogue with more than 99 items that each user has "
        "not clicked"),
    "too few users although cold users are simulated": (
        lambda: split(make_data([20] * 25, 300), ProtocolConfig(simulate_cold_share=0.3)),
        "mine: only 8 users have fewer than 10 clicks; the cold-start protocol needs at least 10 cold users "
        "(simulate_cold_share=0.3 of 25 users gives 8; use data with more users)"),
    "too few warm users": (
        lambda: split(make_data([3] * 40 + [20] * 5, 300)),
        "mine: only 5 users have 10 clicks or more (warm users); pre-training needs at least 10 of them"),
}


@pytest.mark.parametrize("kind", list(PROTOCOL_CASES))
def test_protocol_says_what_the_data_lacks(kind):
    make, expected = PROTOCOL_CASES[kind]
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == expected


# ------------------------------------------------------------------------------------------
# a damaged cache or environment
# ------------------------------------------------------------------------------------------
def test_cache_folder_that_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("oops")
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(CacheError) as info:
        cache_dir()
    assert str(info.value) == (f"cache folder {tmp_path}/cache: {tmp_path}/cache is a file, not a folder; move or "
                               "delete it (or set PPR_CACHE_DIR to another folder)")


def test_cache_subfolder_that_is_a_file(tmp_path):
    (tmp_path / "splits").write_text("oops")
    with pytest.raises(CacheError) as info:
        cached(tmp_path / "splits" / "a.npy", lambda: 1, lambda v, p: None, lambda p: 1)
    assert str(info.value) == (f"cache folder {tmp_path}/splits: {tmp_path}/splits is a file, not a folder; move "
                               "or delete it (or set PPR_CACHE_DIR to another folder)")


def test_cache_file_that_is_a_folder(tmp_path):
    (tmp_path / "a.npy").mkdir()
    with pytest.raises(CacheError) as info:
        cached(tmp_path / "a.npy", lambda: 1, lambda v, p: None, lambda p: 1)
    assert str(info.value) == f"{tmp_path}/a.npy is a folder where a cache file belongs; delete it (it is recomputed)"


def test_cli_reports_a_cache_folder_that_is_a_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "cache").write_text("oops")
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["stats", "--profile", "tiny"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: cache folder {tmp_path}/cache: {tmp_path}/cache is a file, not a folder; move or delete it (or set "
        "PPR_CACHE_DIR to another folder)")


def _wheel(path, inter="user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t1\n"):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.inter", inter * 1)
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.user",
                         "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n1\t20\tF\tx\t1\n")
    return path


def test_corrupt_member_in_the_movielens_wheel(tmp_path):
    path = _wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl", inter="user_id:token\titem_id:token\n" * 200)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"ml-100k.inter") + len(b"ml-100k.inter") + 10  # inside the compressed data
    raw[start:start + 20] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    with pytest.raises(DataValidationError) as info:
        read_movielens_100k(wheel=path)
    message = str(info.value)
    assert message.startswith(f"{path}: member recbole/dataset_example/ml-100k/ml-100k.inter is damaged (")
    assert message.endswith("); delete recbole-1.2.1-py3-none-any.whl so that it is downloaded again "
                            "(or point to an intact copy)")


def test_truncated_movielens_wheel(tmp_path):
    path = _wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataValidationError) as info:
        read_movielens_100k(wheel=path)
    assert str(info.value) == (f"{path}: not a wheel (zip) file, or a damaged one; delete it so that it is "
                               "downloaded again (or point to an intact copy)")


@pytest.mark.parametrize("content", ['{"book/data_protocol.ipynb": {"key": "ab', "[1, 2]", "\xff\xfe"])
def test_damaged_run_manifest_is_set_aside_and_chapters_rerun(tmp_path, monkeypatch, content):
    build_dir = tmp_path / "_build"
    manifest = build_dir / "executed" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(content.encode("latin-1"))
    ran = []

    def fake_execute(source, output, **kwargs):
        ran.append(source)
        shutil.copy(source, output)

    monkeypatch.setattr("papermill.execute_notebook", fake_execute)
    lines = []
    book.execute("tiny", build_dir=build_dir, only=["data_protocol"], log=lines.append)
    assert lines[0].startswith(f"[book] warning: {manifest} is damaged (")
    assert lines[0].endswith("); it is ignored and every chapter re-executes")
    assert lines[1].startswith("[book] estimated ")  # the time of what is to execute
    assert lines[2:] == ["[book] book/data_protocol.ipynb: started", lines[3]]
    assert lines[3].startswith("[book] book/data_protocol.ipynb: done in ")
    assert len(ran) == 1 and "book/data_protocol.ipynb" in json.loads(manifest.read_text())


@pytest.mark.parametrize("codes, expected", [
    ([0, 5], "profile field 'g': code 5 is outside 0..2 (0 = missing; the labels are ['<missing>', 'a', 'b'])"),
    ([-1, 0], "profile field 'f': code -1 is outside 0..1 (0 = missing; the labels are ['<missing>', 'x'])"),
    ([1], "profile codes must be 2 integers, one per field ['f', 'g'], got [1]; or give labels, e.g. "
          "{'f': 'x', 'g': 'a'}"),
    ([0.5, 1], "profile codes must be 2 integers, one per field ['f', 'g'], got [0.5, 1]; or give labels, e.g. "
               "{'f': 'x', 'g': 'a'}"),
])
def test_recommend_with_a_profile_code_out_of_range(codes, expected):
    data = InteractionData(
        name="mine", profile_fields=["f", "g"], vocab={"f": [MISSING, "x"], "g": [MISSING, "a", "b"]},
        profiles=np.array([[1, 1]]), user_ids=np.array(["u1"], dtype=object),
        item_ids=np.array([None, "i1"], dtype=object), users=np.array([0]), items=np.array([1]),
        timestamps=np.array([1]))
    with pytest.raises(ValueError) as info:
        recommend(None, data, codes)  # checked before the model is touched
    assert str(info.value) == expected


def test_no_warning_for_clean_data(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read(tmp_path, "user_id,item_id,timestamp\nu1,1,1600000000\nu2,2,1600000001\n")

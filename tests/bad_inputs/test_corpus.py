"""The bad-input corpus: every kind of bad input we know of, with the exact message a user sees.

Each case writes its own small files (or passes its own parameters), triggers the error and
compares the whole message, with ``{dir}`` standing for the folder the files were written to.
The closing list of the reliability issue quotes this table.
"""

from __future__ import annotations

import warnings

import pytest

from pprlib import book
from pprlib.cli import main
from pprlib.data import DataValidationError, DataWarning
from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.models.ppr import ContrastiveConfig, PPRConfig
from pprlib.train import TrainConfig, resolve_device

USERS = "user_id,gender,age\nu1,F,25\nu2,M,30\n"
INTER = "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,2\nu2,i1,3\n"


def read(folder, inter=INTER, users=USERS, **kwargs):
    (folder / "interactions.csv").write_text(inter)
    (folder / "users.csv").write_text(users)
    return read_csv_pair(folder / "interactions.csv", folder / "users.csv", **kwargs)


READER_CASES = {
    "empty file": (dict(inter=""), "{dir}/interactions.csv: the file is empty"),
    "header only": (dict(inter="user_id,item_id,timestamp\n"),
                    "{dir}/interactions.csv: no interactions (empty file or no rows)"),
    "missing column": (dict(inter="user_id,item_id\nu1,i1\n"),
                       "{dir}/interactions.csv: missing column(s) ['timestamp']; found columns ['user_id', 'item_id']"),
    "extra unknown column": (
        dict(inter="user_id,item_id,timestamp,rating\nu1,i1,1,5\n"),
        "{dir}/interactions.csv: unknown column(s) ['rating']; expected ['user_id', 'item_id', 'timestamp']. "
        "Map the columns (user_col=, item_col=, time_col=, profile_fields=) or read with extra_columns='ignore'"),
    "wrong separator": (dict(inter="user_id;item_id;timestamp\nu1;i1;1\n"),
                        "{dir}/interactions.csv: the file seems to use ';' as separator, not ',' (a single column "
                        "was read: 'user_id;item_id;timestamp'); read it with sep=';'"),
    "non-numeric timestamp": (
        dict(inter="user_id,item_id,timestamp\nu1,i1,1\nu1,i2,yesterday\n"),
        "{dir}/interactions.csv, column 'timestamp', row 3: timestamp 'yesterday' is not numeric; "
        "expected a number (e.g. unix seconds)"),
    "missing timestamp": (
        dict(inter="user_id,item_id,timestamp\nu1,i1,1\nu1,i2,\n"),
        "{dir}/interactions.csv, column 'timestamp', row 3: missing timestamp; expected a number (e.g. unix seconds)"),
    "duplicate rows": (
        dict(inter="user_id,item_id,timestamp\nu1,i1,1\nu1,i1,1\n"),
        "{dir}/interactions.csv, row 3: duplicate interaction (user 'u1', item 'i1', same timestamp); "
        "remove the repeats or read with duplicates='drop'"),
    "interactions of an unknown user": (
        dict(inter="user_id,item_id,timestamp\nu1,i1,1\nu9,i2,2\n"),
        "{dir}/interactions.csv, column 'user_id', row 3: user 'u9' has no row in {dir}/users.csv; add a "
        "profile row or read with unknown_users='missing' (all-missing profile) or 'drop'"),
    "profile value outside the vocabulary": (
        dict(users="user_id,gender,age\nu1,F,25\nu2,X,30\n", vocab={"gender": ["F", "M"]}),
        "{dir}/users.csv, column 'gender', row 3: value 'X' is not in the field's vocabulary ['F', 'M']"),
    "NaN profile field": (
        dict(users="user_id,gender,age\nu1,F,\nu2,M,\n"),
        "{dir}/users.csv, column 'age': every value is empty, so the field tells nothing; fill it or leave "
        "it out of the profile fields"),
    "negative id": (dict(inter="user_id,item_id,timestamp\nu1,-3,1\n"),
                    "{dir}/interactions.csv, column 'item_id', row 2: ids must be non-negative, got '-3'"),
    "empty id": (dict(inter="user_id,item_id,timestamp\nu1,,1\n"),
                 "{dir}/interactions.csv, column 'item_id', row 2: empty id; every row needs one"),
    "duplicate profile rows": (
        dict(users="user_id,gender,age\nu1,F,25\nu1,M,30\n"),
        "{dir}/users.csv, column 'user_id', rows 2, 3: user 'u1' has more than one profile row"),
    "unknown option value": (dict(duplicates="ignore"),
                             "duplicates must be 'error', 'drop' or 'keep', got 'ignore'"),
}


@pytest.mark.parametrize("kind", list(READER_CASES))
def test_reader_rejects(kind, tmp_path):
    kwargs, expected = READER_CASES[kind]
    with pytest.raises((DataValidationError, ValueError)) as info:
        read(tmp_path, **kwargs)
    assert str(info.value) == expected.format(dir=tmp_path)


def test_malformed_row_names_the_line(tmp_path):
    with pytest.raises(DataValidationError) as info:
        read(tmp_path, inter="user_id,item_id,timestamp\nu1,i1,1\nu1,i2,2,extra\n")
    assert str(info.value).startswith(f"{tmp_path}/interactions.csv: malformed CSV: ")
    assert "line 3" in str(info.value)


def test_user_with_zero_clicks_is_left_out_with_a_warning(tmp_path):
    with pytest.warns(DataWarning) as caught:
        data = read(tmp_path, users=USERS + "u3,F,40\n")
    assert str(caught[0].message) == (f"{tmp_path}/users.csv, column 'user_id', row 4: 1 user(s) without "
                                      "interactions (e.g. 'u3') are left out: a user needs at least one click")
    assert list(data.user_ids) == ["u1", "u2"]


def test_one_empty_profile_value_is_the_missing_code_not_an_error(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = read(tmp_path, users="user_id,gender,age\nu1,F,\nu2,M,30\n")
    assert data.profile_labels(0)["age"] == "<missing>"


def test_an_id_beyond_int64_is_a_label_not_an_overflow(tmp_path):
    huge = "123456789012345678901234567890"
    data = read(tmp_path, inter=f"user_id,item_id,timestamp\nu1,{huge},1\nu2,i1,2\n")
    assert huge in list(data.item_ids)


CONFIG_CASES = {
    "negative mask ratio": (lambda: ContrastiveConfig(profile_ratio=-0.1),
                            "ContrastiveConfig.profile_ratio must lie in [0, 1], got -0.1"),
    "mask ratio above 1 (gamma > 1)": (lambda: ContrastiveConfig(item_ratio=1.5),
                                       "ContrastiveConfig.item_ratio must lie in [0, 1], got 1.5"),
    "negative contrastive weight": (lambda: ContrastiveConfig(weight=-1.0),
                                    "ContrastiveConfig.weight (lambda) must be >= 0, got -1.0"),
    "prompt length 0": (lambda: PPRConfig(n_prompt=0),
                        "PPRConfig.n_prompt (prompt length) must be an integer >= 1, got 0"),
    "unknown device": (lambda: resolve_device("tpu"),
                       "unknown device 'tpu'; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    "zero learning rate": (lambda: TrainConfig(lr=0.0), "TrainConfig.lr must be > 0, got 0.0"),
    "unknown profile name": (lambda: book.load_profile("nope"),
                             f"unknown profile 'nope'; choose from {book.profile_names()} or give a YAML file"),
}


@pytest.mark.parametrize("kind", list(CONFIG_CASES))
def test_parameter_rejects(kind):
    make, expected = CONFIG_CASES[kind]
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == expected


def test_cuda_requested_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError) as info:
        resolve_device("cuda")
    assert str(info.value) == "device 'cuda' was requested but CUDA is not available here; use 'auto' or 'cpu'"


@pytest.mark.parametrize("argv, expected", [
    (["book", "--profile", "nope"], f"error: unknown profile 'nope'; choose from {book.profile_names()} or give a YAML file"),
    (["book", "--profile", "tiny", "--only", "nope", "--no-html"], "error: unknown notebook(s) ['nope'] in --only; choose from "),
    (["book", "--profile", "tiny", "--jobs", "0", "--no-html"], "error: jobs must be an integer >= 1, got 0"),
])
def test_cli_rejects(argv, expected, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected)


CHAPTERS = [p.stem for p in book.toc_files() if p.suffix == ".ipynb"]


@pytest.mark.parametrize("only, expected", [
    ([], f"error: --only was given no notebook name; name one or more of {CHAPTERS} (leave --only out to execute "
         "every chapter)"),
    ([""], f"error: --only was given an empty notebook name (item 1 of ['']); name one or more of {CHAPTERS} "
           "(leave --only out to execute every chapter)"),
    (["data_protocol", " "], f"error: --only was given an empty notebook name (item 2 of ['data_protocol', ' ']); "
                             f"name one or more of {CHAPTERS} (leave --only out to execute every chapter)"),
])
def test_cli_only_with_no_name_is_an_error_not_everything(only, expected, capsys, monkeypatch):
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(a))
    assert main(["book", "--profile", "tiny", "--no-html", "--only", *only]) == 1
    assert capsys.readouterr().err.strip() == expected
    assert started == []


def test_execute_refuses_an_empty_only_list(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(a))
    with pytest.raises(ValueError, match=r"^--only was given no notebook name"):
        book.execute("tiny", build_dir=tmp_path / "_build", only=[])
    assert started == []


def test_profile_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError) as info:
        book.load_profile(path)
    assert str(info.value) == f"{path}: a profile must be a mapping of parameter names to values"

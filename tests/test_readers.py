"""Readers on tiny files written by the tests (never copies of real data)."""

from __future__ import annotations

import re
import subprocess
import zipfile

import numpy as np
import pytest

from pprlib.data import readers
from pprlib.data.readers import csv_pair, ecommerce, movielens
from pprlib.data.readers.csv_pair import read_csv_pair
from pprlib.data.readers.ecommerce import ALI_PROFILE_FIELDS, read_ali_display_ad, read_cikm2019
from pprlib.data.readers.movielens import (
    MOVIELENS_ENV,
    DatasetUnavailableError,
    fetch_movielens_100k,
    read_grouplens,
    read_movielens_100k,
)
from pprlib.data.readers.tables import _read_table
from pprlib.data.schema import MISSING, DataValidationError
from pprlib.data.writers import write_grouplens


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


def labels(data, user_label):
    """Item labels of a user's sequence, found by the user's original label."""
    u = list(data.user_ids).index(user_label)
    return list(data.item_ids[data.sequence(u)])


def profile(data, user_label):
    return data.profile_labels(list(data.user_ids).index(user_label))


def at(path):
    """Regex matching the start of a message that names this file."""
    return re.escape(str(path))


# ------------------------------------------------------------------------------------------
# read_csv_pair: valid input
# ------------------------------------------------------------------------------------------
USERS = "user_id,gender,age\nu1,F,25\nu2,M,\n"


def test_csv_pair_valid(tmp_path):
    inter = write(
        tmp_path,
        "clicks.csv",
        "user_id,item_id,timestamp\n"
        "u1,i3,100\n"
        "u1,i1,50\n"
        "u2,i2,10\n"
        "u1,i2,100\n"  # same time as i3 above: the file order decides
        "u2,007,5\n",
    )
    users = write(tmp_path, "users.csv", USERS)
    data = read_csv_pair(inter, users)
    assert (data.name, data.n_users, data.n_items, data.n_interactions) == ("clicks", 2, 4, 5)
    assert data.profile_fields == ["gender", "age"]
    assert data.vocab == {"gender": [MISSING, "F", "M"], "age": [MISSING, "25"]}
    assert labels(data, "u1") == ["i1", "i3", "i2"]
    assert labels(data, "u2") == ["007", "i2"]  # '007' is read as text, not as 7
    assert profile(data, "u2") == {"gender": "M", "age": MISSING}
    assert list(data.timestamps[data.offsets[0] : data.offsets[1]]) == [50, 100, 100]


def test_csv_pair_column_mapping_and_separator(tmp_path):
    inter = write(tmp_path, "log.tsv", "who\twhat\twhen\textra\n1\t10\t3\tx\n1\t11\t2\ty\n")
    users = write(tmp_path, "people.tsv", "who\tcity\tsegment\n1\tParis\tA\n")
    with pytest.raises(DataValidationError, match=r"unknown column\(s\) \['extra'\]"):
        read_csv_pair(inter, users, user_col="who", item_col="what", time_col="when", sep="\t",
                      profile_fields=["segment"])
    data = read_csv_pair(inter, users, user_col="who", item_col="what", time_col="when", sep="\t",
                         profile_fields=["segment"], name="mapped", extra_columns="ignore")
    assert data.name == "mapped" and data.profile_fields == ["segment"]
    assert labels(data, "1") == ["11", "10"]


def test_csv_pair_skips_blank_lines_but_counts_them(tmp_path):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\n\nu1,i2,soon\n")
    users = write(tmp_path, "u.csv", USERS)
    with pytest.raises(DataValidationError, match=r"column 'timestamp', row 4: timestamp 'soon'"):
        read_csv_pair(inter, users)


# ------------------------------------------------------------------------------------------
# read_csv_pair: bad input, one message each
# ------------------------------------------------------------------------------------------
@pytest.fixture
def users_csv(tmp_path):
    return write(tmp_path, "users.csv", USERS)


def test_empty_file(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "")
    with pytest.raises(DataValidationError, match=at(inter) + ": the file is empty$"):
        read_csv_pair(inter, users_csv)


def test_blank_file(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "\n\n")
    with pytest.raises(DataValidationError, match=at(inter) + r": the file is empty \(no columns"):
        read_csv_pair(inter, users_csv)


def test_header_only(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\n")
    with pytest.raises(DataValidationError, match=at(inter) + ": no interactions"):
        read_csv_pair(inter, users_csv)


def test_users_header_only(tmp_path):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\n")
    users = write(tmp_path, "u.csv", "user_id,gender\n")
    with pytest.raises(DataValidationError, match=at(users) + ": no user rows"):
        read_csv_pair(inter, users)


def test_missing_column(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id\nu1,i1\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r": missing column\(s\) \['timestamp'\]; found columns \['user_id', 'item_id'\]"):
        read_csv_pair(inter, users_csv)


def test_missing_profile_field(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\n")
    with pytest.raises(DataValidationError, match=at(users_csv) + r": missing column\(s\) \['occupation'\]"):
        read_csv_pair(inter, users_csv, profile_fields=["occupation"])


def test_wrong_separator(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id;item_id;timestamp\nu1;i1;1\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r": the file seems to use ';' as separator, not ','.*sep=';'"):
        read_csv_pair(inter, users_csv)


def test_wrong_separator_tab(tmp_path):
    inter = write(tmp_path, "i.csv", "user_id\titem_id\ttimestamp\nu1\ti1\t1\n")
    users = write(tmp_path, "u.csv", "user_id\tgender\nu1\tF\n")
    with pytest.raises(DataValidationError, match=at(inter) + r": the file seems to use '\\t' as separator"):
        read_csv_pair(inter, users)


def test_non_numeric_timestamp(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,yesterday\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r", column 'timestamp', row 3: timestamp 'yesterday' is not numeric"):
        read_csv_pair(inter, users_csv)


def test_missing_timestamp(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,\nu2,i2\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r", column 'timestamp', rows 3, 4: missing timestamp"):
        read_csv_pair(inter, users_csv)


def test_duplicate_rows(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,2\nu1,i1,1\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r", row 4: duplicate interaction \(user 'u1', item 'i1'"):
        read_csv_pair(inter, users_csv)
    assert read_csv_pair(inter, users_csv, duplicates="drop").n_interactions == 2
    assert read_csv_pair(inter, users_csv, duplicates="keep").n_interactions == 3


def test_duplicate_profile_rows(tmp_path):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\n")
    users = write(tmp_path, "u.csv", "user_id,gender\nu1,F\nu1,M\n")
    with pytest.raises(DataValidationError,
                       match=at(users) + r", column 'user_id', rows 2, 3: user 'u1' has more than one"):
        read_csv_pair(inter, users)


def test_unknown_user_policies(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\nu9,i2,2\nu1,i3,3\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r", column 'user_id', row 3: user 'u9' has no row in " + at(users_csv)):
        read_csv_pair(inter, users_csv)

    missing = read_csv_pair(inter, users_csv, unknown_users="missing")
    assert missing.n_users == 2 and missing.n_interactions == 3
    assert profile(missing, "u9") == {"gender": MISSING, "age": MISSING}

    dropped = read_csv_pair(inter, users_csv, unknown_users="drop")
    assert list(dropped.user_ids) == ["u1"] and dropped.n_interactions == 2
    assert labels(dropped, "u1") == ["i1", "i3"]


def test_negative_id(tmp_path):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\n1,10,1\n1,-5,2\n")
    users = write(tmp_path, "u.csv", "user_id,gender\n1,F\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r", column 'item_id', row 3: ids must be non-negative, got '-5'"):
        read_csv_pair(inter, users)


def test_empty_id(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\n,i2,2\n")
    with pytest.raises(DataValidationError, match=at(inter) + r", column 'user_id', row 3: empty id"):
        read_csv_pair(inter, users_csv)


def test_malformed_row_too_many_fields(tmp_path, users_csv):
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1\nu1,i2,2\nu1,i3,3,oops\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r": malformed CSV: .*Expected 3 fields in line 4, saw 4"):
        read_csv_pair(inter, users_csv)


def test_malformed_first_row_too_many_fields(tmp_path, users_csv):
    # pandas only warns here (and would drop the extra field); the reader refuses
    inter = write(tmp_path, "i.csv", "user_id,item_id,timestamp\nu1,i1,1,oops\nu1,i2,2\n")
    with pytest.raises(DataValidationError,
                       match=at(inter) + r": malformed row: the first data row \(line 2\) has more fields"):
        read_csv_pair(inter, users_csv)


def test_file_not_found(tmp_path, users_csv):
    absent = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=at(absent) + ": file not found"):
        read_csv_pair(absent, users_csv)


def test_long_numeric_ids_are_labels_kept_exactly(tmp_path):
    # ids are labels re-encoded to 0..n-1, so a digit string longer than int64 cannot overflow
    big = "99999999999999999999999"
    inter = write(tmp_path, "i.csv", f"user_id,item_id,timestamp\n{big},1,1\n{big}1,1,2\n")
    users = write(tmp_path, "u.csv", f"user_id,gender\n{big},F\n{big}1,M\n")
    data = read_csv_pair(inter, users)
    assert list(data.user_ids) == [big, big + "1"]


def test_largest_int64_id_is_kept_exactly(tmp_path):
    big = str(np.iinfo(np.int64).max)
    inter = write(tmp_path, "i.csv", f"user_id,item_id,timestamp\n{big},1,1\n")
    users = write(tmp_path, "u.csv", f"user_id,gender\n{big},F\n")
    assert list(read_csv_pair(inter, users).user_ids) == [big]


# ------------------------------------------------------------------------------------------
# GroupLens folders and the recbole wheel
# ------------------------------------------------------------------------------------------
ML100K_DATA = [  # user, item, rating, timestamp
    ("1", "10", "5", "881250949"),
    ("1", "20", "3", "881250949"),  # tie with the row above: file order
    ("2", "10", "4", "881250000"),
    ("1", "30", "4", "881250000"),
    ("3", "20", "2", "881250100"),
]
ML100K_USERS = [  # user, age, gender, occupation, zip
    ("1", "24", "M", "technician", "85711"),
    ("2", "53", "F", "other", "94043"),
    ("3", "17", "M", "writer", "01040"),
]


def ml100k_folder(folder):
    return write_grouplens(folder, ML100K_DATA, ML100K_USERS)


def fake_wheel(path):
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "".join("\t".join(r) + "\n" for r in ML100K_DATA)
    user = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    user += "".join("\t".join(r) + "\n" for r in ML100K_USERS)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("recbole/__init__.py", "")
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.inter", inter)
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.user", user)
    return path


def test_grouplens_100k(tmp_path):
    data = read_grouplens(ml100k_folder(tmp_path / "ml-100k"))
    assert (data.name, data.n_users, data.n_items, data.n_interactions) == ("ml-100k", 3, 3, 5)
    assert data.profile_fields == ["gender", "age", "occupation"]
    assert data.vocab["age"] == [MISSING, "1", "18", "25", "35", "45", "50", "56"]
    assert data.vocab["gender"] == [MISSING, "F", "M"]
    assert data.vocab["occupation"] == [MISSING, "other", "technician", "writer"]
    assert [profile(data, u)["age"] for u in ("1", "2", "3")] == ["18", "50", "1"]
    assert labels(data, "1") == ["30", "10", "20"]


@pytest.mark.parametrize("age,bucket", [(17, "1"), (18, "18"), (24, "18"), (25, "25"), (34, "25"), (35, "35"),
                                        (44, "35"), (45, "45"), (49, "45"), (50, "50"), (55, "50"), (56, "56"),
                                        (73, "56")])
def test_grouplens_100k_age_buckets(tmp_path, age, bucket):
    folder = tmp_path / "ml"
    folder.mkdir()
    write(folder, "u.data", "1\t1\t5\t1\n")
    write(folder, "u.user", f"1|{age}|F|other|00000\n")
    assert profile(read_grouplens(folder), "1")["age"] == bucket


def test_grouplens_100k_bad_age(tmp_path):
    folder = ml100k_folder(tmp_path / "ml")
    write(folder, "u.user", "1|24|M|technician|85711\n2|old|F|other|94043\n")
    with pytest.raises(DataValidationError, match=at(folder / "u.user") + r", column 'age', row 2: age 'old'"):
        read_grouplens(folder)


def test_grouplens_100k_wrong_field_count(tmp_path):
    folder = ml100k_folder(tmp_path / "ml")
    write(folder, "u.data", "1\t10\t5\n")
    with pytest.raises(DataValidationError, match=at(folder / "u.data") + r": expected 4 fields per row"):
        read_grouplens(folder)


def test_grouplens_1m_shares_vocabulary(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    write(folder, "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    write(folder, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    data = read_grouplens(folder)
    assert (data.name, data.n_users, data.n_items, data.n_interactions) == ("ml-1m", 2, 2, 3)
    assert data.vocab["age"] == read_grouplens(ml100k_folder(tmp_path / "ml-100k")).vocab["age"]
    assert profile(data, "2") == {"gender": "M", "age": "56", "occupation": "16"}
    assert labels(data, "1") == ["1193", "661"]


def test_grouplens_not_a_movielens_folder(tmp_path):
    write(tmp_path, "u.data", "1\t1\t1\t1\n")
    with pytest.raises(FileNotFoundError,
                       match=at(tmp_path) + r": not a GroupLens MovieLens folder \(found u.data without u.user\)"):
        read_grouplens(tmp_path)
    with pytest.raises(FileNotFoundError, match="folder not found"):
        read_grouplens(tmp_path / "absent")


def test_wheel_equals_grouplens(tmp_path):
    from_wheel = read_movielens_100k(wheel=fake_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl"))
    from_folder = read_grouplens(ml100k_folder(tmp_path / "ml-100k"))
    for attr in ("name", "profile_fields", "vocab"):
        assert getattr(from_wheel, attr) == getattr(from_folder, attr)
    for attr in ("profiles", "user_ids", "item_ids", "users", "items", "timestamps"):
        np.testing.assert_array_equal(getattr(from_wheel, attr), getattr(from_folder, attr))


def test_wheel_errors_name_the_member(tmp_path):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.inter",
                         "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t1\tnever\n")
    with pytest.raises(DataValidationError, match=r"no member recbole/dataset_example/ml-100k/ml-100k.user"):
        read_movielens_100k(wheel=wheel)
    fake_wheel(wheel)
    broken = tmp_path / "broken.whl"  # the good wheel with one bad line appended to the .inter
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(broken, "w") as dst:
        for member in src.namelist():
            text = src.read(member).decode()
            if member.endswith(".inter"):
                text += "1\t99\t1\tnever\n"
            dst.writestr(member, text)
    member = "recbole/dataset_example/ml-100k/ml-100k.inter"
    with pytest.raises(DataValidationError,
                       match=at(f"{broken}:{member}") + r", column 'timestamp', row 7: timestamp 'never'"):
        read_movielens_100k(wheel=broken)
    write(tmp_path, "not.whl", "plain text")
    with pytest.raises(DataValidationError, match=r"not a wheel \(zip\) file"):
        read_movielens_100k(wheel=tmp_path / "not.whl")


def test_fetch_uses_cached_wheel_without_pip(tmp_path, monkeypatch):
    monkeypatch.setattr(movielens.subprocess, "run", lambda *a, **k: pytest.fail("pip must not run"))
    wheel = fake_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl")
    assert fetch_movielens_100k(tmp_path) == wheel
    assert read_movielens_100k(cache_dir=tmp_path).n_interactions == len(ML100K_DATA)


def test_fetch_runs_pip_download(tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append((cmd, kwargs))
        fake_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl")
        return subprocess.CompletedProcess(cmd, 0, stdout="Saved\n", stderr="")

    monkeypatch.setattr(movielens.subprocess, "run", fake_run)
    assert fetch_movielens_100k(tmp_path).name == "recbole-1.2.1-py3-none-any.whl"
    (cmd, kwargs), = calls
    assert cmd[1:] == ["-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "recbole==1.2.1",
                       "-d", str(tmp_path)]
    assert kwargs["timeout"] == 300 and kwargs["capture_output"]


def test_fetch_failure_says_what_to_do(tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        return subprocess.CompletedProcess(
            cmd, 1, stdout="",
            stderr="WARNING: Retrying ...\nERROR: No matching distribution found for recbole==1.2.1\n",
        )

    monkeypatch.setattr(movielens.subprocess, "run", failing_run)
    with pytest.raises(DatasetUnavailableError) as info:
        read_movielens_100k(cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "pip exited with status 1" in message
    assert "no network or PyPI is not reachable" in message
    assert "ERROR: No matching distribution found for recbole==1.2.1" in message
    assert "wheel=" in message and "read_grouplens(" in message


def test_fetch_timeout(tmp_path, monkeypatch):
    def slow_run(cmd, **kwargs):
        raise subprocess.TimeoutExpired(cmd, 300, output=b"Collecting recbole==1.2.1\n")

    monkeypatch.setattr(movielens.subprocess, "run", slow_run)
    with pytest.raises(DatasetUnavailableError, match=r"(?s)did not finish within 300 s.*Collecting recbole"):
        fetch_movielens_100k(tmp_path)


def test_default_cache_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PPR_CACHE_DIR", str(tmp_path))
    assert movielens._default_cache() == tmp_path / "downloads"


# ------------------------------------------------------------------------------------------
# CIKM 2019 and Ali_Display_Ad_Click
# ------------------------------------------------------------------------------------------
def cikm_folder(folder, items=True):
    folder.mkdir()
    write(folder, "user.csv", "1,M,25,3\n2,F,,5\n")
    write(
        folder,
        "user_behavior.csv",
        "1,100,pv,10\n"
        "1,101,buy,11\n"
        "1,102,pv,5\n"
        "1,100,pv,10\n"  # the raw log repeats events
        "2,100,cart,1\n"
        "2,103,pv,2\n"
        "2,105,pv,2\n"  # tie with the row above: file order
        "3,104,pv,3\n",  # no profile row
    )
    if items:
        write(folder, "item.csv", "100,7,70,700\n102,8,80,800\n")
    return folder


def test_cikm_keeps_only_pv(tmp_path):
    data = read_cikm2019(cikm_folder(tmp_path / "cikm"))
    assert (data.name, data.n_users, data.n_interactions) == ("cikm2019", 3, 5)
    assert sorted(data.item_ids[1:]) == ["100", "102", "103", "104", "105"]  # no buy/cart-only items
    assert labels(data, "1") == ["102", "100"]
    assert labels(data, "2") == ["103", "105"]
    assert data.profile_fields == ["gender", "age", "purchase_power"]
    assert profile(data, "2") == {"gender": "F", "age": MISSING, "purchase_power": "5"}
    assert profile(data, "3") == {"gender": MISSING, "age": MISSING, "purchase_power": MISSING}
    assert list(data.item_features.columns) == ["item_id", "category_id", "shop_id", "brand_id"]
    assert len(data.item_features) == 2


def test_cikm_other_behaviors_and_no_item_file(tmp_path):
    data = read_cikm2019(cikm_folder(tmp_path / "cikm", items=False), behaviors=("pv", "buy"))
    assert labels(data, "1") == ["102", "100", "101"]
    assert data.item_features is None
    with pytest.raises(DataValidationError, match=r"user_behavior.csv, column 'behavior': no row has a behavior"):
        read_cikm2019(tmp_path / "cikm", behaviors=("like",))


ALI_PROFILE_HEADER = ("userid,cms_segid,cms_group_id,final_gender_code,age_level,pvalue_level,"
                      "shopping_level,occupation,new_user_class_level \n")  # trailing space, as in the real file


def ali_folder(folder):
    folder.mkdir()
    write(
        folder,
        "raw_sample.csv",
        "user,time_stamp,adgroup_id,pid,nonclk,clk\n"
        "1,100,500,430548_1007,1,0\n"
        "1,200,501,430548_1007,0,1\n"
        "1,200,502,430548_1007,0,1\n"  # tie with the row above: file order
        "2,150,500,430539_1007,0,1\n"
        "1,150,503,430548_1007,0,1\n"
        "9,10,504,430548_1007,0,1\n",  # no profile row
    )
    write(folder, "user_profile.csv", ALI_PROFILE_HEADER + "1,0,5,2,5,,3,0,3\n2,0,2,1,2,1,3,0,\n")
    write(folder, "ad_feature.csv", "adgroup_id,cate_id,campaign_id,customer,brand,price\n500,6406,83237,1,95766,5.0\n")
    return folder


def test_ali_display_ad(tmp_path):
    data = read_ali_display_ad(ali_folder(tmp_path / "ali"))
    assert (data.name, data.n_users, data.n_items, data.n_interactions) == ("ali_display_ad", 3, 5, 5)
    assert data.profile_fields == list(ALI_PROFILE_FIELDS)
    assert "new_user_class_level" in data.profile_fields  # the header's trailing space is gone
    assert labels(data, "1") == ["503", "501", "502"]  # only clicks; 500 was shown, not clicked
    u1 = list(data.user_ids).index("1")
    pvalue = data.profile_fields.index("pvalue_level")
    assert data.profiles[u1, pvalue] == 0  # empty value -> missing code
    assert profile(data, "2")["new_user_class_level"] == MISSING
    assert profile(data, "2")["pvalue_level"] == "1"
    assert not data.profiles[list(data.user_ids).index("9")].any()
    assert data.item_features["adgroup_id"].tolist() == ["500"]


def test_ali_bad_clk(tmp_path):
    folder = ali_folder(tmp_path / "ali")
    write(folder, "raw_sample.csv", "user,time_stamp,adgroup_id,pid,nonclk,clk\n1,100,500,x,1,0\n1,100,501,x,0,yes\n")
    with pytest.raises(DataValidationError, match=r"raw_sample.csv, column 'clk', row 3: clk must be 0 or 1, got 'yes'"):
        read_ali_display_ad(folder)
    write(folder, "raw_sample.csv", "user,time_stamp,adgroup_id,pid,nonclk\n1,100,500,x,1\n")
    with pytest.raises(DataValidationError, match=r"raw_sample.csv: missing column\(s\) \['clk'\]"):
        read_ali_display_ad(folder)


def test_local_copy_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(movielens.subprocess, "run", lambda *a, **k: pytest.fail("pip must not run"))
    wheel = fake_wheel(tmp_path / "recbole-1.2.1-py3-none-any.whl")
    monkeypatch.setenv(MOVIELENS_ENV, str(wheel))
    from_wheel = read_movielens_100k(cache_dir=tmp_path / "empty")
    monkeypatch.setenv(MOVIELENS_ENV, str(ml100k_folder(tmp_path / "ml-100k")))
    from_folder = read_movielens_100k(cache_dir=tmp_path / "empty")
    assert from_wheel.n_interactions == from_folder.n_interactions == len(ML100K_DATA)
    np.testing.assert_array_equal(from_wheel.profiles, from_folder.profiles)
    monkeypatch.setenv(MOVIELENS_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="PPR_MOVIELENS=.*nowhere: no such file or folder"):
        read_movielens_100k(cache_dir=tmp_path / "empty")


def test_fetch_failure_names_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(MOVIELENS_ENV, raising=False)
    monkeypatch.setattr(movielens.subprocess, "run",
                        lambda cmd, **k: subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: offline\n"))
    with pytest.raises(DatasetUnavailableError, match="set the environment variable PPR_MOVIELENS"):
        read_movielens_100k(cache_dir=tmp_path / "cache")


def test_an_encoding_error_names_the_byte_line_and_column_of_the_whole_file(tmp_path):
    """pandas decodes in chunks of a few hundred kilobytes, so its position is within a chunk: the
    error must give the position in the file, as a user counts it (from 1)."""
    from pprlib.data.schema import DataValidationError

    rows = "".join(f"u{i},item{i},{i}\n" for i in range(30_000)).encode()
    head = b"user,item,timestamp\n" + rows + b"u9,caf"
    path = tmp_path / "late.csv"
    path.write_bytes(head + b"\xe9,5\n")
    with pytest.raises(DataValidationError) as err:
        _read_table("late.csv", path, sep=",")
    assert f"late.csv, line 30002: not utf-8 text (invalid continuation byte at byte {len(head) + 1} of the file, " \
           "column 7 of the line" in str(err.value)


def test_rows_after_a_quoted_field_with_a_line_break_keep_their_true_line_numbers(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text('user,bio,age\nu1,"two\nlines",3\nu2,x,4\n\nu3,"a, b",5\n')
    frame = _read_table("users.csv", path, sep=",")
    assert frame["_row"].tolist() == [2, 4, 6]  # u1 spans lines 2-3, line 5 is blank
    assert frame["bio"].tolist() == ["two\nlines", "x", "a, b"]
    plain = tmp_path / "plain.csv"
    plain.write_text("user,age\nu1,3\nu2,4\n")  # no quotes: every record is one line
    assert _read_table("plain.csv", plain, sep=",")["_row"].tolist() == [2, 3]


def test_the_readers_package_re_exports_each_reader_from_its_format_family():
    """``pprlib.data.readers`` (the documented path, used by the notebooks) hands out the family
    modules' own objects: nothing is defined twice."""
    homes = (csv_pair, ecommerce, movielens)
    for name in readers.__all__:
        found = [m for m in homes if name in m.__all__]
        assert len(found) == 1, name
        assert getattr(readers, name) is getattr(found[0], name), name
    assert set(readers.__all__) == {name for m in homes for name in m.__all__}

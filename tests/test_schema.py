"""build_dataset / InteractionData on small frames written here: the encoding contract and
every validation error (which must name the source, the column and the row)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pprlib.data.schema import (
    MISSING,
    ROW,
    DataValidationError,
    InteractionData,
    build_dataset,
    check_dataset,
)

FIELDS = ["gender", "age"]


def users_frame(**overrides):
    frame = pd.DataFrame(
        {"user": ["u3", "u1", "u2"], "gender": ["M", "F", "F"], "age": ["30", "25", "40"]}
    )
    for col, values in overrides.items():
        frame[col] = values
    return frame


def inter_frame():
    # deliberately unsorted, with a timestamp tie for u1 (rows 1 and 3)
    return pd.DataFrame(
        {
            "user": ["u1", "u1", "u3", "u1", "u2", "u3"],
            "item": ["i20", "i5", "i5", "i7", "i20", "i9"],
            "timestamp": [300, 100, 50, 100, 10, 40],
        }
    )


def build(inter=None, users=None, fields=FIELDS, **kw):
    return build_dataset(
        inter_frame() if inter is None else inter,
        users_frame() if users is None else users,
        fields,
        name="tiny",
        **kw,
    )


def labels_of(data, user_label):
    u = list(data.user_ids).index(user_label)
    return [data.item_ids[i] for i in data.sequence(u)]


# ------------------------------------------------------------------------------------------
# encoding contract
# ------------------------------------------------------------------------------------------
def test_users_numbered_in_profile_file_order():
    data = build()
    assert list(data.user_ids) == ["u3", "u1", "u2"]
    assert data.n_users == 3
    assert set(data.users.tolist()) == {0, 1, 2}


def test_profile_rows_without_interactions_are_not_users():
    users = pd.concat(
        [users_frame(), pd.DataFrame({"user": ["lonely"], "gender": ["M"], "age": ["99"]})],
        ignore_index=True,
    )
    data = build(users=users)
    assert list(data.user_ids) == ["u3", "u1", "u2"]
    assert data.profiles.shape == (3, 2)


def test_items_numbered_from_one_padding_is_zero():
    data = build()
    assert data.item_ids[0] is None
    assert data.n_items == 4
    assert data.items.min() >= 1 and data.items.max() == data.n_items
    assert 0 not in data.items
    # every label maps back: the multiset of (user, item) labels equals the input's
    got = sorted(zip(data.user_ids[data.users], data.item_ids[data.items], strict=True))
    src = inter_frame()
    assert got == sorted(zip(src.user, src.item, strict=True))


def test_items_numbered_in_natural_label_order():
    inter = pd.DataFrame({"user": ["a"] * 4, "item": [10, 9, 100, 2], "timestamp": [1, 2, 3, 4]})
    users = pd.DataFrame({"user": ["a"], "gender": ["F"]})
    data = build_dataset(inter, users, ["gender"], name="t")
    assert list(data.item_ids[1:]) == ["2", "9", "10", "100"]
    assert list(data.sequence(0)) == [3, 2, 4, 1]


def test_sorted_by_user_then_time_ties_in_source_order():
    data = build()
    assert np.all(np.diff(data.users) >= 0)
    for u in range(data.n_users):
        ts = data.timestamps[data.offsets[u] : data.offsets[u + 1]]
        assert np.all(np.diff(ts) >= 0)
    # u1: i5@100 (row 1) and i7@100 (row 3) tie -> source order, then i20@300
    assert labels_of(data, "u1") == ["i5", "i7", "i20"]
    assert labels_of(data, "u3") == ["i9", "i5"]
    assert labels_of(data, "u2") == ["i20"]


def test_ties_follow_source_order_when_reversed():
    inter = inter_frame().iloc[[0, 3, 2, 1, 4, 5]].reset_index(drop=True)  # i7 row now before i5
    data = build(inter=inter)
    assert labels_of(data, "u1") == ["i7", "i5", "i20"]


def test_offsets_sequence_lengths():
    data = build()
    assert data.offsets.tolist() == [0, 2, 5, 6]
    assert data.lengths.tolist() == [2, 3, 1]
    assert data.n_interactions == 6
    for u in range(data.n_users):
        assert np.array_equal(data.sequence(u), data.items[data.users == u])
    assert data.timestamps.dtype == np.int64 and data.items.dtype == np.int64


def test_profile_codes_and_vocab():
    data = build()
    for f in FIELDS:
        assert data.vocab[f][0] == MISSING
    assert data.vocab["gender"] == [MISSING, "F", "M"]
    assert data.vocab["age"] == [MISSING, "25", "30", "40"]
    assert data.profile_labels(0) == {"gender": "M", "age": "30"}
    assert data.profile_labels(1) == {"gender": "F", "age": "25"}
    assert data.field_sizes == [3, 4]
    assert data.profiles.min() >= 1  # nothing missing here


@pytest.mark.parametrize("empty", [None, np.nan, "", "  "])
def test_empty_profile_values_are_missing_code_zero(empty):
    users = users_frame(age=["30", empty, "40"])
    data = build(users=users)
    u1 = list(data.user_ids).index("u1")
    assert data.profiles[u1, 1] == 0
    assert data.profile_labels(u1)["age"] == MISSING
    assert data.vocab["age"] == [MISSING, "30", "40"]  # no label for the empty value
    assert data.profiles[u1, 0] != 0


def test_integral_float_profile_values_read_as_integers():
    users = users_frame(age=[30.0, np.nan, 40.0])
    data = build(users=users)
    assert data.vocab["age"] == [MISSING, "30", "40"]


def test_sub_second_timestamps_keep_order():
    inter = pd.DataFrame({"user": ["a", "a", "a"], "item": ["x", "y", "z"], "timestamp": [1.5, 1.25, 2.0]})
    users = pd.DataFrame({"user": ["a"], "gender": ["F"]})
    data = build_dataset(inter, users, ["gender"], name="t")
    assert list(data.item_ids[data.sequence(0)]) == ["y", "x", "z"]


def test_numeric_text_timestamps_accepted():
    inter = inter_frame()
    inter["timestamp"] = inter["timestamp"].astype(str)
    data = build(inter=inter)
    assert labels_of(data, "u1") == ["i5", "i7", "i20"]


def test_whole_float_ids_are_accepted_without_decimal():
    inter = pd.DataFrame({"user": [1.0, 1.0, 2.0], "item": [7.0, 8.0, 7.0], "timestamp": [1, 2, 3]})
    users = pd.DataFrame({"user": [1, 2], "gender": ["F", "M"]})
    data = build_dataset(inter, users, ["gender"], name="t")
    assert list(data.user_ids) == ["1", "2"]
    assert list(data.item_ids[1:]) == ["7", "8"]


def test_id_labels_keep_leading_zeros():
    inter = pd.DataFrame({"user": ["007", "8"], "item": ["a", "b"], "timestamp": [1, 2]})
    users = pd.DataFrame({"user": ["007", "8"], "gender": ["F", "M"]})
    data = build_dataset(inter, users, ["gender"], name="t")
    assert list(data.user_ids) == ["007", "8"]
    assert data.lengths.tolist() == [1, 1]
    # '007' next to '7' in one column is one number written two ways: refused (pprlib.data.checks)
    with pytest.raises(DataValidationError, match="ids '007' and '7' are the same number written two ways"):
        build_dataset(inter.assign(user=["007", "7"]), users.assign(user=["007", "7"]), ["gender"], name="t")


# ------------------------------------------------------------------------------------------
# validation errors: source, column and row are named
# ------------------------------------------------------------------------------------------
def err(match_parts, func, *args, **kw):
    with pytest.raises(DataValidationError) as info:
        func(*args, **kw)
    msg = str(info.value)
    for part in match_parts:
        assert re.search(part, msg), f"{part!r} not in {msg!r}"
    return msg


def test_empty_interactions():
    err(["^clicks.csv"], build_dataset, inter_frame().iloc[:0], users_frame(), FIELDS, name="t",
        interactions_source="clicks.csv")


def test_empty_users():
    err(["^profiles.csv"], build_dataset, inter_frame(), users_frame().iloc[:0], FIELDS, name="t",
        users_source="profiles.csv")


def test_missing_interaction_column():
    inter = inter_frame().drop(columns="timestamp")
    msg = err(["^clicks.csv", "timestamp"], build_dataset, inter, users_frame(), FIELDS, name="t",
              interactions_source="clicks.csv")
    assert "missing column" in msg


def test_missing_profile_column():
    users = users_frame().drop(columns="age")
    err(["^profiles.csv", "missing column", "'age'"], build_dataset, inter_frame(), users, FIELDS,
        name="t", users_source="profiles.csv")


def test_missing_user_column_in_users():
    users = users_frame().rename(columns={"user": "uid"})
    err(["^profiles.csv", "'user'"], build_dataset, inter_frame(), users, FIELDS, name="t",
        users_source="profiles.csv")


@pytest.mark.parametrize("bad", [None, np.nan, ""])
def test_missing_timestamp(bad):
    inter = inter_frame().astype({"timestamp": object})
    inter.loc[4, "timestamp"] = bad
    err(["^clicks.csv", "column 'timestamp'", r"row 4\b", "missing timestamp"], build_dataset, inter,
        users_frame(), FIELDS, name="t", interactions_source="clicks.csv")


def test_non_numeric_timestamp():
    inter = inter_frame().astype({"timestamp": object})
    inter.loc[2, "timestamp"] = "yesterday"
    err(["^clicks.csv", "column 'timestamp'", r"row 2\b", "yesterday", "not numeric"], build_dataset,
        inter, users_frame(), FIELDS, name="t", interactions_source="clicks.csv")


def test_row_numbers_come_from_row_column_when_present():
    inter = inter_frame().astype({"timestamp": object})
    inter[ROW] = [11, 12, 13, 14, 15, 16]
    inter.loc[2, "timestamp"] = "soon"
    err([r"row 13\b"], build, inter=inter)


def dup_frame():
    inter = inter_frame()
    return pd.concat([inter, inter.iloc[[3]]], ignore_index=True)  # row 6 repeats row 3


def test_duplicates_error():
    err(["^clicks.csv", r"row 6\b", "duplicate", "'u1'", "'i7'"], build_dataset, dup_frame(),
        users_frame(), FIELDS, name="t", interactions_source="clicks.csv")


def test_duplicates_error_is_default_and_drop_removes_them():
    data = build(inter=dup_frame(), duplicates="drop")
    assert data.n_interactions == 6
    assert labels_of(data, "u1") == ["i5", "i7", "i20"]
    assert data.fingerprint() == build().fingerprint()


def test_duplicates_keep():
    data = build(inter=dup_frame(), duplicates="keep")
    assert data.n_interactions == 7
    assert labels_of(data, "u1") == ["i5", "i7", "i7", "i20"]


def test_same_user_item_other_time_is_no_duplicate():
    inter = pd.concat([inter_frame(), pd.DataFrame({"user": ["u1"], "item": ["i7"], "timestamp": [999]})],
                      ignore_index=True)
    data = build(inter=inter)
    assert labels_of(data, "u1") == ["i5", "i7", "i20", "i7"]


def test_rows_named_after_dropping_duplicates_are_source_rows():
    inter = dup_frame()  # rows 0..6, row 6 repeats row 3
    inter = pd.concat([inter, pd.DataFrame({"user": ["ghost"], "item": ["i5"], "timestamp": [1]})],
                      ignore_index=True)  # source row 7
    err([r"row 7\b"], build, inter=inter, duplicates="drop")


def unknown_user_frame():
    inter = inter_frame()
    return pd.concat([inter, pd.DataFrame({"user": ["ghost", "ghost"], "item": ["i5", "i99"],
                                           "timestamp": [5, 6]})], ignore_index=True)


def test_unknown_user_error():
    err(["^clicks.csv", "column 'user'", r"rows 6, 7\b", "'ghost'", "profiles.csv"], build_dataset,
        unknown_user_frame(), users_frame(), FIELDS, name="t", interactions_source="clicks.csv",
        users_source="profiles.csv")


def test_unknown_user_missing_policy():
    data = build(inter=unknown_user_frame(), unknown_users="missing")
    assert list(data.user_ids) == ["u3", "u1", "u2", "ghost"]
    assert data.profiles[3].tolist() == [0, 0]
    assert labels_of(data, "ghost") == ["i5", "i99"]
    check_dataset(data)


def test_unknown_user_drop_policy():
    data = build(inter=unknown_user_frame(), unknown_users="drop")
    assert "ghost" not in list(data.user_ids)
    assert "i99" not in list(data.item_ids)  # only the ghost clicked it
    assert data.n_interactions == 6
    assert data.fingerprint() == build().fingerprint()


def test_unknown_user_drop_everything_raises():
    inter = pd.DataFrame({"user": ["ghost"], "item": ["i1"], "timestamp": [1]})
    with pytest.raises(DataValidationError, match="no interaction"):
        build(inter=inter, unknown_users="drop")


def test_unknown_users_policy_value():
    with pytest.raises(ValueError, match="unknown_users"):
        build(unknown_users="ignore")


def test_duplicates_policy_value():
    with pytest.raises(ValueError, match="duplicates"):
        build(duplicates="maybe")


def test_user_with_two_profile_rows():
    users = pd.concat([users_frame(), pd.DataFrame({"user": ["u1"], "gender": ["M"], "age": ["25"]})],
                      ignore_index=True)
    err(["^profiles.csv", "column 'user'", r"rows 1, 3\b", "'u1'", "more than one profile"],
        build_dataset, inter_frame(), users, FIELDS, name="t", users_source="profiles.csv")


@pytest.mark.parametrize("column", ["user", "item"])
def test_negative_id(column):
    inter = inter_frame()
    inter[column] = inter[column].astype(object)
    inter.loc[5, column] = -4
    users = users_frame()
    if column == "user":
        users.loc[3] = ["-4", "F", "25"]
    err(["^clicks.csv", f"column '{column}'", r"row 5\b", "non-negative", "-4"], build_dataset, inter,
        users, FIELDS, name="t", interactions_source="clicks.csv")


def test_negative_id_in_profiles():
    users = users_frame()
    users["user"] = ["u3", "-1", "u2"]
    err(["^profiles.csv", "column 'user'", r"row 1\b", "non-negative"], build_dataset, inter_frame(),
        users, FIELDS, name="t", users_source="profiles.csv")


def test_non_whole_float_id():
    inter = pd.DataFrame({"user": [1.0, 2.5, 1.0], "item": [1, 2, 3], "timestamp": [1, 2, 3]})
    users = pd.DataFrame({"user": [1, 2], "gender": ["F", "M"]})
    err(["^clicks.csv", "column 'user'", r"row 1\b", "2.5", "whole number"], build_dataset, inter, users,
        ["gender"], name="t", interactions_source="clicks.csv")


def test_empty_id():
    inter = inter_frame()
    inter.loc[2, "item"] = ""
    err(["^clicks.csv", "column 'item'", r"row 2\b", "empty id"], build_dataset, inter, users_frame(),
        FIELDS, name="t", interactions_source="clicks.csv")


def test_fixed_vocab_value_outside():
    users = users_frame(age=["30", "25", "41"])
    err(["^profiles.csv", "column 'age'", r"row 2\b", "'41'", "vocabulary"], build_dataset,
        inter_frame(), users, FIELDS, name="t", users_source="profiles.csv",
        vocab={"age": ["25", "30", "40"]})


def test_fixed_vocab_keeps_given_order_and_unused_labels():
    data = build(vocab={"age": ["40", "30", "25", "60"]})
    assert data.vocab["age"] == [MISSING, "40", "30", "25", "60"]
    u3 = list(data.user_ids).index("u3")
    assert data.profiles[u3, 1] == 2
    assert data.vocab["gender"] == [MISSING, "F", "M"]  # fields without a fixed vocab: sorted


# ------------------------------------------------------------------------------------------
# InteractionData methods
# ------------------------------------------------------------------------------------------
def test_encode_profile():
    data = build()
    assert data.encode_profile({"gender": "M", "age": "40"}).tolist() == [2, 3]
    assert data.encode_profile({"age": "25"}).tolist() == [0, 1]  # absent field -> missing
    assert data.encode_profile({"gender": None, "age": MISSING}).tolist() == [0, 0]
    assert data.encode_profile({}).tolist() == [0, 0]
    with pytest.raises(DataValidationError, match="unknown field.*'zip'"):
        data.encode_profile({"zip": "123"})
    with pytest.raises(DataValidationError, match="'age'.*'77'"):
        data.encode_profile({"age": "77"})


def test_encode_profile_round_trips_labels():
    data = build()
    for u in range(data.n_users):
        assert data.encode_profile(data.profile_labels(u)).tolist() == data.profiles[u].tolist()


def test_has_clicked():
    data = build()
    u1 = list(data.user_ids).index("u1")
    u2 = list(data.user_ids).index("u2")
    item = {label: i for i, label in enumerate(data.item_ids) if label is not None}
    users = np.array([u1, u1, u1, u1, u2, u2])
    items = np.array([item["i5"], item["i7"], item["i20"], item["i9"], item["i20"], item["i5"]])
    assert data.has_clicked(users, items).tolist() == [True, True, True, False, True, False]
    # every interaction is clicked; shapes are kept
    assert data.has_clicked(data.users, data.items).all()
    grid_u, grid_i = np.meshgrid(np.arange(data.n_users), np.arange(1, data.n_items + 1), indexing="ij")
    got = data.has_clicked(grid_u, grid_i)
    assert got.shape == grid_u.shape
    expected = np.array([[i in set(data.sequence(u).tolist()) for i in range(1, data.n_items + 1)]
                         for u in range(data.n_users)])
    assert np.array_equal(got, expected)
    # the largest key is not confused with out-of-range queries
    assert not data.has_clicked(np.array([data.n_users - 1]), np.array([0]))[0]


def test_subset_keeps_codes():
    data = build()
    keep = data.timestamps >= 100
    sub = data.subset(keep, name="late")
    assert sub.name == "late"
    assert sub.n_users == data.n_users and sub.n_items == data.n_items
    assert list(sub.user_ids) == list(data.user_ids)
    assert np.array_equal(sub.items, data.items[keep])
    u3 = list(data.user_ids).index("u3")
    assert sub.lengths[u3] == 0 and len(sub.sequence(u3)) == 0
    assert sub.offsets[-1] == keep.sum()
    assert np.array_equal(sub.profiles, data.profiles)
    # membership reflects the subset, not the original
    assert not sub.has_clicked(np.array([u3]), data.sequence(u3)[:1])[0]
    with pytest.raises(DataValidationError, match="no interactions"):
        check_dataset(sub)


def test_fingerprint():
    a, b = build(), build()
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 16
    inter = inter_frame()
    inter.loc[4, "timestamp"] = 11  # u2's only click (the last interaction): same order, other time
    c = build(inter=inter)
    assert np.array_equal(c.items, a.items)
    assert c.fingerprint() != a.fingerprint()
    users = users_frame(gender=["F", "F", "F"])
    assert build(users=users).fingerprint() != a.fingerprint()


def test_check_dataset_accepts_valid_and_rejects_broken():
    data = build()
    assert check_dataset(data) is data

    def broken(**changes):
        fields = dict(name="b", profile_fields=list(data.profile_fields), vocab=data.vocab,
                      profiles=data.profiles, user_ids=data.user_ids, item_ids=data.item_ids,
                      users=data.users, items=data.items, timestamps=data.timestamps)
        fields.update(changes)
        return InteractionData(**fields)

    items = data.items.copy()
    items[0] = 0
    with pytest.raises(DataValidationError, match="item codes"):
        check_dataset(broken(items=items))
    items[0] = data.n_items + 1
    with pytest.raises(DataValidationError, match="item codes"):
        check_dataset(broken(items=items))
    profiles = data.profiles.copy()
    profiles[0, 1] = len(data.vocab["age"])
    with pytest.raises(DataValidationError, match="'age'"):
        check_dataset(broken(profiles=profiles))
    with pytest.raises(DataValidationError, match="shape"):
        check_dataset(broken(profiles=data.profiles[:, :1]))
    with pytest.raises(DataValidationError, match="not sorted"):
        check_dataset(broken(users=data.users[::-1].copy()))

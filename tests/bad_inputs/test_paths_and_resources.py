"""The bad-input corpus, part three: paths the run may not write or read, checked before the
first chapter, and operating-system errors on the command line (one line naming the path).

Every case compares the whole message a user sees. The permissions are real (``chmod``); as
root, who may write anything, ``os.access`` is made to answer from the owner's permission bits,
so that the cases mean the same for every user (restored after each test).
"""

from __future__ import annotations

import errno
import os
import stat

import pytest

from pprlib import book
from pprlib.cli import main


@pytest.fixture
def chmod(monkeypatch):
    """``chmod(path, mode)``, undone after the test; as root, ``os.access`` then honours the
    owner's permission bits."""
    changed = []
    if os.geteuid() == 0:
        def access(path, mode, **kwargs):
            bits = os.stat(path).st_mode
            wanted = ((os.R_OK, stat.S_IRUSR), (os.W_OK, stat.S_IWUSR), (os.X_OK, stat.S_IXUSR))
            return all(bits & bit for flag, bit in wanted if mode & flag)

        monkeypatch.setattr(os, "access", access)

    def change(path, mode):
        changed.append((path, stat.S_IMODE(os.stat(path).st_mode)))
        os.chmod(path, mode)

    yield change
    for path, mode in reversed(changed):
        os.chmod(path, mode)


@pytest.fixture
def no_execution(monkeypatch):
    started = []
    monkeypatch.setattr("papermill.execute_notebook", lambda *a, **k: started.append(a))
    return started


def test_a_read_only_executed_folder_fails_before_any_chapter(tmp_path, chmod, capsys, no_execution):
    build = tmp_path / "_build"
    executed = build / "executed" / "book"
    executed.mkdir(parents=True)
    chmod(executed, 0o555)
    assert main(["book", "--profile", "tiny", "--no-html", "--build-dir", str(build)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {executed}: no write permission on this folder, where the run writes the executed chapters; "
        f"make it writable (chmod -R u+w {build}) or choose another --build-dir")
    assert no_execution == []


def test_a_read_only_executed_chapter_is_named(tmp_path, chmod):
    build = tmp_path / "_build"
    copy = build / "executed" / "book" / "data_protocol.ipynb"
    copy.parent.mkdir(parents=True)
    copy.write_text("{}")
    chmod(copy, 0o444)
    with pytest.raises(book.BookError) as info:
        book.check_paths(build)
    assert str(info.value) == (
        f"{copy}: no write permission on this file, where the run writes the executed chapters; make it writable "
        f"(chmod -R u+w {build}) or choose another --build-dir")


def test_a_read_only_html_folder_counts_only_when_the_html_is_built(tmp_path, chmod):
    build = tmp_path / "_build"
    (build / "html" / "_static").mkdir(parents=True)
    chmod(build / "html" / "_static", 0o555)
    chmod(build / "html", 0o555)
    book.check_paths(build, html=False)  # --no-html: the HTML is not touched
    with pytest.raises(book.BookError) as info:
        book.check_paths(build)
    assert str(info.value) == (
        f"{build}/html: no write permission on this folder, where the run writes the book's staging copy and "
        f"HTML (1 more path(s) under {build} lack it too); make it writable (chmod -R u+w {build}) or choose "
        "another --build-dir")


def test_a_read_only_cache_subfolder(tmp_path, chmod, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "splits").mkdir(parents=True)
    monkeypatch.setenv("PPR_CACHE_DIR", str(cache))
    chmod(cache / "splits", 0o555)
    with pytest.raises(book.BookError) as info:
        book.check_paths(tmp_path / "_build")
    assert str(info.value) == (
        f"{cache}/splits: no write permission on this folder, where the run writes the cache (data splits, models, "
        f"results); make it writable (chmod -R u+w {cache}) or set PPR_CACHE_DIR to a folder you can write")


def test_a_read_only_lock_file_in_the_cache(tmp_path, chmod, monkeypatch):
    cache = tmp_path / "cache"
    lock = cache / "checkpoints" / "pre-0123.pt.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    (cache / "checkpoints" / "pre-0123.pt").write_text("")
    chmod(cache / "checkpoints" / "pre-0123.pt", 0o444)  # replaced by renaming: only its folder counts
    monkeypatch.setenv("PPR_CACHE_DIR", str(cache))
    book.check_paths(tmp_path / "_build")
    chmod(lock, 0o444)
    with pytest.raises(book.BookError) as info:
        book.check_paths(tmp_path / "_build")
    assert str(info.value) == (
        f"{lock}: no write permission on this file, where the run writes the cache (data splits, models, results); "
        f"make it writable (chmod -R u+w {cache}) or set PPR_CACHE_DIR to a folder you can write")


def test_a_read_only_build_folder_is_refused_by_its_own_check(tmp_path, chmod):
    (tmp_path / "out" / "_build").mkdir(parents=True)
    chmod(tmp_path / "out" / "_build", 0o555)
    with pytest.raises(ValueError) as info:
        book.check_paths(tmp_path / "out" / "_build", html=False)
    assert str(info.value) == (f"--build-dir {tmp_path}/out/_build: {tmp_path}/out/_build is not writable; choose "
                               "another folder")


@pytest.mark.parametrize("target, mode, kind, fix", [
    ("users.csv", 0o200, "file", "u+r"),
    ("", 0o300, "folder", "u+rx"),
])
def test_an_unreadable_data_file_or_folder_fails_before_any_chapter(tmp_path, chmod, capsys, no_execution,
                                                                    target, mode, kind, fix):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "interactions.csv").write_text("user_id,item_id,timestamp\nu1,i1,1\n")
    (folder / "users.csv").write_text("user_id,g\nu1,a\n")
    profile = tmp_path / "mine.yaml"
    profile.write_text(f"dataset: csv:{folder}\nheldout_users: 0\nzero_shot_users: 0\n")
    path = folder / target if target else folder
    chmod(path, mode)
    assert main(["book", "--profile", str(profile), "--no-html", "--build-dir", str(tmp_path / "_build")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: {path}: no read permission on this data {kind} (dataset 'csv:{folder}'); make it "
        f"readable (chmod {fix} {path}) or copy the data to a folder you can read")
    assert no_execution == []


@pytest.mark.parametrize("error, expected", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/cache/splits/a.npz"),
     "error: /data/cache/splits/a.npz: Permission denied; check its permissions (the run reads or writes it)"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/cache/a.pt"),
     "error: /data/cache/a.pt: No space left on device; free some space on that disk (or set PPR_CACHE_DIR to "
     "another one)"),
    (OSError(errno.EXDEV, "Invalid cross-device link", "/tmp/a", None, "/data/a"),
     "error: /tmp/a -> /data/a: Invalid cross-device link"),
    (FileNotFoundError("/data/mine/users.csv: file not found"), "error: /data/mine/users.csv: file not found"),
])
def test_the_command_line_turns_any_os_error_into_one_line(error, expected, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(book, "run", fail)
    assert main(["book", "--profile", "tiny"]) == 1
    assert capsys.readouterr().err.strip() == expected


# ------------------------------------------------------------------------------------------
# sizes beyond this machine: refused when the profile is checked, before any chapter
# ------------------------------------------------------------------------------------------
GIB = 2**30
SIZE_CASES = {
    "two billion held-out users": (
        "heldout_users: 2000000000\n",
        "{path}, line 2: key 'heldout_users' makes a run need at least 3,352.8 GiB of memory, more than the 16.0 GiB "
        "available on this machine: 2,000,016,000 generated users (n_users + heldout_users + zero_shot_users = 6,000 + "
        "2,000,000,000 + 10,000) of 200 click slots each (1,800 bytes a user) and 1,000 items (1,024 bytes an item: "
        "embedding, gradient, two Adam moments); lower heldout_users"),
    "fifty million one-click users": (
        "zero_shot_users: 50000000\n",
        "{path}, line 2: key 'zero_shot_users' makes a run need at least 83.8 GiB of memory, more than the 16.0 GiB "
        "available on this machine: 50,009,000 generated users (n_users + heldout_users + zero_shot_users = 6,000 + "
        "3,000 + 50,000,000) of 200 click slots each (1,800 bytes a user) and 1,000 items (1,024 bytes an item: "
        "embedding, gradient, two Adam moments); lower zero_shot_users"),
    "two hundred million items": (
        "n_items: 200000000\n",
        "{path}, line 2: key 'n_items' makes a run need at least 190.8 GiB of memory, more than the 16.0 GiB available "
        "on this machine: 19,000 generated users (n_users + heldout_users + zero_shot_users = 6,000 + 3,000 + 10,000) "
        "of 200 click slots each (1,800 bytes a user) and 200,000,000 items (1,024 bytes an item: embedding, "
        "gradient, two Adam moments); lower n_items"),
    "a dose study of twenty million users": (
        "dose_users: 20000000\n",
        "{path}, line 2: key 'dose_users' makes a run need at least 134.1 GiB of memory, more than the 16.0 GiB "
        "available on this machine: the dose study's 80,000,000 users (4 x dose_users) of 200 click slots each; "
        "lower dose_users"),
}


@pytest.mark.parametrize("kind", list(SIZE_CASES))
def test_sizes_beyond_the_machine_are_refused_with_the_estimate(kind, tmp_path, monkeypatch):
    content, expected = SIZE_CASES[kind]
    monkeypatch.setattr("pprlib.resources.available_memory", lambda: 16 * GIB)
    path = tmp_path / "mine.yaml"
    path.write_text("seed: 0\n" + content)
    with pytest.raises(ValueError) as info:
        book.load_profile(path)
    assert str(info.value) == expected.format(path=path)


def test_two_billion_held_out_users_are_refused_on_this_machine_before_any_chapter(tmp_path, capsys, no_execution):
    path = tmp_path / "mine.yaml"
    path.write_text("heldout_users: 2000000000\n")
    assert main(["book", "--profile", str(path), "--no-html", "--build-dir", str(tmp_path / "_build")]) == 1
    err = capsys.readouterr().err.strip()  # checked in the runner's child process, with this machine's memory
    assert err.startswith(f"error: {path}, line 1: key 'heldout_users' makes a run need at least 3,352.8 GiB of "
                          "memory, more than the ")
    assert err.endswith("; lower heldout_users")
    assert no_execution == []


@pytest.mark.parametrize("name", book.profile_names())
def test_every_profile_of_the_book_fits_a_small_machine(name, monkeypatch):
    from pprlib.config import BookConfig
    from pprlib.resources import check_memory

    book.load_profile(name)  # this machine
    check_memory(BookConfig.from_params(book.load_profile(name)), available=2 * GIB)  # a laptop's free 2 GiB


def test_available_memory_is_read_here():
    from pprlib.resources import available_memory

    assert 0 < available_memory() < 2**50

"""The batch runner: execute the book's notebooks with papermill, then build the book (the run
profiles it reads are :mod:`pprlib.profiles`).

Source notebooks under ``book/`` stay clean (no outputs). Executed copies go to
``_build/executed/``; the runner records, per notebook, a key derived from the notebook's
source, its parameters and the ``pprlib`` sources, so a second run skips what is already
done with the same inputs (and an interrupted run resumes at the first unfinished chapter).
The book is then built by Jupyter Book 1 from a staging copy (``_build/source``) that holds
the executed notebooks, into ``_build/html``. The build is strict: warnings fail it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import yaml

from pprlib.cache import atomic_write
from pprlib.profiles import (  # noqa: F401 (the profile side of the runner, re-exported for its callers)
    PROFILES_DIR,
    ROOT,
    BookError,
    load_profile,
    profile_names,
    profile_path,
    profile_problem,
    read_profile_file,
)
from pprlib.resources import time_needed

EXECUTED_DIR = "executed_dir"
"""The parameter through which the runner tells a chapter where the executed chapters are."""

RUNNER_PARAMETERS = (EXECUTED_DIR,)
"""Notebook parameters the runner sets itself, not a profile."""


def toc_files(root: Path = ROOT) -> list[Path]:
    """Every document of ``_toc.yml`` in reading order (with its real suffix)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    out: list[str] = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                out.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    paths = []
    for name in out:
        matches = [root / f"{name}{suffix}" for suffix in (".ipynb", ".md") if (root / f"{name}{suffix}").exists()]
        if not matches:
            raise BookError(f"_toc.yml names {name!r} but neither {name}.ipynb nor {name}.md exists")
        paths.append(matches[0])
    return paths


def notebook_parameters(path: Path) -> dict:
    """The names and default values of a notebook's ``parameters`` cell."""
    import papermill

    return {name: spec["default"] for name, spec in papermill.inspect_notebook(str(path)).items()}


def _sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "pprlib").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass
class Chapter:
    source: Path
    executed: Path
    params: dict
    key: str
    priority: int = 0

    @property
    def gathers(self) -> bool:
        """A chapter that declares ``executed_dir`` reads the other chapters' executed copies
        (the reproduction summary): it runs after them, and reruns whenever one of them does."""
        return EXECUTED_DIR in self.params


def plan(profile: str | Path, build_dir: Path) -> list[Chapter]:
    """The notebooks to execute, each with the parameters of the profile it declares."""
    params = load_profile(profile, apart=True)  # checked in a child process: the runner never imports torch
    code = _sources_digest()
    chapters = []
    read = set()
    for path in toc_files():
        if path.suffix != ".ipynb":
            continue
        declared = notebook_parameters(path)
        if not declared:
            raise BookError(f"{path.relative_to(ROOT)}: no cell tagged 'parameters'")
        read |= set(declared)
        chosen = {k: v for k, v in params.items() if k in declared}
        rel = path.relative_to(ROOT)
        if EXECUTED_DIR in declared:  # relative to the notebook's folder, where it runs
            chosen[EXECUTED_DIR] = os.path.relpath(build_dir / "executed" / rel.parent, path.parent)
        # notebook metadata "pprlib": {"priority": n} starts a chapter earlier; {"inputs": [files]}
        # names files it reads (relative to the project), whose content then enters its key
        meta = json.loads(path.read_text()).get("metadata", {}).get("pprlib", {})
        inputs = b"".join((ROOT / f).read_bytes() if (ROOT / f).exists() else f"{f}: missing".encode()
                          for f in meta.get("inputs", []))
        key = hashlib.sha256(
            path.read_bytes() + json.dumps(chosen, sort_keys=True, default=str).encode() + code.encode() + inputs
        ).hexdigest()[:16]
        chapters.append(Chapter(path, build_dir / "executed" / rel, chosen, key, int(meta.get("priority", 0))))
    unread = sorted(set(params) - read - {"profile"})  # the profile's name is only shown, where declared
    if unread:  # BookConfig knows it but no chapter would receive it: a silent no-op otherwise
        raise BookError(f"profile setting(s) {unread} are read by no chapter's parameters cell")
    others = "".join(ch.key for ch in chapters if not ch.gathers)
    for ch in chapters:
        if ch.gathers:
            ch.key = hashlib.sha256((ch.key + others).encode()).hexdigest()[:16]
    return chapters


def execute(profile: str | Path = "default", *, build_dir: Path | None = None, force: bool = False,
            only: list[str] | None = None, jobs: int = 1, html: bool = False, log=print) -> list[Path]:
    """Execute the book's notebooks; returns the executed copies (in toc order).

    With ``jobs > 1`` that many notebooks run at once, each kernel with one CPU thread (on a
    small model two single-thread processes do more work than one with two threads). Chapters
    that need the same pre-trained model wait for each other through the cache's file locks.
    A failing chapter stops the run: running chapters finish, nothing new starts. A chapter
    that gathers the others' results (see :attr:`Chapter.gathers`) starts after all of them.
    Before the first chapter, :func:`check_paths` checks every path the run writes and reads
    (``html``: the build folder's other folders too, for the HTML build that follows), and the
    time the chapters to execute take is estimated and logged
    (:func:`~pprlib.resources.time_needed`)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    build_dir = check_build_dir(build_dir)
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in executed notebooks
    manifest_path = build_dir / "executed" / "manifest.json"
    lock = threading.Lock()
    todo, done, order = [], {}, []
    chapters = plan(profile, build_dir)
    only = check_only(only, [ch.source.stem for ch in chapters])
    params = load_profile(profile, apart=True)
    check_paths(build_dir, params.get("dataset", "synthetic"), html=html)
    manifest = _read_manifest(manifest_path, log)
    for ch in chapters:
        name = ch.source.relative_to(ROOT).as_posix()
        order.append(name)
        if only and ch.source.stem not in only:
            continue
        if not force and manifest.get(name, {}).get("key") == ch.key and ch.executed.exists():
            log(f"[book] {name}: up to date, skipped")
            done[name] = ch.executed
        else:
            todo.append((name, ch))
    if todo:  # stated, never refused: see pprlib.resources.time_needed
        log(f"[book] {time_needed(params, [ch.source.stem for _, ch in todo], jobs)[1]}")

    def write_manifest() -> None:  # called with the lock held
        atomic_write(manifest_path, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1, default=str)))

    def run_one(name: str, ch: Chapter) -> Path:
        log(f"[book] {name}: started")
        ch.executed.parent.mkdir(parents=True, exist_ok=True)
        with lock:
            # papermill rewrites the executed copy cell by cell: a record left on disk (--force,
            # or a deleted copy) would vouch for a half-executed copy if the run stopped now
            if manifest.pop(name, None) is not None:
                write_manifest()
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(ch.source), str(ch.executed), parameters=ch.params, cwd=str(ch.source.parent),
                kernel_name="python3", progress_bar=False, log_output=False,
                kernel_manager_class=IPCKernelManager,
            )
        except PapermillExecutionError as exc:
            raise BookError(
                f"{name} failed in cell In [{exc.exec_count}] ({exc.ename}: {exc.evalue}); the executed copy "
                f"with the traceback is kept at {ch.executed}; the other chapters' results are intact"
            ) from None
        seconds = time.perf_counter() - start
        _hide_injected_parameters(ch.executed)
        with lock:
            manifest[name] = {"key": ch.key, "params": ch.params, "seconds": round(seconds, 1)}
            write_manifest()
        log(f"[book] {name}: done in {seconds:.1f} s")
        return ch.executed

    if jobs > 1:
        os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the kernels started from here
    failure = None
    sockets = tempfile.TemporaryDirectory(prefix="pprlib-kernels-")
    IPCKernelManager = _ipc_kernel_manager(Path(sockets.name))
    with sockets, ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = {}
        # chapters that pre-train models of their own start first (notebook metadata
        # pprlib.priority), so that two workers do not wait on the same pre-training, and so do
        # the long ones: a long chapter started last would leave the other worker idle
        queue = sorted((item for item in todo if not item[1].gathers), key=lambda item: -item[1].priority)
        last = [item for item in todo if item[1].gathers]
        while queue or pending or (last and failure is None):
            if not queue and not pending:  # every other chapter is done: now the gathering ones
                queue, last = last, []
            while queue and len(pending) < jobs and failure is None:
                name, ch = queue.pop(0)
                pending[pool.submit(run_one, name, ch)] = name
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                name = pending.pop(future)
                try:
                    done[name] = future.result()
                except BookError as exc:
                    failure = failure or exc
            if failure is not None:
                queue.clear()
    if failure is not None:
        raise failure
    return [done[n] for n in order if n in done]


def check_only(only, names: list[str] | None = None) -> list[str] | None:
    """The notebooks named by ``--only`` (stems, stripped), checked against ``names`` (default:
    the notebooks of ``_toc.yml``). ``None`` means every chapter; an empty list or an empty name
    is an error, never "everything": a shell variable that expanded to nothing must not start the
    whole book."""
    if only is None:
        return None
    names = names if names is not None else [p.stem for p in toc_files() if p.suffix == ".ipynb"]
    only = [only] if isinstance(only, str) else list(only)
    if not only:
        raise ValueError(f"--only was given no notebook name; name one or more of {names} "
                         "(leave --only out to execute every chapter)")
    blank = [i + 1 for i, name in enumerate(only) if not str(name).strip()]
    if blank:
        raise ValueError(f"--only was given an empty notebook name (item {blank[0]} of {only!r}); name one or more "
                         f"of {names} (leave --only out to execute every chapter)")
    only = [str(name).strip() for name in only]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown} in --only; choose from {names}")
    return only


def check_paths(build_dir: Path, dataset: str = "synthetic", *, html: bool = True) -> None:
    """Every path the run writes or reads, checked before the first chapter starts, so that a
    permission shows as one :class:`BookError` naming the path and the permission missing, not
    as a traceback in the middle of the book. Written: the executed chapters (``<build>/executed``:
    its folders and files, rewritten in place), with ``html`` the rest of the build folder (the
    staging copy and the HTML), the cache (:func:`~pprlib.cache.cache_dir`: every folder of it and
    its lock files; its other files are replaced by renaming, which needs the folder only). Read:
    the dataset's folder and files (:meth:`~pprlib.data.sources.DataSpec.inputs`)."""
    from pprlib.cache import cache_dir
    from pprlib.data.sources import DataSpec

    build_dir = check_build_dir(build_dir)
    cache = cache_dir()
    places = [(build_dir / "executed", "the executed chapters", lambda name: True,
               f"make it writable (chmod -R u+w {build_dir}) or choose another --build-dir")]
    if html:
        places.append((build_dir, "the book's staging copy and HTML", lambda name: True,
                       f"make it writable (chmod -R u+w {build_dir}) or choose another --build-dir"))
    places.append((cache, "the cache (data splits, models, results)", lambda name: name.endswith(".lock"),
                   f"make it writable (chmod -R u+w {cache}) or set PPR_CACHE_DIR to a folder you can write"))
    for root, what, rewritten, fix in places:
        found = _unwritable(root, rewritten)
        if found:
            path, missing = found[0]
            kind = "folder" if path.is_dir() else "file"
            more = f" ({len(found) - 1} more path(s) under {root} lack it too)" if len(found) > 1 else ""
            raise BookError(f"{path}: no {missing} permission on this {kind}, where the run writes {what}{more}; "
                            f"{fix}")
    for path in DataSpec(dataset).inputs():
        folder = path.is_dir()
        if not os.access(path, os.R_OK | (os.X_OK if folder else 0)):
            raise BookError(f"{path}: no read permission on this data {'folder' if folder else 'file'} (dataset "
                            f"{dataset!r}); make it readable (chmod {'u+rx' if folder else 'u+r'} {path}) or copy "
                            "the data to a folder you can read")


def _unwritable(root: Path, rewritten) -> list[tuple[Path, str]]:
    """``(path, permission)`` for every folder under ``root`` (itself included) that cannot be
    written or read, and every file named ``rewritten(name)`` that cannot be written. A ``root``
    not made yet is made in a folder checked already (the build folder by :func:`check_build_dir`,
    the cache by :func:`~pprlib.cache.cache_dir`, which makes it)."""
    if not root.is_dir():
        return []  # not made yet, or a file that making it as a folder reports (check_build_dir, ensure_folder)
    found: list[tuple[Path, str]] = []

    def unreadable(exc: OSError) -> None:
        found.append((Path(exc.filename), "read"))

    for folder, _, files in os.walk(root, onerror=unreadable):
        if not os.access(folder, os.W_OK | os.X_OK):
            found.append((Path(folder), "write"))
        found += [(Path(folder) / f, "write") for f in files
                  if rewritten(f) and not os.access(os.path.join(folder, f), os.W_OK)]
    return found


def _read_manifest(path: Path, log) -> dict:
    """The record of executed chapters; a damaged one is set aside (every chapter then
    re-executes: the record only saves time, the executed notebooks are kept)."""
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and all(isinstance(v, dict) for v in manifest.values()):
            return manifest
        problem = "not a mapping of chapters to records"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = str(exc)
    log(f"[book] warning: {path} is damaged ({problem}); it is ignored and every chapter re-executes")
    return {}


def _ipc_kernel_manager(folder: Path):
    """A kernel manager class whose kernels use IPC sockets under ``folder``."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        """Kernels that talk to the runner over local sockets (IPC) rather than TCP on localhost:
        nothing is reachable from the network, and the kernel has no reason to warn that its
        traffic is unencrypted."""

        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):  # socket files go to a private temporary folder, not the notebook's
            return str(folder / f"kernel-{uuid.uuid4().hex[:8]}")

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before asking it to shut down; after a finished
            # notebook that only makes an idle kernel log "KeyboardInterrupt caught in kernel"
            # (a busy one is still killed after the shutdown request times out)
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return IPCKernelManager


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected cell ``remove-cell``: the book shows the parameters cell once."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    atomic_write(path, lambda tmp: nbformat.write(nb, str(tmp)))


def check_build_dir(build_dir: Path | str | None) -> Path:
    """The build folder, checked before any work: Jupyter Book writes to ``<parent>/_build``,
    so it must be called ``_build``, and it must be a folder (or not exist yet)."""
    path = Path(build_dir) if build_dir is not None else ROOT / "_build"
    if path.name != "_build":
        raise ValueError(f"--build-dir {build_dir}: the build folder must be called _build (Jupyter Book writes "
                         f"to <folder>/_build); use {path / '_build'}")
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise ValueError(f"--build-dir {build_dir}: {part} is a file, not a folder; remove it or choose "
                                 "another folder")
            if not os.access(part, os.W_OK):
                raise ValueError(f"--build-dir {build_dir}: {part} is not writable; choose another folder")
            break
    return path


def build(build_dir: Path | None = None, *, strict: bool = True, log=print) -> Path:
    """Stage the executed notebooks with the book's other files and build HTML."""
    build_dir = check_build_dir(build_dir)
    stage = build_dir / "source"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, stage / name)
    if (ROOT / "_static").is_dir():  # the book's own CSS, which Jupyter Book links in every page
        shutil.copytree(ROOT / "_static", stage / "_static")
    for path in (ROOT / "book").rglob("*"):
        rel = path.relative_to(ROOT)
        if path.is_dir() or ".ipynb_checkpoints" in rel.parts:
            continue
        target = stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            executed = build_dir / "executed" / rel
            if not executed.exists():
                raise BookError(f"{rel} has not been executed yet (run `python -m pprlib book`)")
            shutil.copy2(executed, target)
        else:
            shutil.copy2(path, target)
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(stage), "--path-output", str(build_dir.parent)]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    log(f"[book] building the HTML in {build_dir / 'html'}")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise BookError(f"jupyter-book build failed (exit {result.returncode}):\n{tail}")
    index = build_dir / "html" / "index.html"
    log(f"[book] built {index}")
    return index


def run(profile: str | Path = "default", *, build_dir: Path | None = None, force: bool = False,
        only: list[str] | None = None, html: bool = True, jobs: int = 1, log=print) -> None:
    start = time.perf_counter()
    check_build_dir(build_dir)
    execute(profile, build_dir=build_dir, force=force, only=only, jobs=jobs, html=html, log=log)
    if html:
        build(build_dir, log=log)
    log(f"[book] finished in {time.perf_counter() - start:.0f} s")


def glued(notebook: Path, rich: bool = True) -> dict:
    """Values recorded with ``myst_nb.glue`` in an executed notebook.

    Plain Python values (numbers, strings, lists, dicts) come back as values; anything else
    (a DataFrame, a figure) as its HTML (``rich``) or plain-text representation.
    """
    import ast

    import nbformat

    prefix = "application/papermill.record/"
    out = {}
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is None:
                continue
            data = {k.removeprefix(prefix): v for k, v in output.get("data", {}).items()}
            text = data.get("text/plain", "")
            try:
                out[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[name] = data.get("text/html", text) if rich else text
    return out

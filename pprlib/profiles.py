"""Run profiles: the YAML files of notebook parameters under ``book/profiles/``, found by name
or path, read strictly (a key twice, a YAML or encoding error, an unknown key, a wrong type or
range, more memory than this machine has, a device it lacks: one error naming the file, line
and key) before any chapter starts; the check can run in a child process, so the runner itself
never imports torch."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROFILES_DIR = ROOT / "book" / "profiles"


class BookError(RuntimeError):
    """A chapter failed, the book could not be built, or a path the run needs cannot be written
    or read (:func:`pprlib.book.check_paths`); the message names where."""


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def profile_path(profile: str | Path) -> Path:
    """The YAML file of a profile given by name (``tiny``) or as a path to a file."""
    text = str(profile).strip()
    path = Path(text).expanduser()
    if not text:
        raise ValueError(f"no profile given; choose from {profile_names()} or give a YAML file")
    if path.is_dir():
        raise ValueError(f"profile {text!r} is a folder, not a file; give a YAML file (such as "
                         f"{PROFILES_DIR.relative_to(ROOT) / 'tiny.yaml'}) or a name from {profile_names()}")
    if path.is_file():
        return path
    named = "/" not in text and "\\" not in text
    if named and path.suffix.lower() in (".yaml", ".yml") and (PROFILES_DIR / text).is_file():
        return PROFILES_DIR / text  # `--profile tiny.yaml` from another folder
    if named and path.suffix.lower() not in (".yaml", ".yml"):
        if (PROFILES_DIR / f"{text}.yaml").is_file():
            return PROFILES_DIR / f"{text}.yaml"
        close = difflib.get_close_matches(text.lower(), profile_names(), n=1, cutoff=0.6)
        advice = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown profile {text!r}{advice}; choose from {profile_names()} or give a YAML file")
    raise ValueError(f"profile file {path} does not exist")


class _ProfileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus YAML 1.2's floats: ``5e-3`` is a number, not a string."""


_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _key_near(text: str, line: int) -> str:
    """The top-level key written on or above 1-based ``line`` (for messages)."""
    for row in reversed(text.splitlines()[:line]):
        match = re.match(r"([A-Za-z_][\w-]*)\s*:", row)
        if match:
            return f", key {match.group(1)!r}"
    return ""


def _duplicate_keys(node, path: Path) -> None:
    """Refuse a key written twice in one mapping (PyYAML would silently keep the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise ValueError(
                        f"{path}, line {key_node.start_mark.line + 1}: key {key_node.value!r} is written twice "
                        f"(first on line {seen[key_node.value]}); keep one of them")
                seen[key_node.value] = key_node.start_mark.line + 1
            _duplicate_keys(value_node, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicate_keys(item, path)


def read_profile_file(path: Path) -> tuple[dict, dict[str, int]]:
    """The mapping in a profile file and the line of each top-level key; a clear
    ``ValueError`` naming the file (and line and key) for anything that is not one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the profile ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        near = _key_near(raw[: exc.start].decode("utf-8", errors="replace"), line)
        raise ValueError(f"{path}, line {line}{near}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
                         "save the profile as UTF-8") from None
    loader = None
    try:
        loader = _ProfileLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise ValueError(f"{path}: the profile is empty; write its settings (copy "
                             f"{PROFILES_DIR.relative_to(ROOT) / 'default.yaml'} and change what you need)")
        _duplicate_keys(node, path)
        params = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark, start = exc.problem_mark or exc.context_mark, exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        where += _key_near(text, (start or mark).line + 1) if mark else ""
        context = exc.context or ""
        if start is not None and mark is not None and start.line != mark.line:
            context += f" that starts on line {start.line + 1}, column {start.column + 1}"
        problem = ": ".join(filter(None, [context, exc.problem]))
        raise ValueError(f"{path}{where}: not valid YAML ({problem})") from None
    except yaml.reader.ReaderError as exc:  # a control character: YAML allows printable text only
        line = text[: exc.position].count("\n") + 1
        raise ValueError(f"{path}, line {line}{_key_near(text, line)}: not valid YAML (character {exc.character:#06x} "
                         "is not allowed; a profile is printable text)") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(params, dict):
        raise ValueError(f"{path}: a profile must be a mapping of parameter names to values")
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return params, lines


def load_profile(profile: str | Path, *, apart: bool = False) -> dict:
    """Parameters of a run profile (a name under ``book/profiles`` or a path to a YAML file),
    checked against :class:`~pprlib.config.BookConfig` before anything runs: an unknown
    key, a wrong type or a value out of range is a ``ValueError`` naming the file, line and key.

    ``apart=True`` (the book runner) checks the settings and the device in a short-lived child
    process, with the same messages: the long-lived runner then never imports torch, whose
    memory would stay held beside the chapters' kernels for the whole run."""
    path = profile_path(profile)
    params, lines = read_profile_file(path)
    params.setdefault("profile", path.stem)
    problem = _problem_apart(path) if apart else profile_problem(path, params, lines)
    if problem:
        raise ValueError(problem)
    return params


def profile_problem(path: Path, params: dict, lines: dict[str, int]) -> str | None:
    """What is wrong with the settings ``params`` read from ``path`` (``None`` when nothing):
    a setting :class:`~pprlib.config.BookConfig` refuses, settings that do not fit together
    (:func:`~pprlib.context.check_together`: a catalogue too small for the generated histories),
    sizes beyond this machine's memory (:func:`~pprlib.resources.check_memory`), or a device this
    machine lacks."""
    from pprlib.config import BookConfig, check_together
    from pprlib.params import SettingError
    from pprlib.resources import check_memory

    try:
        config = BookConfig.from_params(params)
        check_together(config)
        check_memory(config)
    except SettingError as exc:
        line = lines.get(exc.key)
        where = f"{path}, line {line}" if line else str(path)
        return f"{where}: key {exc.key!r} {exc.detail}"
    except ValueError as exc:
        return f"{path}: {exc}"
    device = params.get("device", "auto")
    if device in ("auto", "cpu"):  # always usable: the check then needs no torch
        return None
    from pprlib.train import resolve_device

    try:  # `device: cuda` on a machine without one fails here, not in the first chapter
        resolve_device(device)
    except ValueError as exc:
        line = lines.get("device")
        return f"{path}, line {line}: key 'device' {exc}" if line else f"{path}: {exc}"
    return None


_CHILD_CHECK = """
import json, sys
from pprlib import profiles
try:
    profiles.load_profile(sys.argv[1])
    print(json.dumps(None))
except ValueError as exc:
    print(json.dumps(str(exc)))
"""


def _problem_apart(path: Path) -> str | None:
    """:func:`profile_problem` of the profile file ``path``, computed in a child process (and
    remembered for the same file content: the command line and the runner both check it)."""
    content = path.read_bytes()
    if (path, content) not in _checked:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        result = subprocess.run([sys.executable, "-c", _CHILD_CHECK, str(path)], capture_output=True, text=True,
                                env=env)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
            raise BookError(f"{path}: checking the profile failed in a child process (exit {result.returncode}):\n{tail}")
        _checked[path, content] = json.loads(lines[-1])
    return _checked[path, content]


_checked: dict[tuple[Path, bytes], str | None] = {}

"""Content-addressed on-disk cache: keys derived from configurations, atomic writes.

Every expensive artifact (dataset, split, checkpoint, result table) is stored under a key
computed from its full configuration. Fields that do not affect the result (a progress-bar
flag, say) are declared with ``field(metadata={"cosmetic": True})`` and left out of the key.
Files are written to a temporary name and renamed, so an interrupted run never leaves a
half-written file that a later run trusts; a file that fails to load is discarded.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_REPO_ROOT = Path(__file__).resolve().parent.parent

LAYOUT = 2
"""The version of what the cache stores and how it is keyed, part of every key: raising it
makes every earlier file unreachable (version 2: run keys include the split's fingerprint,
the test population and the arithmetic precision)."""


class CacheError(RuntimeError):
    """The cache cannot be used (a folder that is a file, no permission); the message names the
    path and what to do."""


def ensure_folder(path: Path) -> Path:
    """``path`` as an existing folder (created with its parents), or a :class:`CacheError`
    that names the part of the path in the way."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise CacheError(f"cache folder {path}: {blocking} is a file, not a folder; move or delete it "
                         "(or set PPR_CACHE_DIR to another folder)") from None
    except PermissionError:
        raise CacheError(f"cache folder {path}: no permission to create or write it; set PPR_CACHE_DIR "
                         "to a folder you can write") from None


def cache_dir() -> Path:
    """``$PPR_CACHE_DIR``, else ``data/cache`` of this checkout, else ``~/.cache/pprlib``."""
    env = os.environ.get("PPR_CACHE_DIR")
    if env:
        path = Path(env)
    elif (_REPO_ROOT / "pyproject.toml").exists() and (_REPO_ROOT / "data").is_dir():
        path = _REPO_ROOT / "data" / "cache"
    else:
        path = Path.home() / ".cache" / "pprlib"
    return ensure_folder(path)


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"__type__": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.metadata.get("cosmetic"):
                continue
            if f.metadata.get("added") and getattr(value, f.name) == f.default:
                continue  # a field added later, at its default: the results computed before it keep their keys
            out[f.name] = _canonical(getattr(value, f.name))
        return out
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"__ndarray__": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
                "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot derive a cache key from a value of type {type(value).__name__}")


def config_key(*parts: Any, length: int = 16) -> str:
    """A short hex digest of the canonical JSON of ``parts`` (dataclasses, dicts, scalars) and
    of the cache :data:`LAYOUT`."""
    text = json.dumps([LAYOUT, *(_canonical(p) for p in parts)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    Whatever stops it (an exception, a kill), ``path`` is either its old content or the whole new
    one, never a part; the temporary file is removed unless the process was killed (its name
    starts with a dot and ends in ``.tmp``, and nothing reads it). An operating-system error that
    names no file, as a full disk's does, is raised again naming ``path``: the one line the
    command line prints then says where (``OSError: [Errno 28] No space left on device`` alone
    does not)."""
    path = Path(path)
    ensure_folder(path.parent)
    # named before it is made, so that the clean-up below knows it whenever an interrupt comes
    # (with mkstemp, one between the file's making and its name's return left the file behind)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(tmp, 0o644)  # whatever the umask: a cache may be shared
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _try_load(path: Path, load: Callable[[Path], Any]) -> tuple[bool, Any]:
    if not path.exists():
        return False, None
    if path.is_dir():
        raise CacheError(f"{path} is a folder where a cache file belongs; delete it (it is recomputed)")
    try:
        return True, load(path)
    except Exception as exc:  # a truncated or corrupt file is never trusted
        warnings.warn(f"discarding unreadable cache file {path}: {exc}", stacklevel=3)
        path.unlink(missing_ok=True)
        return False, None


def cached(path: Path, compute: Callable[[], Any], save: Callable[[Any, Path], None],
           load: Callable[[Path], Any]) -> Any:
    """Load ``path`` if it loads cleanly; otherwise compute, save atomically and return.

    A lock file beside ``path`` makes concurrent processes that need the same artifact wait
    for the first one instead of computing it twice.
    """
    path = Path(path)
    ok, value = _try_load(path, load)
    if ok:
        return value
    ensure_folder(path.parent)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ok, value = _try_load(path, load)  # another process may have written it meanwhile
            if not ok:
                value = compute()
                atomic_write(path, lambda tmp: save(value, tmp))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return value

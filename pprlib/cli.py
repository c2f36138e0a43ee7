"""Command line: ``python -m pprlib book`` runs the book; ``python -m pprlib stats`` prints data statistics."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path


def _errors():
    """The exceptions that are a user's bad file, setting or damaged cache (their messages
    name the file or setting and say what to do): printed as one line, without a traceback."""
    from pprlib.book import BookError
    from pprlib.cache import CacheError
    from pprlib.data.readers.movielens import DatasetUnavailableError

    return (BookError, CacheError, DatasetUnavailableError, ValueError, OSError)


def _message(exc: BaseException) -> str:
    """The one line printed for ``exc``: an operating-system error (a permission, a full disk)
    names its path and what failed, never a traceback; the others say it in their message."""
    if not isinstance(exc, OSError) or exc.filename is None:
        return str(exc)
    paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    advice = {errno.EACCES: "; check its permissions (the run reads or writes it)",
              errno.EPERM: "; check its permissions (the run reads or writes it)",
              errno.ENOSPC: "; free some space on that disk (or set PPR_CACHE_DIR to another one)"}
    return f"{paths}: {exc.strerror or type(exc).__name__}{advice.get(exc.errno, '')}"


def _book(args) -> int:
    from pprlib import book

    try:
        # every argument is checked before any work: the profile, the build folder, --jobs
        book.load_profile(args.profile, apart=True)
        book.check_build_dir(args.build_dir)
        book.check_only(args.only)
        if args.jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {args.jobs}")
        book.run(args.profile, build_dir=args.build_dir, force=args.force, only=args.only,
                 html=not args.no_html, jobs=args.jobs)
    except _errors() as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the chapters that finished are kept and are not re-executed next time", file=sys.stderr)
        return 130
    return 0


def _stats(args) -> int:
    from pprlib.book import load_profile
    from pprlib.config import BookConfig
    from pprlib.context import book_data

    try:
        config = BookConfig.from_params(load_profile(args.profile))
        _, split = book_data(config)  # the profile's dataset: generator, MovieLens or a folder
    except _errors() as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 1
    print(split.table().to_string())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pprlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("book", help="execute every notebook of the book with papermill, then build it")
    p.add_argument("--profile", default="default",
                   help="run profile: a name under book/profiles (tiny, default, ...) or a YAML file")
    p.add_argument("--force", action="store_true", help="re-execute notebooks even when up to date")
    p.add_argument("--only", nargs="*", metavar="NOTEBOOK", help="execute only these notebooks (by stem)")
    p.add_argument("--no-html", action="store_true", help="execute the notebooks but do not build the book")
    p.add_argument("--build-dir", type=Path, default=None, metavar="DIR",
                   help="where executed notebooks and the HTML go (a folder named _build; default ./_build)")
    p.add_argument("--jobs", type=int, default=1,
                   help="notebooks executed at once, one CPU thread each (make book uses 2)")
    p.set_defaults(func=_book)

    p = sub.add_parser("stats", help="print the statistics table of a profile's dataset")
    p.add_argument("--profile", default="default")
    p.set_defaults(func=_stats)

    args = parser.parse_args(argv)
    return args.func(args)

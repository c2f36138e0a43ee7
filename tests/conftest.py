"""Shared fixtures: the on-disk cache of every test module in a temporary folder of its own,
environment variables restored after each test, and the small pre-trained contexts that several
modules use.

The contexts are session-scoped (one pre-training each for the whole run, in the session's
cache folder) and shared in memory; the runs a module makes with them go to the module's own
cache (:func:`module_cache`), so that no module finds a run another one cached: what a test
catches does not depend on the order or the selection of the modules that ran before it.
"""

from __future__ import annotations

import pytest
import torch

from pprlib import experiments as ex
from pprlib.data.synthetic import SyntheticConfig

# two CPU threads at most: the suite shares its machine with notebook kernels
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """The cache folder the session-scoped contexts are prepared in (never the checkout's
    data/cache); no test module's runs go there."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def module_cache(request, tmp_path_factory):
    """The cache folder of one test module (``PPR_CACHE_DIR`` for its tests): a run one module
    cached is not found by another."""
    return tmp_path_factory.mktemp(f"cache-{request.module.__name__.rpartition('.')[2]}")


ML1M_LENGTHS = (1, 4, 9, 10, 25, 120)
"""Ratings per user in :func:`write_ml1m` (cycled): cold, at the threshold, warm, longer than the window."""


def write_ml1m(folder, n_users: int = 90, n_movies: int = 300, seed: int = 0):
    """A tiny folder in the GroupLens ML-1M format (``ratings.dat``, ``users.dat``, ``::``),
    generated (never a copy of the real data): users of every length class
    (:data:`ML1M_LENGTHS`), ratings that share their timestamp (each user's first three, then
    pairs), written in an order that is neither by time nor by movie id."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    movies = 2 * np.arange(1, n_movies + 1) + 1  # ids 3, 5, 7, ...: not contiguous
    ratings, users = [], []
    for u in range(1, n_users + 1):
        n = ML1M_LENGTHS[(u - 1) % len(ML1M_LENGTHS)]
        seen = rng.choice(movies, size=n, replace=False)
        slot = np.maximum(np.arange(n) - 2, 0) // 2  # first three tie, then pairs
        times = 978_300_000 + 1000 * u + 60 * slot
        for k in rng.permutation(n):
            ratings.append(f"{u}::{seen[k]}::{rng.integers(1, 6)}::{times[k]}")
        users.append(f"{u}::{'FM'[u % 2]}::{('1', '18', '25', '35', '45', '50', '56')[u % 7]}::{u % 21}::{10000 + u}")
    order = rng.permutation(len(ratings))  # the real file is sorted by user; ours need not be
    (folder / "ratings.dat").write_text("\n".join(ratings[i] for i in order) + "\n")
    (folder / "users.dat").write_text("\n".join(users) + "\n")
    return folder


@pytest.fixture(scope="session")
def ml1m_folder(tmp_path_factory):
    """A tiny generated ML-1M folder (:func:`write_ml1m`), shared by the whole run."""
    return write_ml1m(tmp_path_factory.mktemp("data") / "ml-1m")


@pytest.fixture(autouse=True)
def _isolated_environment(module_cache, ml1m_folder, monkeypatch):
    """Every test sees PPR_CACHE_DIR = its module's cache, PPR_MOVIELENS_1M = a tiny generated
    ML-1M folder (so that the movielens-1m profile loads), and no RANK (a torchrun variable
    that makes pprlib.distributed behave differently); whatever a test sets is undone."""
    monkeypatch.setenv("PPR_CACHE_DIR", str(module_cache))
    monkeypatch.setenv("PPR_MOVIELENS_1M", str(ml1m_folder))
    monkeypatch.delenv("RANK", raising=False)


def _prepare(session_cache, config: ex.BookConfig, synthetic: SyntheticConfig | None = None) -> ex.Context:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(session_cache))
        return ex.prepare(config, synthetic=synthetic)


@pytest.fixture(scope="session")
def small_ctx(session_cache) -> ex.Context:
    """500 users, 200 items, two seeds, two pre-training and two tuning epochs."""
    config = ex.BookConfig(n_users=500, n_items=200, heldout_users=0, pretrain_epochs=2, tune_epochs=2, seeds=(0, 1),
                           lr_grid=(1e-4, 1e-2), progress=False)
    return _prepare(session_cache, config, SyntheticConfig(n_users=500, n_items=200, max_length=60))


@pytest.fixture(scope="session")
def medium_ctx(session_cache) -> ex.Context:
    """800 users, 400 items, one seed: the explorer's and the further tasks' context."""
    config = ex.BookConfig(n_users=800, n_items=400, heldout_users=0, pretrain_epochs=2, tune_epochs=2, seeds=(0,), progress=False)
    return _prepare(session_cache, config)


@pytest.fixture
def write_notebook():
    """Writes a small notebook: a ``parameters`` cell, then one code cell per source."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    def write(path, parameters: str, *sources):
        cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
        cells += [new_code_cell(src) for src in sources]
        nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                "language": "python"}})
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"c{i}"
        nbformat.write(nb, str(path))
        return path

    return write


def pytest_collection_modifyitems(config, items):
    """The modules that execute notebooks first, then the slow ones (by their markers), each
    module's tests together in their order: with ``make test``'s processes (pytest-xdist, one
    module per process at a time) the longest modules start first instead of last."""
    def rank(item):
        return 0 if item.get_closest_marker("notebooks") else 1 if item.get_closest_marker("slow") else 2

    first = {}
    for item in items:
        first[item.module.__name__] = min(first.get(item.module.__name__, 2), rank(item))
    items.sort(key=lambda item: first[item.module.__name__])  # stable: the order within a module is kept

"""Shared fixtures: the on-disk cache of every test in a temporary folder, environment
variables restored after each test, and the small pre-trained contexts that several modules use.

The contexts are session-scoped (one pre-training each for the whole run); the cache folder
they were built with stays the cache of every test that does not ask for its own, so a
run cached by one test module is found by the next one instead of being recomputed.
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
    """The cache folder of the whole run (never the checkout's data/cache)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_environment(session_cache, monkeypatch):
    """Every test sees PPR_CACHE_DIR = the session's cache and no RANK (a torchrun variable
    that makes pprlib.distributed behave differently); whatever a test sets is undone."""
    monkeypatch.setenv("PPR_CACHE_DIR", str(session_cache))
    monkeypatch.delenv("RANK", raising=False)


def _prepare(session_cache, config: ex.BookConfig, synthetic: SyntheticConfig | None = None) -> ex.Context:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PPR_CACHE_DIR", str(session_cache))
        return ex.prepare(config, synthetic=synthetic)


@pytest.fixture(scope="session")
def small_ctx(session_cache) -> ex.Context:
    """500 users, 200 items, two seeds, two pre-training and two tuning epochs."""
    config = ex.BookConfig(n_users=500, n_items=200, pretrain_epochs=2, tune_epochs=2, seeds=(0, 1),
                           lr_grid=(1e-4, 1e-2), progress=False)
    return _prepare(session_cache, config, SyntheticConfig(n_users=500, n_items=200, max_length=60))


@pytest.fixture(scope="session")
def medium_ctx(session_cache) -> ex.Context:
    """800 users, 400 items, one seed: the explorer's and the further tasks' context."""
    config = ex.BookConfig(n_users=800, n_items=400, pretrain_epochs=2, tune_epochs=2, seeds=(0,), progress=False)
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

"""Each test module has a run cache of its own (``tests/conftest.py``): a run one module cached
is not found by the next, so what a test catches does not depend on which modules ran before it.
Checked on a session of two small modules that use this suite's own conftest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

MODULE = """
    import json, os
    from pathlib import Path

    import numpy as np

    from pprlib.cache import cache_dir, cached

    def _record(request, session_cache, module_cache, **more):
        with open(os.environ["ISOLATION_LOG"], "a") as fh:
            fh.write(json.dumps({{"module": "{name}", "test": request.node.name,
                                 "env": os.environ["PPR_CACHE_DIR"], "cache_dir": str(cache_dir()),
                                 "module_cache": str(module_cache), "session_cache": str(session_cache),
                                 **more}}) + "\\n")

    def test_first(request, session_cache, module_cache):
        computed = []
        value = cached(cache_dir() / "runs" / "shared-key.npy", lambda: computed.append(1) or np.arange(3),
                       lambda v, p: np.save(open(p, "wb"), v), np.load)
        _record(request, session_cache, module_cache, computed=len(computed), value=value.tolist())

    def test_second(request, session_cache, module_cache):
        _record(request, session_cache, module_cache)
"""


def test_two_modules_see_different_caches_and_compute_the_same_key_each(tmp_path):
    folder = tmp_path / "suite"
    folder.mkdir()
    shutil.copy(Path(__file__).with_name("conftest.py"), folder / "conftest.py")
    for name in ("test_one", "test_two"):
        (folder / f"{name}.py").write_text(textwrap.dedent(MODULE.format(name=name)))
    log = tmp_path / "log.jsonl"
    env = {**os.environ, "ISOLATION_LOG": str(log)}
    env.pop("PPR_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "--rootdir", str(folder), "--basetemp", str(tmp_path / "tmp"), str(folder)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["module"], r["test"]) for r in rows] == [("test_one", "test_first"), ("test_one", "test_second"),
                                                         ("test_two", "test_first"), ("test_two", "test_second")]
    caches = {r["module"]: r["env"] for r in rows}
    for r in rows:
        assert r["env"] == r["cache_dir"] == r["module_cache"] == caches[r["module"]]  # the same within a module
        assert r["session_cache"] == rows[0]["session_cache"] != r["env"]  # the contexts' cache is shared
    assert caches["test_one"] != caches["test_two"]
    assert not Path(caches["test_two"]).is_relative_to(caches["test_one"])
    firsts = [r for r in rows if r["test"] == "test_first"]
    assert [(r["computed"], r["value"]) for r in firsts] == [(1, [0, 1, 2]), (1, [0, 1, 2])]  # none found the other's

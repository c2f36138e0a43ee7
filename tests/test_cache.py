"""The on-disk cache: configuration keys, atomic writes, recovery from corrupt files."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from pprlib.cache import atomic_write, cached, config_key
from pprlib.data.protocol import ProtocolConfig
from pprlib.data.synthetic import SyntheticConfig

# ------------------------------------------------------------------------------------------
# config_key
# ------------------------------------------------------------------------------------------
OTHER_STRINGS = {"profile": "aliec", "loss": "ce", "targets": "zero", "monitor": "HIT@10", "name": "gru4rec",
                 "prompt": "shared", "dataset": "movielens-100k", "optimizer": "adam", "pretrain_loss": "bpr",
                 "test": "test+heldout"}


def other_value(cfg, f: dataclasses.Field):
    """Another valid value of field ``f`` of ``cfg``."""
    value = getattr(cfg, f.name)
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return OTHER_STRINGS.get(f.name, value + "-other")
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if value > 0 else 0.5
    if isinstance(value, tuple):
        return value[:-1] if len(value) > 1 else value + value
    if isinstance(value, dict):
        return {**value, "ft": 1e-3}
    if value is None:
        return 3
    if dataclasses.is_dataclass(value):  # a nested configuration: change its first result-relevant field
        inner = next(g for g in dataclasses.fields(value) if not g.metadata.get("cosmetic"))
        return dataclasses.replace(value, **{inner.name: other_value(value, inner)})
    raise AssertionError(f"no alternative value for {f.name}={value!r}")


def _configs():
    from pprlib.experiments import BookConfig, TuneSettings
    from pprlib.models.backbones import BackboneConfig
    from pprlib.models.ppr import ContrastiveConfig, PPRConfig, SequenceCLConfig
    from pprlib.train import TrainConfig

    return [SyntheticConfig(), ProtocolConfig(), TrainConfig(), BackboneConfig(), PPRConfig(), ContrastiveConfig(),
            SequenceCLConfig(), TuneSettings(), BookConfig()]


CONFIGS = _configs()


def test_key_stable_across_calls():
    for cfg in CONFIGS:
        assert config_key(cfg) == config_key(cfg)
        assert config_key(cfg) == config_key(dataclasses.replace(cfg))
    assert config_key(SyntheticConfig(), ProtocolConfig(), "v1") == config_key(
        SyntheticConfig(), ProtocolConfig(), "v1")
    assert len(config_key(SyntheticConfig())) == 16
    assert len(config_key(SyntheticConfig(), length=8)) == 8


def test_key_stable_across_processes():
    """No dependence on hash randomization or object identity."""
    code = ("from pprlib.cache import config_key; from pprlib.data.synthetic import SyntheticConfig; "
            "from pprlib.data.protocol import ProtocolConfig; "
            "print(config_key(SyntheticConfig(n_users=77), ProtocolConfig(seed=3), {'b': 1, 'a': [1, 2]}))")
    keys = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        keys.add(out.stdout.strip())
    assert keys == {config_key(SyntheticConfig(n_users=77), ProtocolConfig(seed=3), {"a": [1, 2], "b": 1})}


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: type(c).__name__)
def test_key_changes_with_every_field(cfg):
    base = config_key(cfg)
    changed = 0
    for f in dataclasses.fields(cfg):
        if f.metadata.get("cosmetic"):
            continue
        new = dataclasses.replace(cfg, **{f.name: other_value(cfg, f)})  # validates the value
        assert config_key(new) != base, f.name
        changed += 1
    assert changed == len(dataclasses.fields(cfg)) - sum(bool(f.metadata.get("cosmetic"))
                                                          for f in dataclasses.fields(cfg))
    assert changed >= 4


def test_each_field_change_gives_a_different_key():
    """Changing two different fields never collides (the key covers names, not just values)."""
    cfg = SyntheticConfig()
    keys = {config_key(dataclasses.replace(cfg, **{f.name: other_value(cfg, f)}))
            for f in dataclasses.fields(cfg) if not f.metadata.get("cosmetic")}
    assert len(keys) == len(dataclasses.fields(cfg)) - 1


def test_cosmetic_field_does_not_change_key():
    assert [f.name for f in dataclasses.fields(SyntheticConfig) if f.metadata.get("cosmetic")] == ["name"]
    assert config_key(SyntheticConfig(name="a")) == config_key(SyntheticConfig(name="b"))
    assert config_key(SyntheticConfig(name="a", seed=1)) != config_key(SyntheticConfig(name="a"))


def test_cosmetic_training_settings_do_not_change_the_key():
    from pprlib.experiments import BookConfig
    from pprlib.train import TrainConfig

    assert config_key(TrainConfig(progress=True, device="cpu")) == config_key(TrainConfig(progress=False, device="auto"))
    # mixed precision changes the numbers: not cosmetic
    assert config_key(TrainConfig(amp=True)) != config_key(TrainConfig(amp=False))
    assert config_key(BookConfig(progress=False, device="cpu")) == config_key(BookConfig())


def test_key_depends_on_type_and_parts():
    @dataclasses.dataclass(frozen=True)
    class Twin:
        cold_threshold: int = 10

    @dataclasses.dataclass(frozen=True)
    class Other:
        cold_threshold: int = 10

    assert config_key(Twin()) != config_key(Other())
    assert config_key(SyntheticConfig(), ProtocolConfig()) != config_key(ProtocolConfig(), SyntheticConfig())
    assert config_key(SyntheticConfig()) != config_key(SyntheticConfig(), "x")


def test_key_of_arrays_and_scalars():
    a = np.arange(6)
    assert config_key(a) == config_key(np.arange(6))
    assert config_key(a) != config_key(a.reshape(2, 3))
    assert config_key(a) != config_key(a.astype(np.int32))
    assert config_key(a) != config_key(np.arange(1, 7))
    assert config_key(np.int64(3)) == config_key(3)
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    with pytest.raises(TypeError, match="set"):
        config_key({1, 2})


# ------------------------------------------------------------------------------------------
# atomic_write
# ------------------------------------------------------------------------------------------
def test_atomic_write_success(tmp_path):
    path = tmp_path / "sub" / "out.bin"
    got = atomic_write(path, lambda tmp: tmp.write_bytes(b"hello"))
    assert got == path and path.read_bytes() == b"hello"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.bin"]


def test_atomic_write_failure_leaves_no_temp_and_no_target(tmp_path):
    path = tmp_path / "out.bin"

    def fail(tmp):
        tmp.write_bytes(b"half a fi")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, fail)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_failure_keeps_old_target(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old complete content")

    def fail(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"new partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old complete content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_replaces_target(tmp_path):
    path = tmp_path / "out.npy"
    path.write_bytes(b"old")
    atomic_write(path, lambda tmp: save_npy(np.arange(3), tmp))
    assert np.load(path).tolist() == [0, 1, 2]


# ------------------------------------------------------------------------------------------
# cached
# ------------------------------------------------------------------------------------------
def save_npy(value, tmp):
    with open(tmp, "wb") as fh:
        np.save(fh, value)


def load_npy(path):
    return np.load(path)


class Counter:
    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def test_cached_computes_then_loads(tmp_path):
    path = tmp_path / "a.npy"
    compute = Counter(np.arange(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = cached(path, compute, save_npy, load_npy)
        second = cached(path, compute, save_npy, load_npy)
    assert compute.calls == 1
    assert first.tolist() == second.tolist() == [0, 1, 2, 3, 4]
    assert path.exists()


def test_cached_loads_valid_file_without_computing(tmp_path):
    path = tmp_path / "a.npy"
    save_npy(np.array([7, 8]), path)

    def never():
        raise AssertionError("recomputed although the file is valid")

    assert cached(path, never, save_npy, load_npy).tolist() == [7, 8]


@pytest.mark.parametrize("garbage", [b"\x00\xffgarbage\x13" * 10, b""])
def test_cached_recomputes_corrupt_file_with_warning(tmp_path, garbage):
    path = tmp_path / "a.npy"
    path.write_bytes(garbage)
    compute = Counter(np.arange(4))
    with pytest.warns(UserWarning, match="unreadable cache file"):
        value = cached(path, compute, save_npy, load_npy)
    assert compute.calls == 1 and value.tolist() == [0, 1, 2, 3]
    assert load_npy(path).tolist() == [0, 1, 2, 3]  # rewritten, valid
    # only the artifact (and the empty lock file that serialises writers) remains
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "a.npy.lock"]


def test_cached_truncated_file(tmp_path):
    path = tmp_path / "a.npy"
    save_npy(np.arange(1000), path)
    path.write_bytes(path.read_bytes()[:200])  # an interrupted write of an old version
    compute = Counter(np.arange(3))
    with pytest.warns(UserWarning):
        assert cached(path, compute, save_npy, load_npy).tolist() == [0, 1, 2]
    assert compute.calls == 1


def test_cached_failed_save_leaves_no_file(tmp_path):
    path = tmp_path / "a.npy"

    def bad_save(value, tmp):
        tmp.write_bytes(b"partial")
        raise OSError("no space left")

    with pytest.raises(OSError):
        cached(path, Counter(np.arange(3)), bad_save, load_npy)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy.lock"]  # no artifact, no partial file


def test_cached_computes_once_when_processes_race(tmp_path):
    """Two processes asking for the same artifact: one computes, the other waits and loads."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import time, numpy as np, pathlib
        from pprlib.cache import cached
        log = pathlib.Path({str(tmp_path / 'log')!r})
        def compute():
            with open(log, 'a') as fh:
                fh.write('computed\\n')
            time.sleep(1.0)
            return np.arange(5)
        save = lambda v, p: np.save(open(p, 'wb'), v)
        load = lambda p: np.load(p)
        print(cached(pathlib.Path({str(tmp_path / 'a.npy')!r}), compute, save, load).sum())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs == ["10", "10"]
    assert (tmp_path / "log").read_text().count("computed") == 1


def test_a_field_added_later_keeps_the_keys_of_earlier_results_at_its_default():
    """A setting added to a config later (``metadata={"added": True}``) is left out of the key
    while at its default, so every result computed before it keeps its key; set, it counts."""
    import dataclasses

    from pprlib.cache import config_key

    old = dataclasses.make_dataclass("C", [("a", int, 1)], frozen=True)
    new = dataclasses.make_dataclass("C", [("a", int, 1), ("b", int, dataclasses.field(default=1, metadata={"added": True}))],
                                     frozen=True)
    assert config_key(old()) == config_key(new())
    assert config_key(new(b=4)) != config_key(new())
    from pprlib.models.ppr import PPRConfig

    assert config_key(PPRConfig(width=4)) != config_key(PPRConfig())

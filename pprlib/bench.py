"""Measurements of pprlib's speed and memory: the cases of ``benchmarks/run.py`` and of the
book's performance page. Each returns a dict of numbers; none asserts anything.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from pathlib import Path


def peak_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _data(n_users=6000, n_items=1000, **knobs):
    from pprlib.data.protocol import ProtocolConfig, split
    from pprlib.data.synthetic import SyntheticConfig, generate

    cfg = SyntheticConfig(n_users=n_users, n_items=n_items, seed=0, **knobs)
    return split(generate(cfg), ProtocolConfig(seed=0, cold_threshold=cfg.cold_threshold))


def _epochs(model, params, train, cfg, epochs, cl=None):
    """Seconds of each of ``epochs`` training epochs (no validation)."""
    import torch

    from pprlib.data.batching import loader
    from pprlib.train import make_optimizer

    optimizer = make_optimizer(params, cfg)
    generator = torch.Generator().manual_seed(0)
    batches = loader(train, cfg.batch_size, shuffle=True, seed=0)
    times, targets = [], 0
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for batch in batches:
            loss, _ = model.calculate_loss(batch, cfg.targets, cl, generator, cfg.loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if len(times) == 0:
                targets += int(model.target_mask(batch, cfg.targets).sum())
        times.append(time.perf_counter() - start)
    return times, targets


class threads:
    """Run a block with ``n`` torch CPU threads (restored afterwards). The cases use one thread
    unless told otherwise: the book runs one chapter per core, and several OpenMP threads on a
    busy machine can be many times slower than one (they wait for each other)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        import torch

        self.before = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.before)


def case_pretrain(epochs: int = 3, n_threads: int = 1, **data_args) -> dict:
    """Pre-training epochs of SASRec with the full-softmax loss (the book's setting)."""
    with threads(n_threads):
        return _pretrain(epochs, **data_args)


def _pretrain(epochs: int, **data_args) -> dict:
    from pprlib.data.batching import SequenceDataset
    from pprlib.models import PPRConfig, PPRModel
    from pprlib.models.backbones import BackboneConfig
    from pprlib.train import TrainConfig

    max_len = data_args.pop("max_len", 100)
    sp = _data(**data_args)
    backbone = BackboneConfig(max_len=max_len)
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
    users, lengths = sp.pretrain_sequences()
    cfg = TrainConfig(lr=5e-3, loss="ce", batch_size=256)
    train = SequenceDataset(sp.data, users, lengths, backbone.max_len + 1, seed=0, negatives=False)
    times, targets = _epochs(model, model.configure("pretrain"), train, cfg, epochs)
    epoch = statistics.median(times)
    return {"epoch_s": epoch, "targets_per_s": targets / epoch, "targets": targets,
            "users": sp.data.n_users, "items": sp.data.n_items, "clicks": sp.data.n_interactions}


def case_tune(method: str, epochs: int = 3, n_threads: int = 1) -> dict:
    """Tuning epochs of one method on the cold tuning users (contrastive loss where it has one)."""
    with threads(n_threads):
        return _tune(method, epochs)


def _tune(method: str, epochs: int) -> dict:
    from pprlib.context import Context
    from pprlib.data.batching import SequenceDataset
    from pprlib.methods import method as find_method
    from pprlib.models.backbones import BackboneConfig
    from pprlib.models.ppr import ContrastiveConfig
    from pprlib.runs import TuneSettings, build_model, pretrain
    from pprlib.train import TrainConfig

    sp = _data()
    backbone = BackboneConfig()
    pre = pretrain(sp, backbone, TrainConfig(lr=5e-3, loss="ce", max_epochs=1, progress=False), use_cache=False)
    model = build_model(Context(sp, pre, backbone), method, TuneSettings())
    m = find_method(method)
    train = SequenceDataset(sp.data, sp.tune_users, sp.data.lengths[sp.tune_users], backbone.max_len + 1, seed=0)
    cfg = TrainConfig(lr=1e-3, batch_size=64)
    cl = ContrastiveConfig() if m.contrastive else None
    times, targets = _epochs(model, model.configure(m.mode), train, cfg, epochs, cl)
    epoch = statistics.median(times)
    return {"epoch_s": epoch, "targets_per_s": targets / epoch, "targets": targets}


def case_eval(full: bool, n_threads: int = 1) -> dict:
    """Evaluation of every warm user's test instance: 100 candidates, or full ranking."""
    with threads(n_threads):
        return _eval(full)


def _eval(full: bool) -> dict:
    import torch

    from pprlib.evaluation import evaluate
    from pprlib.models import PPRConfig, PPRModel

    sp = _data()
    model = PPRModel(sp.data.n_items, sp.data.field_sizes, ppr=PPRConfig(prompt="none", profile_model=False)).eval()
    inst = sp.instances("warm_test")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        evaluate(model.full_sort_predict, sp, inst, full_ranking=full, device=torch.device("cpu"))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"seconds": seconds, "users_per_s": len(inst) / seconds, "users": len(inst)}


SCALES = {"users": [1, 4, 16], "items": [1, 4, 16], "history length": [1, 4, 16]}
QUICK_SCALES = {"users": [1, 4], "items": [1, 4], "history length": [1, 4]}


def scaling_args(axis: str, factor: int) -> dict:
    """Data (and model window) of the scaling study: base 1500 users, 250 items, the default
    length distribution; one axis multiplied by ``factor``."""
    if axis == "users":
        return {"n_users": 1500 * factor, "n_items": 1000}
    if axis == "items":
        return {"n_users": 1500, "n_items": 250 * factor}
    # longer histories: the cold threshold (which sets the length distribution) and the model's
    # window grow together, so attention sees longer sequences too
    return {"n_users": 1500, "n_items": 4000, "cold_threshold": 10 * factor, "max_length": 200 * factor,
            "max_len": 50 * factor}


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1), "gpu": gpu,
            "python": platform.python_version(), "torch": torch.__version__,
            "threads": "1 per case (peer: torch default)",
            "date": time.strftime("%Y-%m-%d")}




def scaling_frame(table):
    """The scaling rows of a results table with their axis, factor and time relative to x1."""
    scaling = table[table.group == "scaling"].copy()
    scaling[["axis", "factor"]] = scaling.case.str.extract(r"^(.*) x(\d+)$")
    scaling["factor"] = scaling.factor.astype(int)
    scaling = scaling.sort_values(["axis", "factor"], kind="stable")
    scaling["relative time"] = scaling.value / scaling.groupby("axis").value.transform("first")
    return scaling


def growth(scaling) -> dict:
    """Per axis: relative time at the largest factor divided by that factor (1 = linear)."""
    last = scaling.sort_values("factor").groupby("axis").last()
    return {axis: float(row["relative time"] / row.factor) for axis, row in last.iterrows()}


def paper_scale_table(path):
    """The rows of a ``benchmarks/paper_scale.py`` CSV as a display table (one row per case)."""
    import pandas as pd

    raw = pd.read_csv(path)
    rows = []
    for r in raw.itertuples():
        if r.case == "data":
            what = (f"{int(r.users):,} users, {int(r.items):,} items, {int(r.pretrain_instances):,} pre-training "
                    f"instances, {int(r.cold_test_instances):,} cold test instances (generated)")
        elif r.case == "pre-training":
            what = f"{int(r.epochs)} epochs to early stopping (best validation NDCG@10 {r.best_val_ndcg10:.3f})"
        elif r.case.startswith("tuning"):
            what = f"{int(r.epochs)} epochs timed"
        elif r.case.startswith("evaluation"):
            what = f"{int(r.instances):,} instances, {r.instances_per_second:,.0f} per second"
        else:
            what = "everything above"
        rows.append({"case": r.case, "seconds": r.seconds, "seconds per epoch": r.seconds_per_epoch,
                     "peak GPU memory (MiB)": r.peak_mib, "notes": what})
    return pd.DataFrame(rows).set_index("case")


def stored_measurement(path: Path, how: str):
    """The committed measurement at ``path`` as a table, or None where this checkout has none
    (a fork without ``benchmarks/results``): a line then says how to make it (``how``)."""
    import pandas as pd

    if not Path(path).exists():
        print(f"no measurement yet: run {how}")
        return None
    return pd.read_csv(path)


def measurement(table, label: str | None = None):
    """``(label, its rows)`` of a results table with one row set per measurement (``label``,
    default the latest written); an unknown label is an error naming the measured ones."""
    label = label if label is not None else table.label.iloc[-1]
    rows = table[table.label == label]
    if not len(rows):
        raise ValueError(f"no measurement labelled {label!r}; measured: {sorted(set(table.label))}")
    return label, rows


def book_time(table, label: str | None = None):
    """One measurement of ``benchmarks/results/book_time.csv`` (``label``, default the latest):
    ``(per chapter: the seconds of each part of pprlib.timing and everything else, the label with
    its machine, each part's share of all chapter time)``."""
    from pprlib.timing import PARTS

    label, rows = measurement(table, label)
    parts = [*PARTS, "everything else"]
    frame = rows.set_index("chapter")[["seconds", *parts]]
    share = frame[parts].sum() / frame.seconds.sum()
    return frame, f"{label} ({rows.machine.iloc[0]})", share.sort_values(ascending=False)


def largest_parts(share, n: int = 3) -> str:
    """The ``n`` largest parts of :func:`book_time`'s shares in words: "tuning steps 31 %, ..."."""
    return ", ".join(f"{part} {100 * s:.0f} %" for part, s in share.sort_values(ascending=False).iloc[:n].items())


def suite_time(table, label: str | None = None, top: int = 12):
    """One measurement of ``benchmarks/results/test_modules.csv`` (``label``, default the latest):
    ``(the seconds of the ``top`` slowest test modules, the label with its machine and processes,
    the suite's wall seconds, its seconds in tests)``."""
    label, rows = measurement(table, label)
    seconds = rows.set_index("module").seconds.sort_values(ascending=False)
    first = rows.iloc[0]
    return (seconds.iloc[:top], f"{label} ({first.machine}, {int(first.jobs)} processes)", float(first.wall_s),
            float(seconds.sum()))


def step_paths(table, label: str | None = None):
    """One measurement of ``benchmarks/results/step_paths.csv`` (``label``, default the latest):
    ``(milliseconds per tuning step before and after the exact fast paths and their ratio, one
    row per method and targets; the label with its machine; the largest ratio of each targets,
    the least gain)``."""
    label, rows = measurement(table, label)
    frame = rows.set_index(["method", "targets"])[["before_ms", "after_ms", "ratio"]]
    return frame, f"{label} ({rows.machine.iloc[0]})", frame.ratio.groupby(level="targets").max()


def cl_cost(table, label: str | None = None):
    """One measurement of ``benchmarks/results/cl_cost.csv`` (``label``, default the latest):
    ``(milliseconds per tuning step of each method and targets (rows) with each contrastive loss
    (columns, named by ``loss``, in the order measured; empty where a targets did not time it),
    the label with its machine, and per few-shot method: ``contrastive``, the book's step over
    one without the contrastive loss; ``behaviour share``, the share of the contrastive loss's
    added time that its behaviour-based views take (the book's step less the one with the
    prompt-based view only, over the book's step less the one without); ``fewer anchors``, the
    step on a limited number of anchors a batch over the book's, and ``anchors``, that number;
    ``behaviour views``, the mean number of behaviour-based views a batch in the book's step)``.
    The rows say which loss is which by their ``prompt_view``, ``behaviour_view`` and
    ``max_anchors`` (empty: every anchor), not by their names."""
    import pandas as pd

    label, rows = measurement(table, label)
    frame = rows.pivot(index=["method", "targets"], columns="loss", values="ms")
    frame = frame.reindex(index=rows.set_index(["method", "targets"]).index.unique(), columns=rows.loss.unique())
    few = rows[rows.targets == "few"]
    every = few.max_anchors.isna()

    def loss(prompt: bool, behaviour: bool, limited: bool = False):
        """The few-shot rows of one loss, by method."""
        chosen = (few.prompt_view == prompt) & (few.behaviour_view == behaviour) & (every != limited)
        return few[chosen].set_index("method")

    none, prompt, both, fewer = loss(False, False), loss(True, False), loss(True, True), loss(True, True, limited=True)
    summary = pd.DataFrame({"contrastive": both.ms / none.ms,
                            "behaviour share": (both.ms - prompt.ms) / (both.ms - none.ms),
                            "fewer anchors": fewer.ms / both.ms, "anchors": fewer.max_anchors,
                            "behaviour views": both.behaviour_views})
    return frame, f"{label} ({rows.machine.iloc[0]})", summary.loc[few.method.unique()]

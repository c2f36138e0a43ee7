"""Experiments: pre-train once, tune every method over seeds, evaluate, return tidy results.

Each step is cached on disk under a key derived from everything that affects it (data,
protocol, model, training settings, method, seed), so re-running a chapter after a prose edit
costs nothing, and changing one setting recomputes exactly the runs it touches.
"""

from __future__ import annotations

import dataclasses
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import torch
from scipy import stats

from pprlib import evidence, grid
from pprlib.cache import cache_dir, cached, config_key
from pprlib.data import readers
from pprlib.data.batching import SequenceDataset
from pprlib.data.protocol import MIN_COLD_USERS, ColdStartSplit, Instances, ProtocolConfig, split as make_split
from pprlib.data.schema import DataWarning, InteractionData
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.evaluation import evaluate, most_popular
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel, SequenceCLConfig
from pprlib.params import SettingError, check_fields, from_mapping
from pprlib.train import TrainConfig, fit, resolve_device, seed_everything

# --------------------------------------------------------------------------------------------
# data


PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""Where a relative data folder is read from: the project root (the folder holding
``pyproject.toml``), since notebooks run with their own folder as the working directory."""


def _read_csv_folder(folder: Path) -> InteractionData:
    return readers.read_csv_pair(folder / "interactions.csv", folder / "users.csv", name=folder.name)


FOLDER_READERS = {"csv": _read_csv_folder, "cikm2019": readers.read_cikm2019,
                  "ali-display-ad": readers.read_ali_display_ad}
"""Sources read from a folder, written ``"<kind>:<folder>"``: ``csv`` reads ``interactions.csv``
and ``users.csv`` (:func:`~pprlib.data.readers.read_csv_pair` with its default columns), the
others the raw files of CIKM Cup 2019 and Ali_Display_Ad_Click."""

SOURCES = ("synthetic", "movielens-100k", *(f"{kind}:<folder>" for kind in FOLDER_READERS))

def data_folder(folder: str | Path) -> Path:
    """``folder`` as an absolute path; a relative one is taken from the project root (the
    folder holding ``pyproject.toml``; the working directory when pprlib is installed elsewhere)."""
    path = Path(folder).expanduser()
    if path.is_absolute():
        return path
    root = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd()
    return root / path


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from: the generator (``synthetic``), ``movielens-100k``, or the
    files in a folder: ``csv:<folder>``, ``cikm2019:<folder>`` or ``ali-display-ad:<folder>``
    (a relative folder is taken from the project root, see :func:`data_folder`)."""

    source: str = "synthetic"
    synthetic: SyntheticConfig = SyntheticConfig()

    def __post_init__(self) -> None:
        kind, sep, folder = str(self.source).partition(":")
        accepted = ", ".join(repr(s) for s in SOURCES[:-1]) + f" or {SOURCES[-1]!r}"
        if not (self.source in ("synthetic", "movielens-100k") or (sep and kind in FOLDER_READERS)):
            raise ValueError(f"DataSpec.source (the dataset) must be {accepted}, got {self.source!r}")
        if sep and not folder.strip():
            raise ValueError(f"DataSpec.source {self.source!r} names no folder; write {kind}:<folder>")
        if sep and not self.folder.is_dir():
            relative = "" if Path(folder.strip()).expanduser().is_absolute() else " (read from the project root)"
            raise ValueError(f"DataSpec.source {self.source!r}: folder {self.folder} not found{relative}; "
                             f"the dataset must be {accepted}")

    @property
    def kind(self) -> str:
        """``synthetic``, ``movielens-100k`` or one of :data:`FOLDER_READERS`."""
        return self.source.partition(":")[0]

    @property
    def folder(self) -> Path | None:
        """The absolute data folder of a folder source, else ``None``."""
        return data_folder(self.source.partition(":")[2].strip()) if ":" in self.source else None


def load_data(spec: DataSpec) -> InteractionData:
    """The validated dataset that ``spec`` names (files are read on every call)."""
    if spec.kind == "synthetic":
        return generate(spec.synthetic)
    if spec.kind == "movielens-100k":
        return readers.read_movielens_100k()
    return FOLDER_READERS[spec.kind](spec.folder)


def own_data_protocol(data: InteractionData, seed: int = 0) -> ProtocolConfig:
    """The protocol for real data: its natural cold users (fewer than 10 clicks) when it has
    enough of them, otherwise 30 % of the users simulated as cold, as for MovieLens (with a
    :class:`DataWarning` that says so)."""
    protocol = ProtocolConfig(seed=seed)
    n_cold = int(((data.lengths > 0) & (data.lengths < protocol.cold_threshold)).sum())
    if n_cold >= MIN_COLD_USERS:
        return protocol
    simulated = dataclasses.replace(protocol, simulate_cold_share=0.3)
    limit = protocol.cold_threshold
    warnings.warn(
        f"{data.name}: only {n_cold} natural cold user(s) (fewer than {limit} clicks), the protocol needs "
        f"at least {MIN_COLD_USERS}; cold users are simulated instead, as for MovieLens: "
        f"{simulated.simulate_cold_share:.0%} of the users are cut to their first 1-{limit - 1} clicks",
        DataWarning, stacklevel=2)
    return simulated


def load_split(spec: DataSpec, protocol: ProtocolConfig) -> ColdStartSplit:
    """The protocol split of the data, saved on disk with its fixed candidate lists and
    loaded from there on later calls (the load checks the data's fingerprint)."""
    return _split(load_data(spec), protocol)


def _split(data: InteractionData, protocol: ProtocolConfig) -> ColdStartSplit:
    path = cache_dir() / "splits" / f"split-{config_key(data.fingerprint(), protocol)}.npz"
    if protocol.simulate_cold_share > 0:  # the split holds truncated data: recompute (it is fast)
        return make_split(data, protocol)
    return cached(path, lambda: make_split(data, protocol), lambda sp, tmp: sp.save(tmp),
                  lambda p: ColdStartSplit.load(p, data, protocol))


# --------------------------------------------------------------------------------------------
# methods


@dataclass(frozen=True)
class Method:
    """A way to produce a model for the cold users: which model, which mode, which loss."""

    ppr: PPRConfig | None  # None: not a PPRModel (popularity) or used as pre-trained
    mode: str | None  # tuning mode; None = no tuning
    contrastive: bool = False
    label: str = ""
    views: tuple = ("prompt", "behaviour")  # contrastive views used (the ablation drops one)


METHODS: dict[str, Method] = {
    "most popular": Method(None, None, label="most popular items among warm users"),
    "most popular (cold)": Method(None, None, label="most popular first clicks of the cold tuning users"),
    "pre-train": Method(PPRConfig(prompt="none", profile_model=False), None, label="pre-trained SASRec, no tuning"),
    "profile model": Method(PPRConfig(prompt="none", use_sequence=False), "profile", label="u_a alone"),
    "ft": Method(PPRConfig(prompt="none"), "ft", label="fine-tuning: backbone + items + profile model"),
    "PPR(light)": Method(PPRConfig(), "light", contrastive=True, label="prompt + profile model tuned"),
    "PPR(full)": Method(PPRConfig(), "full", contrastive=True, label="everything tuned"),
    "PPR(light) w/o CL": Method(PPRConfig(), "light", label="PPR(light) without contrastive learning"),
    "PPR(full) w/o CL": Method(PPRConfig(), "full", label="PPR(full) without contrastive learning"),
    "PPR(light) w/o prompt aug": Method(PPRConfig(), "light", contrastive=True, views=("behaviour",),
                                        label="PPR(light), behaviour-based view only"),
    "PPR(light) w/o behaviour aug": Method(PPRConfig(), "light", contrastive=True, views=("prompt",),
                                           label="PPR(light), prompt-based view only"),
    "PPR(full) w/o prompt aug": Method(PPRConfig(), "full", contrastive=True, views=("behaviour",),
                                       label="PPR(full), behaviour-based view only"),
    "PPR(full) w/o behaviour aug": Method(PPRConfig(), "full", contrastive=True, views=("prompt",),
                                          label="PPR(full), prompt-based view only"),
    "shared prompt (light)": Method(PPRConfig(prompt="shared"), "light", contrastive=True,
                                    label="one learned prompt for everyone (prefix-tuning)"),
    "shared prompt (full)": Method(PPRConfig(prompt="shared"), "full", contrastive=True,
                                   label="one learned prompt for everyone, everything tuned"),
}


def method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {list(METHODS)}")
    return METHODS[name]


# --------------------------------------------------------------------------------------------
# pre-training


@dataclass(frozen=True)
class Pretrained:
    state: dict
    history: pd.DataFrame
    key: str


def pretrain(split: ColdStartSplit, backbone: BackboneConfig, cfg: TrainConfig, *,
             seq_cl: SequenceCLConfig | None = None, include_cold: bool = False,
             spec_key: str | None = None, use_cache: bool = True) -> Pretrained:
    """Pre-train the backbone on the warm users (their clicks but the last two); cached.

    ``seq_cl`` adds CL4SRec's contrastive loss. ``include_cold`` also trains on the cold
    tuning users' clicks and selects on the cold validation users: the "trained on all data"
    baselines of the paper's table.
    """
    data = split.data
    key = config_key("pretrain", spec_key or data.fingerprint(), split.config, backbone, cfg, seq_cl, include_cold)

    def compute():
        seed_everything(cfg.seed)
        model = PPRModel(data.n_items, data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
        params = model.configure("pretrain")
        users, lengths = split.pretrain_sequences()
        val = split.instances("warm_val")
        if include_cold:
            users = np.concatenate([users, split.tune_users])
            lengths = np.concatenate([lengths, data.lengths[split.tune_users]])
            val = split.instances("val").few_shot()
        train = SequenceDataset(data, users, lengths, backbone.max_len + 1, seed=cfg.seed, clicked=split.clicked)
        history = fit(model, params, train, split, val, cfg, desc="pre-train", seq_cl=seq_cl)
        return _checkpoint({k: v.cpu() for k, v in model.backbone_state().items()}, history)

    save = lambda value, tmp: torch.save(value, tmp)  # noqa: E731
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    if use_cache:
        value = cached(checkpoint_path(key), compute, save, load)
    else:
        value = compute()
    return Pretrained(value["state"], pd.DataFrame(value["history"]), key)


def _checkpoint(state: dict, history: pd.DataFrame) -> dict:
    """What a pre-training checkpoint file holds (plain tensors and lists: loads with weights_only)."""
    return {"state": state, "history": {c: history[c].tolist() for c in history.columns}}


def checkpoint_path(key: str):
    """Where the pre-trained model with cache key ``key`` is stored."""
    return cache_dir() / "checkpoints" / f"pretrain-{key}.pt"


def save_pretrained(pre: Pretrained) -> None:
    """Store a pre-trained model under its key (as :func:`pretrain` would): a model trained
    elsewhere (e.g. on several processes) is then found by every chapter."""
    from pprlib.cache import atomic_write

    value = _checkpoint(pre.state, pre.history)
    path = checkpoint_path(pre.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: torch.save(value, tmp))


# --------------------------------------------------------------------------------------------
# tuning and evaluation


@dataclass(frozen=True)
class TuneSettings:
    """Everything about tuning that is shared by the methods of one comparison."""

    train: TrainConfig = TrainConfig(batch_size=64)
    lr: dict = field(default_factory=dict)  # method name -> learning rate (else train.lr)
    contrastive: ContrastiveConfig = ContrastiveConfig()
    n_prompt: int = 1
    profile_noise: float = 0.0
    k_shot: int | None = None
    # zero-shot tuning batches: one target per user, so 256 users make the paper's batch of 256
    # instances and its in-batch InfoNCE 255 negatives (``train.batch_size`` users of up to nine
    # few-shot targets each make the few-shot and joint batches)
    zero_shot_batch: int = 256

    def lr_for(self, name: str) -> float:
        return float(self.lr.get(name, self.train.lr))

    def train_config(self, name: str, targets: str, seed: int) -> TrainConfig:
        """The training settings of method ``name`` tuned on ``targets`` with ``seed``."""
        batch = self.zero_shot_batch if targets == "zero" else self.train.batch_size
        return dataclasses.replace(self.train, lr=self.lr_for(name), seed=seed, targets=targets, batch_size=batch)


def _instances(split: ColdStartSplit, name: str, targets: str, k_shot: int | None) -> Instances:
    inst = split.instances(name)
    if targets == "zero":
        return inst.zero_shot()
    if k_shot is not None:
        return inst.k_shot(k_shot) if targets == "few" else inst.select(inst.positions <= k_shot)
    return inst.few_shot() if targets == "few" else inst


def noisy_profiles(split: ColdStartSplit, rate: float, seed: int) -> np.ndarray:
    """Cold users' profiles with each field replaced by a random valid value with prob ``rate``
    (warm users keep theirs: the noise study perturbs only the downstream task)."""
    from pprlib.augment import noisy_profiles as perturb

    profiles = split.data.profiles.copy()
    if rate <= 0:
        return profiles
    cold = np.concatenate([split.tune_users, split.val_users, split.test_users])
    g = torch.Generator().manual_seed(10_000 + seed)
    profiles[cold] = perturb(torch.from_numpy(profiles[cold]), split.data.field_sizes, rate, g).numpy()
    return profiles


def build_model(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig,
                settings: TuneSettings) -> PPRModel:
    m = method(name)
    ppr = m.ppr
    if ppr.prompt != "none":
        ppr = dataclasses.replace(ppr, n_prompt=settings.n_prompt)
    model = PPRModel(split.data.n_items, split.data.field_sizes, backbone, ppr)
    model.load_pretrained(pre.state)
    return model


def tuning_set(split: ColdStartSplit, settings: TuneSettings, backbone: BackboneConfig, seed: int,
               profiles: np.ndarray | None = None) -> SequenceDataset:
    """The cold tuning users' training sequences. With ``settings.k_shot = k`` each is cut to
    its first ``k + 1`` clicks: every few-shot target then has a history of at most ``k``
    clicks, the reading of the paper's "k-shot" that the sparsity study uses (and its test
    instances, :meth:`~pprlib.data.protocol.Instances.k_shot`). Training negatives are items
    the user never clicked in the untruncated data (:attr:`ColdStartSplit.clicked`)."""
    lengths = split.data.lengths[split.tune_users]
    if settings.k_shot is not None:
        lengths = np.minimum(lengths, settings.k_shot + 1)
    return SequenceDataset(split.data, split.tune_users, lengths, backbone.max_len + 1, seed=seed,
                           profiles=profiles, clicked=split.clicked)


def tuning_job(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig, settings: TuneSettings,
               targets: str, seed: int) -> tuple[PPRModel, dict | None]:
    """The model of method ``name`` built with ``seed`` and the keyword arguments of
    :func:`~pprlib.train.fit` that tune it (``None`` for a method without tuning):
    :func:`tune` runs them one by one, :func:`pprlib.batched.fit_many` many at once."""
    m = method(name)
    seed_everything(seed)
    model = build_model(split, pre, name, backbone, settings)
    profiles = noisy_profiles(split, settings.profile_noise, seed)
    if m.mode is None:
        return model, None
    params = model.configure(m.mode)
    train = tuning_set(split, settings, backbone, seed, profiles)
    cfg = settings.train_config(name, targets, seed)
    cl = None
    if m.contrastive:
        cl = dataclasses.replace(settings.contrastive, prompt_view=settings.contrastive.prompt_view and "prompt" in m.views,
                                 behaviour_view=settings.contrastive.behaviour_view and "behaviour" in m.views)
    val = _instances(split, "val", targets, settings.k_shot)
    return model, dict(model=model, params=params, train=train, split=split, val=val, cfg=cfg, cl=cl,
                       val_profiles=profiles, desc=name)


def tune(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig, settings: TuneSettings,
         targets: str, seed: int) -> tuple[PPRModel, pd.DataFrame]:
    """Tune method ``name`` on the cold tuning users; returns the model and its history."""
    model, job = tuning_job(split, pre, name, backbone, settings, targets, seed)
    if job is None:
        return model.eval(), pd.DataFrame()
    return model, fit(**job)


def tuned_model(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig,
                settings: TuneSettings, targets: str, seed: int, *, use_cache: bool = True) -> PPRModel:
    """The model of method ``name`` tuned with ``seed`` (in eval mode, on the CPU): its weights
    are cached on disk, so the explorer and the profile-prediction chapter tune each model once.
    The key includes the split's data, so a split whose profiles were changed gets its own."""
    if method(name).ppr is None:
        raise ValueError(f"{name!r} has no model to tune; choose a method with a model, e.g. 'ft'")
    key = config_key("model", pre.key, split.data.fingerprint(), split.config, name, method(name), backbone,
                     settings, targets, seed)

    def compute():
        model, _ = tune(split, pre, name, backbone, settings, targets, seed)
        return {k: v.detach().cpu() for k, v in model.state_dict().items()}

    save = lambda value, tmp: torch.save(value, tmp)  # noqa: E731
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    state = cached(cache_dir() / "models" / f"{key}.pt", compute, save, load) if use_cache else compute()
    model = build_model(split, pre, name, backbone, settings)
    model.load_state_dict(state)
    return model.cpu().eval()


def run_key(pre: Pretrained, name: str, backbone: BackboneConfig, settings: TuneSettings, targets: str,
            seed: int) -> str:
    """The cache key of :func:`run_method`'s result."""
    return config_key("run", pre.key, name, method(name), backbone, settings, targets, seed)


def run_method(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig,
               settings: TuneSettings, targets: str, seed: int, *, use_cache: bool = True) -> dict:
    """Per-instance test metrics (and the tuning history) of one method and seed; cached."""
    compute = lambda: tested_run(split, pre, name, backbone, settings, targets, seed)  # noqa: E731
    return stored_run(run_key(pre, name, backbone, settings, targets, seed), compute, use_cache)


def tested_run(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig,
               settings: TuneSettings, targets: str, seed: int,
               tuned: tuple[PPRModel, pd.DataFrame] | None = None) -> tuple[dict, pd.DataFrame]:
    """Per-instance test metrics and tuning history of one method and seed, tuned here or
    given (``tuned``: the model and history of :func:`tune`, e.g. from :mod:`pprlib.batched`)."""
    test = _instances(split, "test", targets, settings.k_shot)
    profiles = noisy_profiles(split, settings.profile_noise, seed)
    device = resolve_device(settings.train.device)
    if name.startswith("most popular"):
        scorer, history = most_popular(split, "cold_first" if "cold" in name else "warm"), pd.DataFrame()
    else:
        model, history = tuned or tune(split, pre, name, backbone, settings, targets, seed)
        model.to(device).eval()
        scorer = model.full_sort_predict
    per = evaluate(scorer, split, test, profiles=profiles, device=device)
    per["position"] = test.positions.astype(np.float32)  # lets joint results split by kind
    return per, history


def stored_run(key: str, compute, use_cache: bool = True) -> dict:
    """``compute()`` -> (per-instance metrics, training history), timed, and kept in the cache
    under ``key`` (``runs/<key>.pt``); returns ``{"metrics", "history", "seconds"}``."""

    def timed():
        start = time.perf_counter()
        per, history = compute()
        return {"metrics": {k: torch.from_numpy(v) for k, v in per.items()},
                "history": {c: history[c].tolist() for c in history.columns},
                "seconds": time.perf_counter() - start}

    save = lambda value, tmp: torch.save(value, tmp)  # noqa: E731
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    value = cached(cache_dir() / "runs" / f"{key}.pt", timed, save, load) if use_cache else timed()
    return {"metrics": {k: v.numpy() for k, v in value["metrics"].items()},
            "history": pd.DataFrame(value["history"]), "seconds": value["seconds"]}


@dataclass
class Comparison:
    """Results of several methods over several seeds on one test set."""

    per_instance: dict  # (method, seed) -> {metric: array over test instances}
    histories: dict  # (method, seed) -> DataFrame
    seconds: dict

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(m for m, _ in self.per_instance))

    @property
    def seeds(self) -> list[int]:
        return sorted({s for _, s in self.per_instance})

    def tidy(self) -> pd.DataFrame:
        """One row per method x seed x metric (mean over test instances)."""
        rows = [{"method": m, "seed": s, "metric": k, "value": float(v.mean())}
                for (m, s), per in self.per_instance.items() for k, v in per.items() if k != "position"]
        return pd.DataFrame(rows)

    def merge(self, other: "Comparison") -> "Comparison":
        """Both sets of results in one comparison (``other`` wins on a clash)."""
        return Comparison({**self.per_instance, **other.per_instance}, {**self.histories, **other.histories},
                          {**self.seconds, **other.seconds})

    def only(self, kind: str) -> "Comparison":
        """The same results restricted to ``zero``-shot or ``few``-shot test instances (a method
        with no instance of that kind, e.g. one without a profile for zero-shot, is dropped)."""
        if kind not in ("zero", "few"):
            raise ValueError(f"kind must be 'zero' or 'few', got {kind!r}")
        out = {}
        for key, per in self.per_instance.items():
            keep = per["position"] == 0 if kind == "zero" else per["position"] > 0
            if keep.any():  # a method evaluated on no instance of this kind is left out
                out[key] = {k: v[keep] for k, v in per.items()}
        return Comparison(out, self.histories, self.seconds)

    def summary(self, metric_names=("NDCG@10", "HIT@10", "AUC"), reference: str | None = "ft") -> pd.DataFrame:
        """mean ± std over seeds per method, and paired tests against ``reference``."""
        tidy = self.tidy()
        table = {}
        for m in self.methods:
            row = {}
            for k in metric_names:
                vals = tidy[(tidy.method == m) & (tidy.metric == k)].value
                row[k] = f"{vals.mean():.4f} ± {vals.std(ddof=1):.4f}" if len(vals) > 1 else f"{vals.mean():.4f} (1 run)"
            if reference is not None and reference in self.methods and m != reference:
                test = self.paired_test(m, reference, metric_names[0])
                row[f"Δ{metric_names[0]} vs {reference}"] = f"{test['diff']:+.4f}"
                row["p (instances)"] = test["p_instances"]
                row["p (seeds)"] = test["p_seeds"]
            table[m] = row
        return pd.DataFrame(table).T

    def relative(self, methods, reference: str = "ft", metric: str = "NDCG@10") -> pd.Series:
        """Mean ``metric`` of each method relative to ``reference``, in %."""
        means = self.tidy().query("metric == @metric").groupby("method").value.mean()
        return pd.Series({m: 100 * (means[m] / means[reference] - 1) for m in methods})

    def paired_test(self, a: str, b: str, metric: str = "NDCG@10") -> dict:
        """Paired t-tests of ``a`` against ``b``: over test instances (each instance's metric
        averaged over seeds) and over seeds (each seed's mean)."""
        xa, xb = self.paired_arrays(a, b, metric)
        seeds = range(len(xa))
        p_inst = float(stats.ttest_rel(xa.mean(0), xb.mean(0)).pvalue) if xa.shape[1] > 1 else np.nan
        p_seed = float(stats.ttest_rel(xa.mean(1), xb.mean(1)).pvalue) if len(seeds) > 1 else np.nan
        return {"diff": float(xa.mean() - xb.mean()), "p_instances": p_inst, "p_seeds": p_seed,
                "n_instances": xa.shape[1], "n_seeds": len(seeds)}

    def effect(self, a: str, b: str, metric: str = "NDCG@10") -> "evidence.Effect":
        """The paired effect of ``a`` over ``b`` on the seeds both ran, with its interval over
        seeds and instances, p-value and MDE (:func:`pprlib.evidence.paired_effect`)."""
        return evidence.paired_effect(*self.paired_arrays(a, b, metric))

    def paired_arrays(self, a: str, b: str, metric: str = "NDCG@10") -> tuple[np.ndarray, np.ndarray]:
        """``metric`` of ``a`` and of ``b`` as (seeds x instances) arrays, on the seeds both ran."""
        seeds = [s for s in self.seeds if (a, s) in self.per_instance and (b, s) in self.per_instance]
        if not seeds:
            raise ValueError(f"no seed with results for both {a!r} and {b!r}")
        return (np.stack([self.per_instance[(a, s)][metric] for s in seeds]),
                np.stack([self.per_instance[(b, s)][metric] for s in seeds]))

    def effects(self, methods=None, reference: str = "ft", metric: str = "NDCG@10") -> pd.DataFrame:
        """One row per method: its effect over ``reference`` with the 95 % interval (seeds and
        instances), the relative effect, SE, MDE and p (every method but the reference)."""
        rows = {}
        for m in methods or [m for m in self.methods if m != reference]:
            e = self.effect(m, reference, metric)
            rows[m] = {f"Δ{metric}": e.estimate, "lo": e.lo, "hi": e.hi, "relative": e.relative, "SE": e.se,
                       "MDE": e.mde, "p": e.p, "seeds": e.n_seeds, "instances": e.n_instances}
        return pd.DataFrame(rows).T


def compare(split: ColdStartSplit, pre: Pretrained, methods: list[str], seeds: list[int],
            backbone: BackboneConfig, settings: TuneSettings, targets: str = "few", *,
            use_cache: bool = True, log=None) -> Comparison:
    """Run every method for every seed and collect per-instance test metrics."""
    per, hist, secs = {}, {}, {}
    for name in methods:
        method(name)  # fail early on a typo
    if use_cache:  # PPR_RUNNER: the runs computed into the cache first (batched, on Ray), then read below
        grid.prefetch(split, pre, backbone, [(name, settings, targets, seed) for seed in seeds for name in methods])
    for seed in seeds:
        for name in methods:
            out = run_method(split, pre, name, backbone, settings, targets, seed, use_cache=use_cache)
            per[(name, seed)], hist[(name, seed)], secs[(name, seed)] = out["metrics"], out["history"], out["seconds"]
            if log:
                log(f"{name} seed {seed}: NDCG@10 {out['metrics']['NDCG@10'].mean():.4f} ({out['seconds']:.1f} s)")
    return Comparison(per, hist, secs)


def verdict(diff: float, p: float, alpha: float = 0.05) -> str:
    """Plain words for a paired comparison: 'better', 'worse' or 'no significant difference'."""
    if not np.isfinite(p) or p >= alpha:
        return "no significant difference"
    return "significantly better" if diff > 0 else "significantly worse"


# --------------------------------------------------------------------------------------------
# the book's settings, shared by every chapter


def paper_lr(name: str) -> float:
    """The paper's learning rate of method ``name``: 1e-5 where the whole backbone and the
    item embeddings are tuned (ft and every PPR(full) variant), 1e-4 for everything else.
    Read from the method's tuning mode, so a new method cannot be left out."""
    return 1e-5 if method(name).mode in ("ft", "full") else 1e-4


PAPER_LR = {name: paper_lr(name) for name, m in METHODS.items() if m.mode is not None}
"""The paper's learning rate of every tuned method (:func:`paper_lr`)."""


@dataclass(frozen=True)
class BookConfig:
    """The parameters of the chapters' ``parameters`` cells, one field per parameter: a run
    profile (``book/profiles/*.yaml``) sets them and :meth:`from_params` reads it strictly.
    Fields marked ``profile: False`` are not in the parameters cells (set them in code)."""

    profile: str = field(default="default", metadata={"cosmetic": True})  # the run profile's name
    dataset: str = "synthetic"  # or "movielens-100k", "csv:<folder>", ... (see DataSpec)
    n_users: int = 6000
    n_items: int = 1000
    seed: int = 0  # data, split and pre-training seed
    pretrain_loss: str = "ce"  # "ce": softmax over all items (converges in fewer epochs); "bpr": the paper's
    pretrain_lr: float = field(default=5e-3, metadata={"profile": False})
    pretrain_epochs: int = 40
    tune_epochs: int = 30
    lr_grid: tuple[float, ...] = (1e-4, 1e-3)
    seeds: tuple[int, ...] = (0, 1, 2)
    deterministic: bool = False  # deterministic CUDA kernels (see pprlib.train.deterministic_algorithms)
    device: str = field(default="auto", metadata={"cosmetic": True})
    progress: bool = field(default=True, metadata={"cosmetic": True, "profile": False})
    # the grids of single chapters (noise, sparsity, universality, sensitivity)
    noise_rates: tuple[float, ...] = (0.0, 0.25, 0.5)
    k_shots: tuple[int, ...] = (1, 5, 7)
    backbones: tuple[str, ...] = ("SASRec", "CL4SRec", "GRU4Rec")
    prompt_lengths: tuple[int, ...] = (1, 2, 4)
    cl_weights: tuple[float, ...] = (0.0, 0.1, 0.5)
    temperatures: tuple[float, ...] = (0.5, 1.0)
    mask_ratios: tuple[float, ...] = (0.2, 0.5)

    def __post_init__(self) -> None:
        for name, value in check_fields(self).items():  # types: ints are ints, lists become tuples
            object.__setattr__(self, name, value)

        def bad(name, detail):
            raise SettingError("BookConfig", name, detail)

        if not self.profile.strip():
            bad("profile", "must name the run profile, got an empty string")
        if not self.seeds:
            bad("seeds", "must name at least one seed")
        for name in ("seed", "seeds"):
            for value in np.atleast_1d(getattr(self, name)).tolist():
                if not 0 <= value < 2**32:
                    bad(name, f"must hold integers from 0 to 2**32 - 1 (random seeds), got {value!r}")
        if len(set(self.seeds)) < len(self.seeds):
            bad("seeds", f"must not repeat a seed, got {list(self.seeds)!r}")
        if not self.lr_grid or min(self.lr_grid) <= 0:
            bad("lr_grid", f"must hold positive learning rates, got {self.lr_grid!r}")
        if not self.pretrain_lr > 0:
            bad("pretrain_lr", f"must be a positive learning rate, got {self.pretrain_lr!r}")
        if self.pretrain_loss not in ("bpr", "ce"):
            bad("pretrain_loss", f"must be 'bpr' or 'ce', got {self.pretrain_loss!r}")
        for name in ("pretrain_epochs", "tune_epochs", "n_users", "n_items"):
            value = getattr(self, name)
            if not 1 <= value < 2**31:
                bad(name, f"must be a positive integer, got {value!r}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            bad("device", f"must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        grids = {"noise_rates": (0.0, 1.0, "rates from 0 to 1"), "k_shots": (1, None, "integers >= 1"),
                 "prompt_lengths": (1, None, "integers >= 1"), "cl_weights": (0.0, None, "weights >= 0"),
                 "temperatures": (0.0, None, "temperatures > 0"), "mask_ratios": (0.0, 1.0, "ratios from 0 to 1")}
        for name, (low, high, what) in grids.items():
            values = getattr(self, name)
            if not values:
                bad(name, f"must hold at least one value ({what})")
            outside = [v for v in values if v < low or (high is not None and v > high)
                       or (name == "temperatures" and v <= 0)]
            if outside:
                bad(name, f"must hold {what}, got {outside[0]!r}")
        unknown = [b for b in self.backbones if b not in BACKBONES]
        if not self.backbones or unknown:
            bad("backbones", f"must name backbones from {list(BACKBONES)}, got {unknown[0] if unknown else 'none'!r}")
        try:
            DataSpec(self.dataset)  # validates the name and the folder
        except ValueError as exc:  # DataSpec's message names the field already
            raise SettingError("BookConfig", "dataset", f"names no usable data: {exc}", str(exc)) from None

    @classmethod
    def from_params(cls, params: Mapping) -> "BookConfig":
        """The settings of a run profile (or of a chapter's parameters), read strictly: an
        unknown key (with the nearest known one suggested), a value of the wrong type or out of
        range raises :class:`~pprlib.params.SettingError` naming the key."""
        return from_mapping(cls, params, PROFILE_KEYS)


PROFILE_KEYS = frozenset(f.name for f in dataclasses.fields(BookConfig) if f.metadata.get("profile", True))
"""The keys a run profile may set: every :class:`BookConfig` field that the chapters' parameters cells declare."""


@dataclass
class Context:
    """What every chapter starts from: the data split, the backbone and the pre-trained model."""

    config: BookConfig
    spec: DataSpec
    split: ColdStartSplit
    backbone: BackboneConfig
    pretrain_cfg: TrainConfig
    pre: Pretrained
    tune_cfg: TrainConfig

    def settings(self, **changes) -> TuneSettings:
        """Tuning settings of this context (learning rates per method go in ``lr``)."""
        return TuneSettings(train=self.tune_cfg, **changes)


BACKBONES: dict[str, tuple[BackboneConfig, SequenceCLConfig | None]] = {
    "SASRec": (BackboneConfig(), None),
    "CL4SRec": (BackboneConfig(), SequenceCLConfig()),
    "GRU4Rec": (BackboneConfig(name="gru4rec"), None),
    "SASRec (2 layers)": (BackboneConfig(n_layers=2, n_heads=2), None),
}
"""Pre-trained backbones by name: the architecture and, for CL4SRec, its contrastive pre-training."""


def prepare_backbone(config: BookConfig, name: str) -> Context:
    """:func:`prepare` with one of the named :data:`BACKBONES` (pre-trained and cached)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {list(BACKBONES)}")
    backbone, seq_cl = BACKBONES[name]
    return prepare(config, backbone=backbone, seq_cl=seq_cl)


def book_data(config: BookConfig, synthetic: SyntheticConfig | None = None,
              protocol: ProtocolConfig | None = None) -> tuple[DataSpec, ColdStartSplit]:
    """The data and its protocol split for the book's settings (the split is cached on disk).

    MovieLens has no natural cold users: 30 % of its users are simulated as cold. Data read
    from a folder keeps its natural cold users unless it has too few (:func:`own_data_protocol`).
    """
    if config.dataset == "synthetic":
        syn = synthetic or SyntheticConfig(n_users=config.n_users, n_items=config.n_items, seed=config.seed)
        spec, protocol = DataSpec("synthetic", syn), protocol or ProtocolConfig(seed=config.seed)
    elif config.dataset == "movielens-100k":
        spec = DataSpec(config.dataset)
        protocol = protocol or ProtocolConfig(seed=config.seed, simulate_cold_share=0.3)
    else:
        spec = DataSpec(config.dataset)
        data = load_data(spec)
        return spec, _split(data, protocol or own_data_protocol(data, config.seed))
    return spec, load_split(spec, protocol)


def pretrain_config(config: BookConfig) -> TrainConfig:
    """The pre-training settings of the book."""
    return TrainConfig(lr=config.pretrain_lr, loss=config.pretrain_loss, max_epochs=config.pretrain_epochs,
                       patience=3, min_delta=1e-3, batch_size=256, seed=config.seed, device=config.device,
                       deterministic=config.deterministic, progress=config.progress)


def prepare(config: BookConfig | None = None, *, backbone: BackboneConfig | None = None,
            synthetic: SyntheticConfig | None = None, protocol: ProtocolConfig | None = None,
            seq_cl: SequenceCLConfig | None = None) -> Context:
    """Data, split and pre-trained backbone for a chapter (the pre-training is cached).
    ``seq_cl`` pre-trains CL4SRec instead of SASRec."""
    config = config or BookConfig()
    spec, sp = book_data(config, synthetic, protocol)
    backbone = backbone or BackboneConfig()
    pre_cfg = pretrain_config(config)
    pre = pretrain(sp, backbone, pre_cfg, seq_cl=seq_cl)
    tune_cfg = TrainConfig(batch_size=64, max_epochs=config.tune_epochs, patience=3, device=config.device,
                           deterministic=config.deterministic, progress=config.progress)
    return Context(config, spec, sp, backbone, pre_cfg, pre, tune_cfg)


def trained_on_all(ctx: Context, name: str = "SASRec (all data)", seq_cl: SequenceCLConfig | None = None,
                   targets: str = "few") -> Comparison:
    """A backbone trained from scratch on the warm users and the cold tuning users together,
    evaluated on the cold test users like every tuned method (one run, the context's seed)."""
    pre = pretrain(ctx.split, ctx.backbone, ctx.pretrain_cfg, seq_cl=seq_cl, include_cold=True)
    data = ctx.split.data
    model = PPRModel(data.n_items, data.field_sizes, ctx.backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(pre.state)
    device = resolve_device(ctx.config.device)
    model.to(device).eval()
    test = _instances(ctx.split, "test", targets, None)
    per = evaluate(model.full_sort_predict, ctx.split, test, device=device)
    per["position"] = test.positions.astype(np.float32)
    key = (name, ctx.config.seeds[0])
    return Comparison({key: per}, {key: pre.history}, {key: float(pre.history.seconds.max())})


def choose_lr(ctx: Context, names: list[str], targets: str = "few", base: TuneSettings | None = None,
              seed: int | None = None) -> dict[str, float]:
    """The learning rate of each method from ``ctx.config.lr_grid``, chosen on the validation
    split (best validation NDCG@10 of one seed): the fair setting (the data chapter's "Fair comparisons" section).

    Each rate is scored by its best validation NDCG@10 *after tuning started* (epoch >= 1):
    epoch 0 is the untuned model, the same for every rate, and counting it would make every
    rate that only loses tie with the first one. Ties go to the rate listed first in the grid."""
    base = base or ctx.settings()
    seed = ctx.config.seeds[0] if seed is None else seed
    grid_settings = {(name, lr): dataclasses.replace(base, lr={**base.lr, name: lr})
                     for name in names if method(name).mode is not None for lr in ctx.config.lr_grid}
    grid.prefetch(ctx.split, ctx.pre, ctx.backbone, [(n, s, targets, seed) for (n, _), s in grid_settings.items()])
    chosen = {}
    for name in names:
        if method(name).mode is None:
            continue
        best = (-np.inf, None)
        for lr in ctx.config.lr_grid:
            history = run_method(ctx.split, ctx.pre, name, ctx.backbone, grid_settings[name, lr], targets, seed)["history"]
            score = history.loc[history["epoch"] > 0, "val/NDCG@10"].max()
            if score > best[0]:  # strictly better: a tie keeps the earlier rate
                best = (score, lr)
        chosen[name] = best[1]
    return chosen


def parameter_table(n_items: int, field_sizes: list[int], backbone: BackboneConfig | None = None,
                    n_prompt: int = 1) -> pd.DataFrame:
    """Tuned parameters of each mode and their share of fine-tuning's (the paper's Table 1).
    Built on the ``meta`` device, so paper-scale catalogues cost no memory."""
    backbone = backbone or BackboneConfig()
    rows = {}
    with torch.device("meta"):
        ft = PPRModel(n_items, field_sizes, backbone, PPRConfig(prompt="none"))
        ppr = PPRModel(n_items, field_sizes, backbone, PPRConfig(n_prompt=n_prompt))
        n_ft = sum(p.numel() for p in ft.configure("ft"))
        rows["ft"] = n_ft
        rows["PPR(light)"] = sum(p.numel() for p in ppr.configure("light"))
        rows["PPR(full)"] = sum(p.numel() for p in ppr.configure("full"))
    return pd.DataFrame({"tuned parameters": rows, "% of ft": {k: 100 * v / n_ft for k, v in rows.items()}})


def recommend(model: PPRModel, data: InteractionData, profile: dict | np.ndarray, history=(), k: int = 10,
              exclude_seen: bool = True) -> pd.DataFrame:
    """Top-``k`` items for any user, a brand-new one with an empty history included.

    ``profile``: labels by field (``{"gender": "F", "age": "25-29"}``; absent fields are
    missing) or codes; ``history``: item labels in time order.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    codes = data.encode_profile(profile) if isinstance(profile, dict) else _profile_codes(data, profile)
    lookup = {label: i for i, label in enumerate(data.item_ids) if i > 0}
    unknown = [h for h in history if h not in lookup]
    if unknown:
        raise ValueError(f"unknown item(s) in history: {unknown[:5]}")
    seen = [lookup[h] for h in history]
    items = seen[-model.backbone_cfg.max_len:]
    device = next(model.parameters()).device
    batch = {
        "history": torch.tensor([items or [0]], device=device),
        "lengths": torch.tensor([len(items)], device=device),
        "profile": torch.from_numpy(codes)[None, :].to(device),
    }
    model.eval()
    with torch.no_grad():
        scores = model.full_sort_predict(batch)[0, : data.n_items + 1].float().cpu()
    scores[0] = -np.inf
    if exclude_seen and seen:
        scores[seen] = -np.inf  # the whole history, not only the model's window
    top = torch.topk(scores, min(k, data.n_items)).indices.numpy()
    return pd.DataFrame({"item": data.item_ids[top], "score": scores[top].numpy()})


def _profile_codes(data: InteractionData, profile) -> np.ndarray:
    """Profile codes given as numbers, checked against the fields' vocabularies."""
    codes = np.asarray(profile)
    sizes = data.field_sizes
    if codes.shape != (len(sizes),) or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"profile codes must be {len(sizes)} integers, one per field {data.profile_fields}, "
                         f"got {profile!r}; or give labels, e.g. {data.profile_labels(0)}")
    for f, code, size in zip(data.profile_fields, codes.tolist(), sizes):
        if not 0 <= code < size:
            raise ValueError(f"profile field {f!r}: code {code} is outside 0..{size - 1} (0 = missing; "
                             f"the labels are {data.vocab[f]})")
    return codes.astype(np.int64)

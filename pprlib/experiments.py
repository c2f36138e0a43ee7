"""Experiments: pre-train once, tune every method over seeds, evaluate, return tidy results.

Each step is cached on disk under a key derived from everything that affects it (data,
protocol, model, training settings, method, seed), so re-running a chapter after a prose edit
costs nothing, and changing one setting recomputes exactly the runs it touches.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy import stats

from pprlib import metrics
from pprlib.cache import cache_dir, cached, config_key
from pprlib.data.batching import SequenceDataset
from pprlib.data.protocol import ColdStartSplit, Instances, ProtocolConfig, split as make_split
from pprlib.data.schema import InteractionData
from pprlib.data.synthetic import SyntheticConfig, generate
from pprlib.evaluation import evaluate, most_popular
from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel
from pprlib.train import TrainConfig, fit, resolve_device, seed_everything

# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from: the generator (``synthetic``) or ``movielens-100k``."""

    source: str = "synthetic"
    synthetic: SyntheticConfig = SyntheticConfig()

    def __post_init__(self) -> None:
        if self.source not in ("synthetic", "movielens-100k"):
            raise ValueError(f"DataSpec.source must be 'synthetic' or 'movielens-100k', got {self.source!r}")


def load_data(spec: DataSpec) -> InteractionData:
    if spec.source == "synthetic":
        return generate(spec.synthetic)
    from pprlib.data.readers import read_movielens_100k

    return read_movielens_100k()


def load_split(spec: DataSpec, protocol: ProtocolConfig) -> ColdStartSplit:
    """The protocol split of the data (fast to recompute, so not cached)."""
    return make_split(load_data(spec), protocol)


# --------------------------------------------------------------------------------------------
# methods


@dataclass(frozen=True)
class Method:
    """A way to produce a model for the cold users: which model, which mode, which loss."""

    ppr: PPRConfig | None  # None: not a PPRModel (popularity) or used as pre-trained
    mode: str | None  # tuning mode; None = no tuning
    contrastive: bool = False
    label: str = ""


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
             spec_key: str | None = None, use_cache: bool = True) -> Pretrained:
    """Pre-train the backbone on the warm users (their clicks but the last two); cached."""
    data = split.data
    key = config_key("pretrain", spec_key or data.fingerprint(), split.config, backbone, cfg)
    path = cache_dir() / "checkpoints" / f"pretrain-{key}.pt"

    def compute():
        seed_everything(cfg.seed)
        model = PPRModel(data.n_items, data.field_sizes, backbone, PPRConfig(prompt="none", profile_model=False))
        params = model.configure("pretrain")
        users, lengths = split.pretrain_sequences()
        train = SequenceDataset(data, users, lengths, backbone.max_len + 1, seed=cfg.seed)
        history = fit(model, params, train, split, split.instances("warm_val"), cfg, desc="pre-train")
        return {"state": {k: v.cpu() for k, v in model.backbone_state().items()},
                "history": {c: history[c].tolist() for c in history.columns}}

    save = lambda value, tmp: torch.save(value, tmp)  # noqa: E731
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    value = cached(path, compute, save, load) if use_cache else compute()
    return Pretrained(value["state"], pd.DataFrame(value["history"]), key)


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

    def lr_for(self, name: str) -> float:
        return float(self.lr.get(name, self.train.lr))


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


def tune(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig, settings: TuneSettings,
         targets: str, seed: int) -> tuple[PPRModel, pd.DataFrame]:
    """Tune method ``name`` on the cold tuning users; returns the model and its history."""
    m = method(name)
    seed_everything(seed)
    model = build_model(split, pre, name, backbone, settings)
    profiles = noisy_profiles(split, settings.profile_noise, seed)
    if m.mode is None:
        return model.eval(), pd.DataFrame()
    params = model.configure(m.mode)
    lengths = split.data.lengths[split.tune_users]
    if settings.k_shot is not None:
        lengths = np.minimum(lengths, settings.k_shot + 1)
    train = SequenceDataset(split.data, split.tune_users, lengths, backbone.max_len + 1, seed=seed,
                            profiles=profiles)
    cfg = dataclasses.replace(settings.train, lr=settings.lr_for(name), seed=seed, targets=targets)
    cl = settings.contrastive if m.contrastive else None
    val = _instances(split, "val", targets, settings.k_shot)
    history = fit(model, params, train, split, val, cfg, cl=cl, val_profiles=profiles, desc=name)
    return model, history


def run_method(split: ColdStartSplit, pre: Pretrained, name: str, backbone: BackboneConfig,
               settings: TuneSettings, targets: str, seed: int, *, use_cache: bool = True) -> dict:
    """Per-instance test metrics (and the tuning history) of one method and seed; cached."""
    key = config_key("run", pre.key, name, method(name), backbone, settings, targets, seed)
    path = cache_dir() / "runs" / f"{key}.pt"

    def compute():
        start = time.perf_counter()
        test = _instances(split, "test", targets, settings.k_shot)
        profiles = noisy_profiles(split, settings.profile_noise, seed)
        device = resolve_device(settings.train.device)
        if name.startswith("most popular"):
            scorer, history = most_popular(split, "cold_first" if "cold" in name else "warm"), pd.DataFrame()
        else:
            model, history = tune(split, pre, name, backbone, settings, targets, seed)
            model.to(device).eval()
            scorer = model.full_sort_predict
        per = evaluate(scorer, split, test, profiles=profiles, device=device)
        return {"metrics": {k: torch.from_numpy(v) for k, v in per.items()},
                "history": {c: history[c].tolist() for c in history.columns},
                "seconds": time.perf_counter() - start}

    save = lambda value, tmp: torch.save(value, tmp)  # noqa: E731
    load = lambda p: torch.load(p, weights_only=True)  # noqa: E731
    value = cached(path, compute, save, load) if use_cache else compute()
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
                for (m, s), per in self.per_instance.items() for k, v in per.items()]
        return pd.DataFrame(rows)

    def summary(self, metric_names=("NDCG@10", "HIT@10", "AUC"), reference: str | None = "ft") -> pd.DataFrame:
        """mean ± std over seeds per method, and paired tests against ``reference``."""
        tidy = self.tidy()
        table = {}
        for m in self.methods:
            row = {}
            for k in metric_names:
                vals = tidy[(tidy.method == m) & (tidy.metric == k)].value
                row[k] = f"{vals.mean():.4f} ± {vals.std(ddof=1) if len(vals) > 1 else 0:.4f}"
            if reference is not None and reference in self.methods and m != reference:
                test = self.paired_test(m, reference, metric_names[0])
                row[f"Δ{metric_names[0]} vs {reference}"] = f"{test['diff']:+.4f}"
                row["p (instances)"] = test["p_instances"]
                row["p (seeds)"] = test["p_seeds"]
            table[m] = row
        return pd.DataFrame(table).T

    def paired_test(self, a: str, b: str, metric: str = "NDCG@10") -> dict:
        """Paired t-tests of ``a`` against ``b``: over test instances (each instance's metric
        averaged over seeds) and over seeds (each seed's mean)."""
        seeds = [s for s in self.seeds if (a, s) in self.per_instance and (b, s) in self.per_instance]
        xa = np.stack([self.per_instance[(a, s)][metric] for s in seeds])
        xb = np.stack([self.per_instance[(b, s)][metric] for s in seeds])
        p_inst = float(stats.ttest_rel(xa.mean(0), xb.mean(0)).pvalue) if xa.shape[1] > 1 else np.nan
        p_seed = float(stats.ttest_rel(xa.mean(1), xb.mean(1)).pvalue) if len(seeds) > 1 else np.nan
        return {"diff": float(xa.mean() - xb.mean()), "p_instances": p_inst, "p_seeds": p_seed,
                "n_instances": xa.shape[1], "n_seeds": len(seeds)}


def compare(split: ColdStartSplit, pre: Pretrained, methods: list[str], seeds: list[int],
            backbone: BackboneConfig, settings: TuneSettings, targets: str = "few", *,
            use_cache: bool = True, log=None) -> Comparison:
    """Run every method for every seed and collect per-instance test metrics."""
    per, hist, secs = {}, {}, {}
    for name in methods:
        method(name)  # fail early on a typo
    for seed in seeds:
        for name in methods:
            out = run_method(split, pre, name, backbone, settings, targets, seed, use_cache=use_cache)
            per[(name, seed)], hist[(name, seed)], secs[(name, seed)] = out["metrics"], out["history"], out["seconds"]
            if log:
                log(f"{name} seed {seed}: NDCG@10 {out['metrics']['NDCG@10'].mean():.4f} ({out['seconds']:.1f} s)")
    return Comparison(per, hist, secs)


def metric_list(ks=metrics.DEFAULT_KS) -> list[str]:
    return list(metrics.metric_names(ks))

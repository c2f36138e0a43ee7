"""Methods: the ways of producing a recommender for the cold users, as data.

A :class:`Method` says what it is in explicit fields (a popularity ranking or a model; the
model's prompt and profile side; its tuning mode; the contrastive views it keeps; the part of
PPR it removes), so that code asks a method's fields and never reads its name. :data:`METHODS`
is the registry by name; :func:`paper_lr` is the paper's learning rate of a method and
:func:`parameter_table` the tuned-parameter counts of the modes (the paper's Table 1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd
import torch

from pprlib.models.backbones import BackboneConfig
from pprlib.models.ppr import PPRConfig, PPRModel, count_parameters

KINDS = ("popularity", "model")
"""What a method ranks items with: a popularity count, or a :class:`~pprlib.models.ppr.PPRModel`."""

VARIANTS = ("full model", "w/o CL", "w/o prompt aug", "w/o behaviour aug", "shared prompt")
"""The ablation's variants of PPR: the full model and each removed part (paper Fig. 3)."""

VIEWS = ("prompt", "behaviour")

LOSSES = ("bpr", "ce")
"""Tuning losses: ``"bpr"`` (the paper's: one sampled negative per target) or ``"ce"`` (a
softmax over every item, :func:`pprlib.losses.softmax_cross_entropy`)."""

WARM = ("none", "validation", "tuning")
"""What a method reads of the warm users' profiles (:meth:`~pprlib.data.protocol.ColdStartSplit.warm_profiles`):
nothing (the paper), a held-out tenth of them as extra validation users, or that and the other
nine tenths as extra tuning users (each warm user's first clicks, as many as a cold user can have)."""


@dataclass(frozen=True)
class Method:
    """One method, described by its fields (its name is only a label).

    ``kind``: ``"popularity"`` (``popularity`` names the count: ``"warm"`` users' clicks or
    the cold tuning users' ``"cold_first"`` clicks) or ``"model"`` (``ppr`` is the model's
    prompt and profile side). ``mode``: the tuning mode (:data:`~pprlib.models.ppr.MODES`), or
    ``None`` for a method used as it is. ``contrastive`` with ``views``: the prompt-oriented
    contrastive loss and the views it keeps. ``variant``: for a PPR method, which part the
    ablation removes (one of :data:`VARIANTS`). ``loss``: the tuning loss (:data:`LOSSES`).
    ``warm``: what the method reads of the warm users' profiles (:data:`WARM`). ``key``: the
    method's short name in glue keys and file names (``"light"``, ``"full"``, ``"cl_light"``,
    ...). ``label``: one line for tables.
    """

    kind: str
    key: str
    ppr: PPRConfig | None = None
    mode: str | None = None
    popularity: str | None = None
    contrastive: bool = False
    views: tuple[str, ...] = VIEWS
    variant: str | None = None
    loss: str = "bpr"
    warm: str = "none"
    label: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Method.kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "model") != (self.ppr is not None):
            raise ValueError(f"Method {self.key!r}: a model method needs a PPRConfig, a popularity method none")
        if (self.kind == "popularity") != (self.popularity is not None):
            raise ValueError(f"Method {self.key!r}: a popularity method names its count ('warm' or 'cold_first')")
        if self.variant is not None and self.variant not in VARIANTS:
            raise ValueError(f"Method.variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"Method.loss must be one of {LOSSES}, got {self.loss!r}")
        if self.warm not in WARM:
            raise ValueError(f"Method.warm must be one of {WARM}, got {self.warm!r}")
        if self.warm != "none" and not self.tuned:
            raise ValueError(f"Method {self.key!r}: warm users' profiles are read only by a tuned method")
        if not set(self.views) <= set(VIEWS):
            raise ValueError(f"Method.views must be drawn from {VIEWS}, got {self.views!r}")

    @property
    def tuned(self) -> bool:
        """Whether the method is tuned on the cold tuning users (a learning rate applies)."""
        return self.mode is not None


def _ppr(mode: str, variant: str | None, key: str, label: str, views=VIEWS, contrastive: bool = True,
         prompt: str = "personalized", loss: str = "bpr", warm: str = "none", width: int = 1) -> Method:
    return Method("model", key, PPRConfig(prompt=prompt, width=width), mode, contrastive=contrastive, views=views,
                  variant=variant, loss=loss, warm=warm, label=label)


METHODS: dict[str, Method] = {
    "most popular": Method("popularity", "pop", popularity="warm", label="most popular items among warm users"),
    "most popular (cold)": Method("popularity", "popcold", popularity="cold_first",
                                  label="most popular first clicks of the cold tuning users"),
    "pre-train": Method("model", "pretrain", PPRConfig(prompt="none", profile_model=False),
                        label="pre-trained SASRec, no tuning"),
    "profile model": Method("model", "profile", PPRConfig(prompt="none", use_sequence=False), "profile",
                            label="u_a alone"),
    "ft": Method("model", "ft", PPRConfig(prompt="none"), "ft", label="fine-tuning: backbone + items + profile model"),
    "PPR(light)": _ppr("light", "full model", "light", "prompt + profile model tuned"),
    "PPR(full)": _ppr("full", "full model", "full", "everything tuned"),
    "PPR(light) w/o CL": _ppr("light", "w/o CL", "cl_light", "PPR(light) without contrastive learning",
                              contrastive=False),
    "PPR(full) w/o CL": _ppr("full", "w/o CL", "cl_full", "PPR(full) without contrastive learning", contrastive=False),
    "PPR(light) w/o prompt aug": _ppr("light", "w/o prompt aug", "promptaug_light",
                                      "PPR(light), behaviour-based view only", views=("behaviour",)),
    "PPR(light) w/o behaviour aug": _ppr("light", "w/o behaviour aug", "behaviouraug_light",
                                         "PPR(light), prompt-based view only", views=("prompt",)),
    "PPR(full) w/o prompt aug": _ppr("full", "w/o prompt aug", "promptaug_full",
                                     "PPR(full), behaviour-based view only", views=("behaviour",)),
    "PPR(full) w/o behaviour aug": _ppr("full", "w/o behaviour aug", "behaviouraug_full",
                                        "PPR(full), prompt-based view only", views=("prompt",)),
    "shared prompt (light)": _ppr("light", "shared prompt", "personal_light",
                                  "one learned prompt for everyone (prefix-tuning)", prompt="shared"),
    "shared prompt (full)": _ppr("full", "shared prompt", "personal_full",
                                 "one learned prompt for everyone, everything tuned", prompt="shared"),
    # beyond the paper (the mechanism chapter): PPR(light) with one limit removed at a time, all
    # three together (PPR(warm)), and the simplest strong baseline given the same data and loss
    "PPR(light) + warm validation": _ppr("light", None, "light_wval",
                                         "PPR(light), a tenth of the warm users added to validation",
                                         warm="validation"),
    "PPR(light) + softmax": _ppr("light", None, "light_ce", "PPR(light) tuned with a softmax over every item",
                                 loss="ce"),
    "PPR(light), 4x wider": _ppr("light", None, "light_wide",
                                 "PPR(light), prompt generator and profile model with hidden width 4d", width=4),
    "PPR(light) + warm users": _ppr("light", None, "light_warm",
                                    "PPR(light) tuned on the warm users' profiles and first clicks too",
                                    warm="tuning"),
    "PPR(warm)": _ppr("light", None, "warm", "PPR(light): softmax, warm users' profiles in tuning and validation",
                      loss="ce", warm="tuning"),
    "profile model (warm)": Method("model", "profile_warm", PPRConfig(prompt="none", use_sequence=False), "profile",
                                   loss="ce", warm="tuning",
                                   label="u_a alone: softmax, warm users' profiles in tuning and validation"),
}
"""Every method of the book by name (the names the tables show)."""


def method(name: str) -> Method:
    """The method called ``name`` (an error lists the known names)."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose from {list(METHODS)}")
    return METHODS[name]


def key(name: str) -> str:
    """The glue key of method ``name``: ``key("PPR(light)") == "light"``."""
    return method(name).key


def find(mode: str, variant: str = "full model") -> str:
    """The name of the PPR method with tuning ``mode`` and ablation ``variant``."""
    for name, m in METHODS.items():
        if m.mode == mode and m.variant == variant:
            return name
    raise ValueError(f"no PPR method with mode {mode!r} and variant {variant!r}")


def paper_lr(name: str) -> float:
    """The paper's learning rate of method ``name``: 1e-5 where the whole backbone and the
    item embeddings are tuned (ft and every PPR(full) variant), 1e-4 for everything else.
    Read from the method's tuning mode, so a new method cannot be left out."""
    return 1e-5 if method(name).mode in ("ft", "full") else 1e-4


PAPER_LR = {name: paper_lr(name) for name, m in METHODS.items() if m.tuned}
"""The paper's learning rate of every tuned method (:func:`paper_lr`)."""


def parameter_table(n_items: int, field_sizes: list[int], backbone: BackboneConfig | None = None,
                    n_prompt: int = 1) -> pd.DataFrame:
    """Tuned parameters of ft, PPR(light) and PPR(full) (:func:`~pprlib.models.ppr.count_parameters`)
    and their share of fine-tuning's (the paper's Table 1). Built on the ``meta`` device, so
    paper-scale catalogues cost no memory."""
    backbone = backbone or BackboneConfig()
    rows = {}
    with torch.device("meta"):
        for name in ("ft", "PPR(light)", "PPR(full)"):
            m = method(name)
            ppr = dataclasses.replace(m.ppr, n_prompt=n_prompt) if m.ppr.prompt != "none" else m.ppr
            rows[name] = count_parameters(PPRModel(n_items, field_sizes, backbone, ppr), m.mode)
    n_ft = rows["ft"]
    return pd.DataFrame({"tuned parameters": rows, "% of ft": {k: 100 * v / n_ft for k, v in rows.items()}})

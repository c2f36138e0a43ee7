"""Cross-domain recommendation (the paper's Table 7): the source model's view of a user as the
personalized prompt in a domain with other items.

A SASRec pre-trained on the source domain reads each user's source clicks; its user
representation is the user's "profile" in the target domain. The target items are new, so
every method learns target item embeddings on the target users' clicks:

* ``most popular``: the target items most clicked by the warm target users;
* ``SASRec (target)``: a SASRec trained from scratch on the target clicks alone;
* ``ft``: the source-pre-trained Transformer fine-tuned on the target, with the source
  representation as side information through the additive profile model u_a;
* ``PPR(full)``: the same, with the source representation also turned into a prompt by the
  generator and prepended to the target clicks (everything tuned: the paper's setting, as the
  new item embeddings must be learned), with the prompt-oriented contrastive loss.

The source representation is a fixed table (:class:`~pprlib.models.prompt.SourceRepresentation`),
never tuned. Cold users of the target domain (fewer than 10 target clicks) are split into
tuning, validation and test users as in the main protocol; the methods train on the warm
target users and the cold tuning users, and are evaluated on the cold test users: few-shot
instances (some target clicks) and zero-shot instances (none: only the source representation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from pprlib.cache import config_key
from pprlib.comparison import Comparison, collect
from pprlib.config import BookConfig
from pprlib.context import Context
from pprlib.data.batching import SequenceDataset
from pprlib.data.protocol import ColdStartSplit, ProtocolConfig
from pprlib.data.protocol import split as make_split
from pprlib.data.schema import MISSING, InteractionData
from pprlib.data.synthetic import TargetDomainConfig, generate_two_domains
from pprlib.evaluation import evaluate, most_popular, user_vectors
from pprlib.methods import METHODS, Method
from pprlib.models.ppr import ContrastiveConfig, PPRConfig, PPRModel
from pprlib.models.prompt import SourceRepresentation
from pprlib.runs import split_fingerprint, stored_run
from pprlib.train import TrainConfig, fit, precision, resolve_device, seed_everything

CROSS_DOMAIN_METHODS: dict[str, Method] = {
    "most popular": METHODS["most popular"],
    "SASRec (target)": Method("model", "target", PPRConfig(prompt="none", profile_model=False), "pretrain",
                              label="SASRec trained from scratch on the target clicks"),
    "ft": METHODS["ft"],
    "PPR(full)": METHODS["PPR(full)"],
}
"""The rows of the cross-domain table, in the paper's order (plus a popularity baseline)."""

TRANSFERRED = frozenset({"ft", "PPR(full)"})
"""The methods that start from the source Transformer (the others learn the target from scratch)."""

FIELD = "source user"
"""The target data's one profile field: which source user this is (the key of the table)."""


@dataclass(frozen=True)
class CrossDomainSettings:
    """The target domain and how every method is trained on it (one setting for all: each
    method learns new item embeddings, as pre-training does, so they share its loss)."""

    target: TargetDomainConfig = TargetDomainConfig()
    train: TrainConfig = TrainConfig(lr=5e-3, loss="ce", batch_size=256, max_epochs=40, patience=3, min_delta=1e-3)
    contrastive: ContrastiveConfig = ContrastiveConfig(max_anchors=256)  # the paper's in-batch size


def settings_for(config: BookConfig, target: TargetDomainConfig | None = None) -> CrossDomainSettings:
    """The book's cross-domain settings: pre-training's learning rate, epochs, device and determinism."""
    train = dataclasses.replace(CrossDomainSettings.train, lr=config.pretrain_lr, max_epochs=config.pretrain_epochs, device=config.device,
                                deterministic=config.deterministic, progress=config.progress)
    return CrossDomainSettings(target=target or TargetDomainConfig(), train=train)


@dataclass
class CrossDomainTask:
    """The pre-trained source model and the target split whose profile is the source user."""

    context: Context
    target: ColdStartSplit
    vectors: np.ndarray  # (n_target_users + 1, d); row 0 = unknown
    key: str


def with_source_users(target: InteractionData) -> InteractionData:
    """The target data with one profile field, :data:`FIELD`: code ``u + 1`` for target user ``u``."""
    n = target.n_users
    return dataclasses.replace(
        target,
        profile_fields=[FIELD],
        vocab={FIELD: [MISSING, *target.user_ids]},
        profiles=np.arange(1, n + 1, dtype=target.profiles.dtype)[:, None],
        meta={**target.meta, "profile": "the user's source-domain representation"},
    )


def prepare_cross_domain(ctx: Context, settings: CrossDomainSettings | None = None) -> CrossDomainTask:
    """Generate the target domain for the context's (synthetic) source data, read every target
    user's source clicks with the pre-trained model, and split the target users."""
    settings = settings or settings_for(ctx.config)
    if ctx.spec.source != "synthetic":
        raise ValueError("the cross-domain study needs two domains with shared users; the generator makes them "
                         f"(dataset 'synthetic'), but this context's data is {ctx.spec.source!r}")
    source, target = generate_two_domains(ctx.spec.synthetic, settings.target)
    if source.fingerprint() != ctx.split.data.fingerprint():
        raise ValueError("the context's data is not the generator's source domain")
    model = PPRModel(source.n_items, source.field_sizes, ctx.backbone, PPRConfig(prompt="none", profile_model=False))
    model.load_pretrained(ctx.pre.state)
    reps = user_vectors(model, source, target.meta["latent"]["source_users"])  # u_s: no profile side
    vectors = np.vstack([np.zeros((1, reps.shape[1]), dtype=np.float32), reps.astype(np.float32)])
    data = with_source_users(target)
    protocol = ProtocolConfig(seed=ctx.config.seed)
    target = make_split(data, protocol)
    key = config_key("cross-domain", ctx.pre.key, settings.target, split_fingerprint(target))
    return CrossDomainTask(ctx, target, vectors, key)


def model_for(task: CrossDomainTask, name: str) -> tuple[PPRModel, str]:
    """A new model of method ``name`` for the target domain and its tuning mode."""
    m = CROSS_DOMAIN_METHODS[name]
    ppr = m.ppr
    data, ctx = task.target.data, task.context
    encoder = SourceRepresentation(torch.from_numpy(task.vectors)) if ppr.profile_model or ppr.prompt != "none" else None
    model = PPRModel(data.n_items, data.field_sizes, ctx.backbone, ppr, profile_encoder=encoder)
    if name in TRANSFERRED:  # the source Transformer (not its item embeddings: the target items are others)
        state = {k[len("backbone."):]: v for k, v in ctx.pre.state.items() if k.startswith("backbone.")}
        model.backbone.load_state_dict(state)
    return model, m.mode


def run_seed(task: CrossDomainTask, name: str, settings: CrossDomainSettings, seed: int, *,
        use_cache: bool = True) -> dict:
    """Per-instance test metrics of one method and seed on the cold target test users; cached."""
    if name not in CROSS_DOMAIN_METHODS:
        raise ValueError(f"unknown cross-domain method {name!r}; choose from {list(CROSS_DOMAIN_METHODS)}")
    m = CROSS_DOMAIN_METHODS[name]
    key = config_key("cross-domain-run", task.key, name, settings, precision(settings.train), seed)
    sp = task.target

    def compute():
        device = resolve_device(settings.train.device)
        test = sp.instances("test")
        history = pd.DataFrame()
        if m.kind == "popularity":
            scorer = most_popular(sp, m.popularity)
        else:
            seed_everything(seed)
            model, mode = model_for(task, name)
            params = model.configure(mode)
            users = np.concatenate([sp.warm_users, sp.tune_users])
            train = SequenceDataset(sp.data, users, sp.data.lengths[users], model.backbone_cfg.max_len + 1, seed=seed,
                                    clicked=sp.clicked, negatives=settings.train.loss == "bpr")
            has_profile = model.profile_emb is not None
            cfg = dataclasses.replace(settings.train, seed=seed, targets="all" if has_profile else "few")
            val = sp.instances("val") if has_profile else sp.instances("val").few_shot()
            cl = settings.contrastive if m.contrastive else None
            history = fit(model, params, train, sp, val, cfg, cl=cl, desc=f"{name} (target)")
            model.to(device).eval()
            scorer = model.full_sort_predict
            if not has_profile:  # without a profile there is nothing to rank a zero-shot instance by
                test = test.few_shot()
        per = evaluate(scorer, sp, test, device=device)
        per["position"] = test.positions.astype(np.float32)
        return per, history

    return stored_run(key, compute, use_cache)


def compare_cross_domain(task: CrossDomainTask, seeds: list[int], settings: CrossDomainSettings | None = None,
                         methods=tuple(CROSS_DOMAIN_METHODS), log=None) -> Comparison:
    """Every method for every seed (the popularity baseline once: it has no seed), gathered
    by the loop of every comparison (:func:`pprlib.comparison.collect`)."""
    settings = settings or settings_for(task.context.config)

    def one(name: str, seed: int) -> dict:
        return run_seed(task, name, settings, seed if CROSS_DOMAIN_METHODS[name].kind == "model" else 0)

    return collect(one, methods, seeds, log=log)


def domain_table(task: CrossDomainTask) -> pd.DataFrame:
    """Sizes of the two domains and of the target split."""
    src, tgt, sp = task.context.split.data, task.target.data, task.target
    test = sp.instances("test")
    rows = {name: {"users": f"{d.n_users:,}", "items": f"{d.n_items:,}", "clicks": f"{d.n_interactions:,}",
                   "mean clicks per user": f"{d.lengths.mean():.1f}"} for name, d in (("source", src), ("target", tgt))}
    rows["source"].update({"cold users (tune / val / test)": "—", "test instances (few / zero)": "—"})
    rows["target"].update({
        "cold users (tune / val / test)": f"{len(sp.tune_users)} / {len(sp.val_users)} / {len(sp.test_users)}",
        "test instances (few / zero)": f"{len(test.few_shot())} / {len(test.zero_shot())}",
    })
    return pd.DataFrame(rows).T

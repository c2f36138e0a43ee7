"""PPR: a pre-trained sequential backbone with a personalized prompt and a profile model.

For a user with profile x_u and clicks v_1..v_k:

    prompt   P_u = PromptGenerator(x_u)                  (n tokens of size d)
    u_s      = backbone([P_u, v_1..v_k]) at index n + k - 1
    u_a      = ProfileModel(x_u)                          (2-layer MLP)
    u_p      = u_a + u_s,     score(v) = u_p . e_v

The same class is the pre-training model (no prompt, no profile model), the fine-tuning
baseline (no prompt, profile model) and PPR (prompt and profile model); ``configure(mode)``
freezes what a tuning mode does not tune.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from pprlib import augment, losses
from pprlib.models.backbones import BackboneConfig, make_backbone
from pprlib.models.prompt import ProfileEmbedding, PromptGenerator, SharedPrompt, mlp

MODES = ("pretrain", "ft", "light", "full", "profile")
TARGETS = ("few", "zero", "all")


@dataclass(frozen=True)
class PPRConfig:
    """The profile side: which prompt (if any), how many tokens, and the profile model."""

    prompt: Literal["personalized", "shared", "none"] = "personalized"
    n_prompt: int = 1
    profile_model: bool = True
    use_sequence: bool = True  # False: the profile model alone (u_s = 0), a baseline
    # hidden width of the prompt generator and of the profile model, in multiples of d (the
    # paper does not give it; 1 is the book's choice); added later: left out of cache keys at 1
    width: int = field(default=1, metadata={"added": True})

    def __post_init__(self) -> None:
        if self.prompt not in ("personalized", "shared", "none"):
            raise ValueError(f"PPRConfig.prompt must be 'personalized', 'shared' or 'none', got {self.prompt!r}")
        if not isinstance(self.n_prompt, int) or isinstance(self.n_prompt, bool) or self.n_prompt < 1:
            raise ValueError(f"PPRConfig.n_prompt (prompt length) must be an integer >= 1, got {self.n_prompt!r}")
        if not self.use_sequence and not self.profile_model:
            raise ValueError("PPRConfig: without the sequence the profile model is required")
        if not isinstance(self.width, int) or isinstance(self.width, bool) or self.width < 1:
            raise ValueError(f"PPRConfig.width (hidden width in multiples of d) must be an integer >= 1, got {self.width!r}")


@dataclass(frozen=True)
class ContrastiveConfig:
    """Prompt-oriented contrastive learning: L = L_rec + weight * L_CL."""

    weight: float = 0.1  # lambda
    temperature: float = 1.0  # tau
    profile_ratio: float = 0.2  # gamma_1: share of x_u's elements masked (prompt-based view)
    item_ratio: float = 0.2  # gamma_2: share of items masked (behaviour-based view)
    prompt_view: bool = True
    behaviour_view: bool = True
    max_anchors: int | None = None  # None: every target position; n: a random n of them per batch

    def __post_init__(self) -> None:
        if self.max_anchors is not None and (not isinstance(self.max_anchors, int) or self.max_anchors < 2):
            raise ValueError(f"ContrastiveConfig.max_anchors must be None or an integer >= 2, got {self.max_anchors!r}")
        if self.weight < 0:
            raise ValueError(f"ContrastiveConfig.weight (lambda) must be >= 0, got {self.weight!r}")
        if self.temperature <= 0:
            raise ValueError(f"ContrastiveConfig.temperature (tau) must be > 0, got {self.temperature!r}")
        for name in ("profile_ratio", "item_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ContrastiveConfig.{name} must lie in [0, 1], got {value!r}")

    @property
    def active(self) -> bool:
        return self.weight > 0 and (self.prompt_view or self.behaviour_view)


@dataclass(frozen=True)
class SequenceCLConfig:
    """CL4SRec's contrastive pre-training: two views of each sequence, each made by one of
    crop / mask / reorder chosen at random, pulled together with NT-Xent."""

    weight: float = 0.1
    temperature: float = 1.0
    crop_ratio: float = 0.6  # eta: share of the sequence kept by a crop
    mask_ratio: float = 0.3  # gamma: share of items masked
    reorder_ratio: float = 0.3  # beta: share of the sequence shuffled

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"SequenceCLConfig.weight must be >= 0, got {self.weight!r}")
        if self.temperature <= 0:
            raise ValueError(f"SequenceCLConfig.temperature must be > 0, got {self.temperature!r}")
        for name in ("crop_ratio", "mask_ratio", "reorder_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SequenceCLConfig.{name} must lie in [0, 1], got {value!r}")


@dataclass
class ContrastivePlan:
    """What :meth:`PPRModel.contrastive_plan` drew for one batch: the anchors (row and column of
    each target position kept, and its user), the profile elements masked in the prompt-based
    view (``(B, width)`` bool, ``None`` without that view) and the behaviour-based views
    (masked histories, their lengths, and which anchors have one; ``None`` without that view)."""

    rows: torch.Tensor
    cols: torch.Tensor
    groups: torch.Tensor
    profile: torch.Tensor | None
    behaviour: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None


class PPRModel(nn.Module):
    """Backbone + item embeddings, plus (optionally) profile embeddings, prompt and profile model."""

    def __init__(self, n_items: int, field_sizes: list[int], backbone: BackboneConfig | None = None,
                 ppr: PPRConfig | None = None, profile_encoder: nn.Module | None = None):
        """``profile_encoder`` replaces the profile embeddings: any module that maps the
        batch's ``profile`` codes to x_u and has a ``width`` (the cross-domain study passes
        :class:`~pprlib.models.prompt.SourceRepresentation`)."""
        super().__init__()
        self.backbone_cfg = backbone or BackboneConfig()
        self.ppr_cfg = ppr or PPRConfig()
        d = self.backbone_cfg.d
        self.n_items = n_items
        self.mask_token = n_items + 1
        self.item_emb = nn.Embedding(n_items + 2, d, padding_idx=0)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self.backbone = make_backbone(self.backbone_cfg)
        needs_profile = self.ppr_cfg.prompt == "personalized" or self.ppr_cfg.profile_model
        self.profile_emb = (profile_encoder or ProfileEmbedding(field_sizes, d)) if needs_profile else None
        if self.ppr_cfg.prompt == "personalized":
            self.prompt = PromptGenerator(self.profile_emb.width, d, self.ppr_cfg.n_prompt, hidden=self.ppr_cfg.width * d)
        elif self.ppr_cfg.prompt == "shared":
            self.prompt = SharedPrompt(d, self.ppr_cfg.n_prompt)
        else:
            self.prompt = None
        self.profile_model = mlp(self.profile_emb.width, self.ppr_cfg.width * d, d) if self.ppr_cfg.profile_model else None

    # parameter groups -------------------------------------------------------------------------
    def groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role: backbone (with item embeddings), profile embeddings, prompt, profile model."""
        out = {"backbone": list(self.item_emb.parameters()) + list(self.backbone.parameters())}
        for name in ("profile_emb", "prompt", "profile_model"):
            module = getattr(self, name)
            out[name] = list(module.parameters()) if module is not None else []
        return out

    def configure(self, mode: str) -> list[nn.Parameter]:
        """Freeze what ``mode`` does not tune; return the parameters it tunes.

        ``pretrain``/``full``: everything. ``ft``: backbone, items, profile embeddings and
        profile model (the model has no prompt). ``light``: prompt generator, profile
        embeddings and profile model; backbone and item embeddings frozen. ``profile``: the
        profile side only (the profile-model baseline).
        """
        if mode not in MODES:
            raise ValueError(f"unknown tuning mode {mode!r}; choose from {MODES}")
        if mode == "ft" and self.prompt is not None:
            raise ValueError("mode 'ft' is fine-tuning without a prompt; build the model with PPRConfig(prompt='none')")
        frozen = {"light": {"backbone"}, "profile": {"backbone"}}.get(mode, set())
        tuned = []
        for group, params in self.groups().items():
            for p in params:
                p.requires_grad_(group not in frozen)
                if group not in frozen:
                    tuned.append(p)
        return tuned

    def load_pretrained(self, state: dict[str, torch.Tensor]) -> None:
        """Load the backbone and item embeddings of a pre-trained model (other parts stay new)."""
        own = {k: v for k, v in state.items() if k.startswith(("item_emb.", "backbone."))}
        mine = self.state_dict()
        wrong = {k: (tuple(v.shape), tuple(mine[k].shape)) for k, v in own.items()
                 if k in mine and tuple(v.shape) != tuple(mine[k].shape)}
        if wrong:
            raise ValueError("pre-trained state does not fit this model (different n_items or d?): "
                             + ", ".join(f"{k} {a} vs {b} here" for k, (a, b) in wrong.items()))
        missing, unexpected = self.load_state_dict(own, strict=False)
        wanted = [k for k in missing if k.startswith(("item_emb.", "backbone."))]
        if wanted or unexpected:
            raise ValueError(f"pre-trained state does not fit this model: missing {wanted}, unexpected {unexpected}")

    def backbone_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.state_dict().items() if k.startswith(("item_emb.", "backbone."))}

    # representations --------------------------------------------------------------------------
    @property
    def n_prefix(self) -> int:
        return self.ppr_cfg.n_prompt if self.prompt is not None else 0

    def profile_vector(self, profile: torch.Tensor) -> torch.Tensor | None:
        return self.profile_emb(profile) if self.profile_emb is not None else None

    def _states(self, items: torch.Tensor, x_u: torch.Tensor | None) -> torch.Tensor:
        prefix = self.prompt(x_u) if self.prompt is not None else None
        return self.backbone(self.item_emb(items), prefix)

    def sequence_states(self, items: torch.Tensor, x_u: torch.Tensor | None) -> torch.Tensor:
        """u_s after 0, 1, ..., W-1 clicks of each window: (B, W, d). Position 0 is the prompt
        (zero-shot); without a prompt it is zero."""
        b, w = items.shape
        if not self.ppr_cfg.use_sequence:
            return self.item_emb.weight.new_zeros(b, w, self.backbone_cfg.d)
        states = self._states(items[:, :-1], x_u)  # the last click is only ever a target
        n = self.n_prefix
        if n > 0:
            return states[:, n - 1 : n - 1 + w]
        return torch.cat([states.new_zeros(b, 1, states.shape[-1]), states[:, : w - 1]], dim=1)

    def user_state(self, history: torch.Tensor, lengths: torch.Tensor, x_u: torch.Tensor | None) -> torch.Tensor:
        """u_s of each instance: the state at index n + k - 1 (zero when n = k = 0)."""
        b = len(history)
        if not self.ppr_cfg.use_sequence:
            return self.item_emb.weight.new_zeros(b, self.backbone_cfg.d)
        states = self._states(history, x_u)
        if states.shape[1] == 0:  # no prompt and an empty (width 0) history: nothing to read
            return states.new_zeros(b, states.shape[-1])
        index = (self.n_prefix + lengths - 1).clamp(min=0)
        out = states[torch.arange(b, device=states.device), index]
        return out.masked_fill(((self.n_prefix + lengths) == 0)[:, None], 0.0)

    def user_representation(self, batch: dict) -> torch.Tensor:
        """u_p = u_a + u_s for an instance batch (history, lengths, profile)."""
        x_u = self.profile_vector(batch["profile"])
        u = self.user_state(batch["history"], batch["lengths"], x_u)
        if self.profile_model is not None:
            u = u + self.profile_model(x_u)
        return u

    # RecBole-style interface -----------------------------------------------------------------------
    def full_sort_predict(self, batch: dict) -> torch.Tensor:
        """Scores of every item (B, n_items + 1); column 0 is padding."""
        u = self.user_representation(batch)
        return u @ self.item_emb.weight[: self.n_items + 1].T

    def predict(self, batch: dict) -> torch.Tensor:
        """Scores of the candidate lists (B, C)."""
        u = self.user_representation(batch)
        return (u[:, None, :] * self.item_emb(batch["candidates"])).sum(-1)

    def target_mask(self, batch: dict, targets: str) -> torch.Tensor:
        """Which positions of a sequence batch are training targets."""
        if targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {targets!r}")
        items, lengths = batch["items"], batch["lengths"]
        cols = torch.arange(items.shape[1], device=items.device)[None, :]
        valid = cols < lengths[:, None]
        zero = (cols == 0) & batch["first"][:, None]
        if targets == "few" or (self.prompt is None and self.profile_model is None):
            return valid & (cols > 0)
        if targets == "zero":
            return valid & zero
        return valid & ((cols > 0) | zero)

    def forward(self, batch: dict, *args, **kwargs):
        """The training loss (:meth:`calculate_loss`): what DistributedDataParallel calls."""
        return self.calculate_loss(batch, *args, **kwargs)

    def calculate_loss(self, batch: dict, targets: str = "few", cl: ContrastiveConfig | None = None,
                       generator: torch.Generator | None = None, loss: str = "bpr",
                       seq_cl: SequenceCLConfig | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Recommendation loss over the target positions of a sequence batch (+ lambda * InfoNCE
        when ``cl``; + CL4SRec's sequence loss when ``seq_cl``): :meth:`ppr_loss` of
        :meth:`loss_inputs`. Returns the loss and its parts as floats."""
        x = self.loss_inputs(batch, targets, cl, generator)
        total, rec, l_cl = self.ppr_loss(x, cl, loss)
        parts = {"rec": float(rec.detach())}
        if bool(x.get("cl_on", False)):
            parts["cl"] = float(l_cl.detach())
        if seq_cl is not None and seq_cl.weight > 0:
            l_seq = self._sequence_contrastive(batch, seq_cl, generator)
            total = total + seq_cl.weight * l_seq
            parts["seq_cl"] = float(l_seq.detach())
        return total, parts

    def _active(self, cl: ContrastiveConfig | None) -> ContrastiveConfig | None:
        """``cl`` when it adds a contrastive loss to this model (a prompt to contrast), else None."""
        return cl if cl is not None and cl.active and self.prompt is not None else None

    def loss_inputs(self, batch: dict, targets: str = "few", cl: ContrastiveConfig | None = None,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """What :meth:`ppr_loss` reads of one sequence batch, as tensors only: the batch cut
        after its last target column (:func:`trim_to_targets`), the target positions
        (``t_rows``, ``t_cols``) and, with an active ``cl``, every draw of the contrastive loss
        (:meth:`contrastive_plan`, from ``generator``; none when the batch has no target):
        anchors and their users, the masked profile elements, the behaviour-based views.
        Runs trained together (:mod:`pprlib.batched`) pad and stack these tensors."""
        mask = self.target_mask(batch, targets)
        tail = trim_to_targets(batch, mask)  # e.g. zero-shot targets: the prompt alone
        mask = mask[:, : tail["items"].shape[1]]
        t_rows, t_cols = mask.nonzero(as_tuple=True)  # the order of u[mask]
        x = {"items": tail["items"], "profile": batch["profile"], "t_rows": t_rows, "t_cols": t_cols}
        if "negatives" in tail:
            x["negatives"] = tail["negatives"]
        cl = self._active(cl)
        if cl is None:
            return x
        cl_on = bool(len(t_rows))
        x["cl_on"] = torch.tensor(cl_on, device=mask.device)
        empty = mask.new_zeros(0, dtype=torch.long)
        plan = self.contrastive_plan(tail, mask, cl, generator) if cl_on else None  # no target: no draw
        x.update(rows=plan.rows if plan else empty, cols=plan.cols if plan else empty,
                 groups=plan.groups if plan else empty)
        if cl.prompt_view and self.profile_emb is not None and isinstance(self.prompt, PromptGenerator):
            x["profile_mask"] = plan.profile if plan else mask.new_zeros(len(mask), self.profile_emb.width)
        if plan and plan.behaviour is not None:
            history, lengths, has_input = plan.behaviour
            index = has_input.nonzero(as_tuple=True)[0]
        else:
            history, lengths, index = empty[:, None], empty, empty
        x.update(b_history=history, b_lengths=lengths, b_index=index)
        return x

    def ppr_loss(self, x: dict[str, torch.Tensor], cl: ContrastiveConfig | None = None,
                 loss: str = "bpr") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """L = L_rec + lambda * L_CL over the tensors of :meth:`loss_inputs`: (L, L_rec, L_CL).

        L_rec is ``bpr`` with the batch's sampled negatives (the paper's) or ``ce``, the softmax
        cross-entropy over every item (as in RecBole). L_CL is InfoNCE between each anchor's u_s
        and its prompt-based view (x_u partly masked) and its behaviour-based view (clicks partly
        masked). Written once for one run and for runs trained together: there ``x`` is one run's
        share of a padded stack (``vmap``), and its ``t_valid``, ``valid`` and ``b_valid`` masks
        say which target positions, anchors and behaviour views are padding."""
        if loss not in ("bpr", "ce"):
            raise ValueError(f"loss must be 'bpr' or 'ce', got {loss!r}")
        items = x["items"]
        x_u = self.profile_vector(x["profile"])
        u_s = self.sequence_states(items, x_u)
        u = u_s + self.profile_model(x_u)[:, None, :] if self.profile_model is not None else u_s
        rows, cols = x["t_rows"], x["t_cols"]
        u_sel = u[rows, cols]
        if loss == "bpr":
            pos = (u_sel * self.item_emb(items[rows, cols])).sum(-1)
            neg = (u_sel * self.item_emb(x["negatives"][rows, cols])).sum(-1)
            rec = losses.bpr(pos, neg, x.get("t_valid"))
        else:
            rec = losses.softmax_cross_entropy(u_sel, self.item_emb.weight[1 : self.n_items + 1], items[rows, cols] - 1)
        cl = self._active(cl)
        padded = "t_valid" in x
        if cl is None or not (padded or bool(x["cl_on"])):
            return rec, rec, rec.new_zeros(())
        anchor = u_s[x["rows"], x["cols"]]
        total = anchor.new_zeros(())
        if "profile_mask" in x:
            view = self.sequence_states(items, x_u.masked_fill(x["profile_mask"], 0.0))[x["rows"], x["cols"]]
            total = total + losses.info_nce(anchor, view, cl.temperature, x["groups"], x.get("valid"))
        index = x["b_index"]
        if index.shape[0] > 0:
            x_view = x_u[x["rows"][index]] if x_u is not None else None
            view = self.user_state(x["b_history"], x["b_lengths"], x_view)
            total = total + losses.info_nce(anchor[index], view, cl.temperature, x["groups"][index], x.get("b_valid"))
        if padded:  # a run of the stack without targets in this step adds no contrastive loss
            total = torch.where(x["cl_on"], total, torch.zeros_like(total))
        return rec + cl.weight * total, rec, total

    def _sequence_contrastive(self, batch, cfg: SequenceCLConfig, generator) -> torch.Tensor:
        """CL4SRec: NT-Xent (2N - 2 negatives per view) between the representations of two
        augmented views of each window's input (its clicks but the last, only ever a target)."""
        items, lengths = batch["items"][:, :-1], (batch["lengths"] - 1).clamp(min=0)
        x_u = self.profile_vector(batch["profile"]) if self.prompt is not None else None
        reps = []
        for _ in range(2):
            choice = torch.randint(3, (len(items),), generator=generator).to(items.device)
            cropped, crop_len = augment.crop_items(items, lengths, cfg.crop_ratio, generator)
            masked = augment.mask_items(items, lengths, cfg.mask_ratio, self.mask_token, generator)
            reordered = augment.reorder_items(items, lengths, cfg.reorder_ratio, generator)
            view = torch.where((choice == 0)[:, None], cropped,
                               torch.where((choice == 1)[:, None], masked, reordered))
            view_len = torch.where(choice == 0, crop_len, lengths)
            reps.append(self.user_state(view, view_len, x_u))
        return losses.nt_xent(reps[0], reps[1], cfg.temperature, groups=batch["user"])

    def contrastive_plan(self, batch: dict, mask: torch.Tensor, cl: ContrastiveConfig,
                         generator: torch.Generator | None = None) -> ContrastivePlan:
        """Every random and structural choice of a batch's contrastive loss, drawn from
        ``generator`` before any model computation (the anchors, the masked profile elements of
        the prompt-based view, the behaviour-based views), so that runs trained together
        (:mod:`pprlib.batched`) draw exactly what each would draw alone."""
        items = batch["items"]
        groups = batch["user"][:, None].expand_as(items)[mask]
        rows, cols = mask.nonzero(as_tuple=True)  # the anchors in the order of u_s[mask]
        if cl.max_anchors is not None and len(groups) > cl.max_anchors:  # InfoNCE costs O(anchors^2)
            keep = torch.randperm(len(groups), generator=generator)[: cl.max_anchors].to(groups.device)
            groups, rows, cols = groups[keep], rows[keep], cols[keep]
        profile = None
        if cl.prompt_view and self.profile_emb is not None and isinstance(self.prompt, PromptGenerator):
            profile = augment.profile_mask(len(items), self.profile_emb.width, cl.profile_ratio, generator, items.device)
        behaviour = None
        if cl.behaviour_view and int((cols > 0).sum()) >= 2:  # anchors with input; InfoNCE needs a negative
            history, lengths = augment.behaviour_views(items, rows, cols, cl.item_ratio, self.mask_token, generator)
            behaviour = (history, lengths, cols > 0)
        return ContrastivePlan(rows, cols, groups, profile, behaviour)

    def behaviour_view(self, items: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                       x_u: torch.Tensor | None, ratio: float, generator: torch.Generator | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """u_s of the behaviour-based views (:func:`pprlib.augment.behaviour_views`) of the
        anchors ``(rows, cols)`` of a sequence batch that have input, and which anchors they are
        (zero-shot anchors, ``cols == 0``, have no behaviour view)."""
        has_input = cols > 0
        history, lengths = augment.behaviour_views(items, rows, cols, ratio, self.mask_token, generator)
        x_view = x_u[rows[has_input]] if x_u is not None else None
        return self.user_state(history, lengths, x_view), has_input


def trim_to_targets(batch: dict, mask: torch.Tensor) -> dict:
    """A sequence batch without the columns after its last target column (``mask``: the
    targets of :meth:`PPRModel.target_mask`): the backbone is causal and a target column's
    state reads only the columns up to it, so no loss term reads those columns and dropping
    them changes no state a loss uses. Zero-shot tuning (targets at column 0 only) then runs
    the backbone over the prompt alone instead of every cold click. ``items`` and
    ``negatives`` are cut; the other entries are per row and kept."""
    hit = mask.any(0).nonzero()
    width = int(hit.max()) + 1 if len(hit) else mask.shape[1]
    if width == mask.shape[1]:
        return batch
    return {**batch, **{k: batch[k][:, :width] for k in ("items", "negatives") if k in batch}}


def count_parameters(model: PPRModel, mode: str) -> int:
    """Number of parameters ``mode`` tunes (the model is left configured for ``mode``)."""
    return sum(p.numel() for p in model.configure(mode))

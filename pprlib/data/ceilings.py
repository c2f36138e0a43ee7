"""Ceilings of the synthetic world: the best any model could score, with and without profiles.

The generator (:mod:`pprlib.data.synthetic`) knows each user's latent state: a mix ``theta``
over item groups and a transition style ``k``. Its next-click law is

    P(i | theta, k, prev) = s * succ_k(prev, i) + (1 - s) * theta[group(i)] * w(i)

with ``s`` the sequential strength, ``succ_k(prev, i)`` the share of ``prev``'s successors in
style ``k`` that are ``i``, and ``w(i)`` the item's popularity within its group; a user's
first click has no ``prev`` and follows the static part alone. From this follow three kinds
of scorer (functions ``batch -> scores`` for :func:`pprlib.evaluation.evaluate`):

* the **oracle** scores every item with the true law given the user's true latent state;
* the **Bayes** scorers score with the posterior predictive law given what a model observes:
  the clicks before the target and (or not) the profile. The posterior over the style is
  exact (a sum over the styles); the group mix is continuous, so its posterior is approximated
  by importance sampling: ``n_samples`` draws of the latent state from the prior, weighted by
  the likelihood of the clicks (the same draws for every user and every scorer, so that
  differences between scorers are not sampling noise). Which prior:

  - ``"profile"``: the prior given the observed profile (a missing field is drawn from its
    population frequencies; missing values are missing at random in the generator);
  - ``"none"``: the population prior, how often each group mix and style occur among all
    users (not a uniform prior: a model that ignores profiles still learns the population's
    habits); its clicks still tell about the user's profile through the group mix;
  - ``"preference"``: the profile informs only the group mix (the style from the population);
  - ``"style"``: the profile informs only the style (the group mix from the population).

``profile - none`` is the value of the profile, the most any prompt can add; ``preference -
none`` and ``style - none`` split it into what flows through the static preference and through
the transition style (the two parts need not add up: the remainder is their interaction).

The scorers condition on the batch's ``history`` window: for a cold user (fewer clicks than
``max_history``) that is every earlier click; when a window is cut, its first click is read
as if it began the sequence (an approximation that only warm instances can meet).

This module is the generator's maths only: :mod:`pprlib.ceilings` runs the scorers on a split's
instances, caches their metrics and turns them into the values of the profile and their tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from pprlib.data.schema import InteractionData

PRIORS = ("profile", "none", "preference", "style")
"""What the Bayes scorers may know of the profile (see the module's text)."""


@dataclass
class World:
    """The generator's parameters (items indexed from 0, i.e. item code - 1).

    ``preference_effects[j]`` ``(n_values_j, n_groups)`` and ``style_effects[j]``
    ``(n_values_j, n_styles)`` are the directions of each value of profile field ``j``;
    ``field_marginals[j]`` the population frequencies of its values. ``theta`` and ``style``
    hold each user's true latent state (needed by the oracle only)."""

    item_group: np.ndarray
    item_weight: np.ndarray
    successors: np.ndarray
    sequential_strength: float
    profile_style_signal: float
    profile_signal: float
    preference_sharpness: float
    field_marginals: list[np.ndarray]
    preference_effects: list[np.ndarray]
    style_effects: list[np.ndarray]
    theta: np.ndarray | None = None
    style: np.ndarray | None = None
    _law: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.item_group = np.asarray(self.item_group, dtype=np.int64)
        self.item_weight = np.asarray(self.item_weight, dtype=np.float64)
        self.successors = np.asarray(self.successors, dtype=np.int64)
        if self.successors.ndim != 3 or self.successors.shape[1] != self.n_items:
            raise ValueError(f"World.successors must have shape (n_styles, n_items={self.n_items}, "
                             f"n_successors), got {self.successors.shape}")
        n_fields = len(self.field_marginals)
        if not (len(self.preference_effects) == len(self.style_effects) == n_fields):
            raise ValueError("World: field_marginals, preference_effects and style_effects must have one entry "
                             f"per profile field, got {n_fields}, {len(self.preference_effects)}, "
                             f"{len(self.style_effects)}")
        for j, (p, a, b) in enumerate(zip(self.field_marginals, self.preference_effects, self.style_effects,
                                          strict=True)):
            if not (len(p) == len(a) == len(b)) or a.shape[1] != self.n_groups or b.shape[1] != self.n_styles:
                raise ValueError(f"World: field {j} has {len(p)} marginal values, effects of shape {a.shape} "
                                 f"and {b.shape}; expected (n_values, {self.n_groups}) and (n_values, "
                                 f"{self.n_styles})")

    @property
    def n_items(self) -> int:
        return len(self.item_group)

    @property
    def n_groups(self) -> int:
        return int(self.item_group.max()) + 1

    @property
    def n_styles(self) -> int:
        return self.successors.shape[0]

    @property
    def successor_law(self) -> np.ndarray:
        """``(n_styles, n_items, n_items)``: ``[k, p, i]`` = share of ``p``'s successors in style ``k`` that are ``i``."""
        if self._law is None:
            k, n, s = self.successors.shape
            law = np.zeros((k, n, n))
            rows = np.repeat(np.arange(k * n), s)
            np.add.at(law.reshape(k * n, n), (rows, self.successors.reshape(-1)), 1.0 / s)
            self._law = law
        return self._law

    # profile -> latent state -----------------------------------------------------------------
    def _field_sum(self, effects: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
        return sum(table[codes[:, j]] for j, table in enumerate(effects)) / np.sqrt(len(effects))

    def group_mix(self, codes: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """``theta`` ``(n, n_groups)`` of true profile codes ``(n, n_fields)`` (0-based) and the
        individual part ``noise`` ``(n, n_groups)`` (standard normal), as the generator makes it."""
        s = self.profile_signal
        logits = self.preference_sharpness * (np.sqrt(s) * self._field_sum(self.preference_effects, codes)
                                              + np.sqrt(1 - s) * noise)
        theta = np.exp(logits - logits.max(axis=1, keepdims=True))
        return theta / theta.sum(axis=1, keepdims=True)

    def style_prior(self, codes: np.ndarray) -> np.ndarray:
        """``P(style | true profile codes)`` ``(n, n_styles)``: the profile's style with probability
        ``profile_style_signal``, otherwise a uniformly random one."""
        profile_style = self._field_sum(self.style_effects, codes).argmax(axis=1)
        p = np.full((len(codes), self.n_styles), (1 - self.profile_style_signal) / self.n_styles)
        p[np.arange(len(codes)), profile_style] += self.profile_style_signal
        return p

    # the next-click law ----------------------------------------------------------------------
    def static_law(self, theta: np.ndarray) -> np.ndarray:
        """``(n, n_items)``: the click law without a previous item (a user's first click)."""
        return theta[:, self.item_group] * self.item_weight

    def next_click_law(self, theta: np.ndarray, style_probs: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """``(n, n_items)``: the next-click law given the group mix ``theta`` ``(n, G)``, the style
        probabilities ``(n, K)`` (one-hot for a known style) and the previous item ``prev``
        (0-based, ``-1`` for none: a first click)."""
        prev = np.asarray(prev, dtype=np.int64)
        law = self.static_law(theta)
        has = prev >= 0
        if has.any():
            seq = np.einsum("nk,kni->ni", style_probs[has], self.successor_law[:, prev[has], :])
            law[has] = self.sequential_strength * seq + (1 - self.sequential_strength) * law[has]
        return law

    def log_likelihood(self, theta: np.ndarray, clicks: np.ndarray) -> np.ndarray:
        """``(M, K)``: log P(clicks | theta_m, style k) of one click sequence (0-based items, the
        first read as a first click) for ``M`` group mixes ``theta`` ``(M, G)`` and every style."""
        clicks = np.asarray(clicks, dtype=np.int64)
        if len(clicks) == 0:
            return np.zeros((len(theta), self.n_styles))
        static = theta[:, self.item_group[clicks]] * self.item_weight[clicks]  # (M, n)
        with np.errstate(divide="ignore"):  # an impossible click: log-likelihood -inf
            out = np.log(static[:, :1]).repeat(self.n_styles, axis=1)
            if len(clicks) > 1:
                s = self.sequential_strength
                seq = self.successor_law[:, clicks[:-1], clicks[1:]]  # (K, n - 1)
                out = out + np.log(s * seq[None, :, :] + (1 - s) * static[:, None, 1:]).sum(axis=2)
        return out


def world_of(data: InteractionData) -> World:
    """The :class:`World` of data made by :func:`pprlib.data.synthetic.generate`."""
    latent = data.meta.get("latent") if isinstance(data.meta, dict) else None
    cfg = data.meta.get("generator") if isinstance(data.meta, dict) else None
    needed = ("field_marginals", "preference_effects", "style_effects", "popularity", "theta", "style")
    if latent is None or cfg is None or isinstance(cfg, tuple) or any(k not in latent for k in needed):
        raise ValueError(f"{data.name}: ceilings need data made by pprlib.data.synthetic.generate (its latent "
                         "state and parameters in meta['latent']); real data has no known next-click law")
    group = np.asarray(latent["item_group"])
    popularity = np.asarray(latent["popularity"], dtype=np.float64)
    totals = np.bincount(group, weights=popularity)
    return World(
        item_group=group, item_weight=popularity / totals[group], successors=np.asarray(latent["successors"]) - 1,
        sequential_strength=cfg.sequential_strength, profile_style_signal=cfg.profile_style_signal,
        profile_signal=cfg.profile_signal, preference_sharpness=cfg.preference_sharpness,
        field_marginals=list(latent["field_marginals"]), preference_effects=list(latent["preference_effects"]),
        style_effects=list(latent["style_effects"]), theta=np.asarray(latent["theta"]),
        style=np.asarray(latent["style"]),
    )


# ------------------------------------------------------------------------------------------
# scorers


def _scores(law: np.ndarray, device) -> torch.Tensor:
    """Probabilities over items (n, n_items) -> scores (n, n_items + 1), padding column at -inf."""
    out = torch.full((law.shape[0], law.shape[1] + 1), -torch.inf, dtype=torch.float64)
    out[:, 1:] = torch.from_numpy(law)
    return out.to(device)


def _rows(batch: dict):
    """(history windows as 0-based items, their lengths) of a batch, on the CPU."""
    history = batch["history"].cpu().numpy() - 1
    lengths = batch["lengths"].cpu().numpy()
    return history, lengths


def oracle_scorer(world: World):
    """Scores every item with the true next-click law given the user's true latent state
    (``batch["user"]`` indexes ``world.theta`` and ``world.style``)."""
    if world.theta is None or world.style is None:
        raise ValueError("the oracle needs the users' true latent state (World.theta and World.style)")

    def scorer(batch: dict) -> torch.Tensor:
        users = batch["user"].cpu().numpy()
        history, lengths = _rows(batch)
        prev = np.where(lengths > 0, history[np.arange(len(users)), np.maximum(lengths - 1, 0)], -1)
        onehot = np.eye(world.n_styles)[world.style[users]]
        return _scores(world.next_click_law(world.theta[users], onehot, prev), batch["target"].device)

    return scorer


@dataclass
class Particles:
    """Draws of the latent state from the prior: ``noise`` ``(M, G)`` (the individual part of
    the group mix) and ``codes`` ``(M, n_fields)`` (true profile codes from the population;
    stratified: each field's values occur in their population proportions, up to rounding,
    independently across fields)."""

    noise: np.ndarray
    codes: np.ndarray

    @classmethod
    def draw(cls, world: World, n_samples: int, seed: int = 0) -> Particles:
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((n_samples, world.n_groups))
        codes = np.stack([rng.permutation(np.repeat(np.arange(len(p)), _counts(p, n_samples)))
                          for p in world.field_marginals], axis=1)
        return cls(noise, codes)


def _counts(p: np.ndarray, n: int) -> np.ndarray:
    """``n`` split in proportions ``p`` (largest remainders): each field's values occur among
    the draws as often as in the population, up to rounding (stratified sampling)."""
    exact = np.asarray(p, dtype=np.float64) / np.sum(p) * n
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact)[: n - counts.sum()]] += 1
    return counts


class BayesScorer:
    """The posterior predictive next-click law given the clicks in the window and what
    ``prior`` (one of :data:`PRIORS`) lets it know of the profile; styles summed exactly, the
    group mix by importance sampling over ``particles``. Call it on a batch; after a call,
    ``ess`` holds the effective sample size of each row's weights (``n_samples`` for a first
    click, less the more the clicks tell)."""

    def __init__(self, world: World, prior: str = "profile", particles: Particles | None = None,
                 n_samples: int = 4096, seed: int = 0):
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.world, self.prior = world, prior
        self.particles = particles or Particles.draw(world, n_samples, seed)
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._first: dict[tuple, tuple[np.ndarray, np.ndarray, float]] = {}
        self.ess = np.zeros(0)

    @property
    def n_samples(self) -> int:
        return len(self.particles.noise)

    def prior_of(self, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Group mixes ``(M, G)`` and style priors ``(M, K)`` of the draws for one observed
        profile (codes with 0 = missing)."""
        key = tuple(int(c) for c in observed) if self.prior != "none" else ()
        if key not in self._cache:
            if len(self._cache) >= 64:  # bounded memory: drop the oldest entry
                self._cache.pop(next(iter(self._cache)))
            population = self.particles.codes
            observed = np.asarray(observed, dtype=np.int64)
            given = np.where(observed[None, :] > 0, observed[None, :] - 1, population)  # missing: from population
            mix_codes = given if self.prior in ("profile", "preference") else population
            style_codes = given if self.prior in ("profile", "style") else population
            self._cache[key] = (self.world.group_mix(mix_codes, self.particles.noise),
                                self.world.style_prior(style_codes))
        return self._cache[key]

    def posterior(self, observed: np.ndarray, clicks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(posterior mean group mix ``(G,)``, posterior style probabilities ``(K,)``, effective
        sample size) given one observed profile and the clicks so far (0-based items)."""
        if len(clicks) == 0:  # a first click: the posterior is the prior, one per observed profile
            key = tuple(int(c) for c in observed) if self.prior != "none" else ()
            if key not in self._first:
                if len(self._first) >= 4096:  # bounded memory: drop the oldest entry
                    self._first.pop(next(iter(self._first)))
                self._first[key] = self._posterior(observed, clicks)
            return self._first[key]
        return self._posterior(observed, clicks)

    def _posterior(self, observed: np.ndarray, clicks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        theta, style_prior = self.prior_of(observed)
        with np.errstate(divide="ignore"):  # a style the prior or the clicks rule out: weight 0
            log_w = np.log(style_prior) + self.world.log_likelihood(theta, clicks)
        w = np.exp(log_w - log_w.max())
        w /= w.sum()
        per_draw = w.sum(axis=1)
        return per_draw @ theta, w.sum(axis=0), float(1.0 / np.square(per_draw).sum())

    def __call__(self, batch: dict) -> torch.Tensor:
        history, lengths = _rows(batch)
        profiles = batch["profile"].cpu().numpy()
        n = len(lengths)
        theta = np.empty((n, self.world.n_groups))
        styles = np.empty((n, self.world.n_styles))
        self.ess = np.empty(n)
        for r in range(n):
            theta[r], styles[r], self.ess[r] = self.posterior(profiles[r], history[r, : lengths[r]])
        prev = np.where(lengths > 0, history[np.arange(n), np.maximum(lengths - 1, 0)], -1)
        return _scores(self.world.next_click_law(theta, styles, prev), batch["target"].device)


SCORERS = ("oracle", *(f"Bayes ({p})" for p in PRIORS))
"""The names of the ceiling scorers, in the order :func:`ceiling_scorers` returns them."""


def scorer_names(names=None) -> tuple[str, ...]:
    """``names`` (any order; ``None``: all of :data:`SCORERS`) checked and put in the order of
    :data:`SCORERS`."""
    if names is None:
        return SCORERS
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in SCORERS]
    if unknown or not names:
        raise ValueError(f"unknown ceiling scorer(s) {unknown}; choose from {list(SCORERS)}" if unknown
                         else f"names must name at least one ceiling scorer of {list(SCORERS)}")
    return tuple(n for n in SCORERS if n in names)


def ceiling_scorers(world: World, n_samples: int = 4096, seed: int = 0, names=None) -> dict:
    """The oracle and the four Bayes scorers (:data:`PRIORS`), sharing one set of draws (with
    ``names``: only those of :data:`SCORERS`; the draws, and so the scores, are the same)."""
    names = scorer_names(names)
    particles = Particles.draw(world, n_samples, seed)
    scorers = {"oracle": oracle_scorer(world)} if world.theta is not None and "oracle" in names else {}
    scorers.update({f"Bayes ({p})": BayesScorer(world, p, particles) for p in PRIORS if f"Bayes ({p})" in names})
    return scorers

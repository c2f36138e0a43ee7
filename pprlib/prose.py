"""The sentences the book generates from its numbers: every sentence a chapter computes rather
than states, from the tables, effects and verdicts of the modules that compute them (which
compute numbers only).

* the claims' verdicts in words: each chapter's conclusion (:func:`conclude`), whether the
  designs that test one claim agree (:func:`agreement`) and the book's findings (:func:`findings`),
  from :mod:`pprlib.reproduction`;
* the mechanism chapter: what limits the captured share (:func:`limits_sentence`,
  :func:`limits_summary`), the dose-response study (:func:`dose_sentence`) and the chapter's answer
  (:func:`conclusion`), from :mod:`pprlib.mechanism`;
* beyond the paper: the limits removed one at a time (:func:`interventions_sentence`), PPR(warm)'s
  goals (:func:`goal_text`), its verdicts against the other methods (:func:`versus_sentence`) and
  the introduction's finding (:func:`finding`), from :mod:`pprlib.variant`;
* the few-shot limits of the sequence model (:func:`sequence_model_sentence`,
  :func:`sequence_model_summary`), from :mod:`pprlib.sequence_model`.
"""

from __future__ import annotations

import math

import pandas as pd

from pprlib import evidence
from pprlib.mechanism import share, vanishes
from pprlib.reproduction import (
    CLAIMS,
    DATASETS,
    INCONCLUSIVE,
    MIXED,
    NOT_COMPARABLE,
    NOT_FOUND,
    OPPOSITE,
    REPRODUCED,
    STRONGER,
    SUMMARY_VERDICTS,
    WEAKER,
    Claim,
    claim_for,
    outcome,
    scored,
    simpler_method,
)
from pprlib.sequence_model import MOVE
from pprlib.summary import dataset_labels
from pprlib.variant import GOALS, INTERVENTIONS, MEASURES, REFERENCE, VARIANT, meets_goal

# ------------------------------------------------------------------------------------------
# the claims' verdicts


MEANING = {
    REPRODUCED: "holds, at a size compatible with the paper's",
    STRONGER: "holds, and is larger than the paper's effect",
    WEAKER: "holds, but smaller than the paper's effect",
    NOT_FOUND: "is not found: an effect of the paper's size is ruled out",
    OPPOSITE: "goes the other way",
    INCONCLUSIVE: "cannot be decided by this run",
    MIXED: "is mixed in the paper itself (shown, not scored)",
    NOT_COMPARABLE: "could not be compared on this data",
}
"""What each verdict says of a claim, in the words of a chapter's conclusion."""


def conclude(chapter: str, values: dict, claims: list[Claim] | None = None) -> str:
    """A chapter's conclusion computed from its verdicts: one sentence counting the verdicts of
    the chapter's claims, then one per claim with our effect, its interval, the paper's effect
    in our units and what the verdict means. ``values`` holds the values the chapter glues
    (effects as :meth:`~pprlib.evidence.Effect.as_dict`), by glue key."""
    chosen = [c for c in (claims or CLAIMS) if c.chapter == chapter]
    if not chosen:
        raise ValueError(f"no claim of the summary belongs to chapter {chapter!r}")
    outcomes = [(c, outcome(c, {chapter: values})) for c in chosen]
    counts = pd.Series([o.verdict for _, o in outcomes]).value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in SUMMARY_VERDICTS if v in counts)
    n = len(outcomes)
    lines = [f"On this data, {'the claim' if n == 1 else f'of the {n} claims'} this chapter tests: {tally}."]
    for claim, o in outcomes:
        sentence = f"“{claim.claim}” {MEANING[o.verdict]}"
        if o.effect is not None:
            paper_side = f" against the paper's {o.delta:+.4f}" if math.isfinite(o.delta) else ""
            sentence += f": ours {o.ours}{paper_side} ({o.evidence})"
        elif o.verdict != NOT_COMPARABLE:
            sentence += f": {o.ours} ({o.evidence})"
        simpler = simpler_method(claim, {chapter: values})
        if simpler:  # the simplest strong baseline, beside the claim
            sentence += f"; a simpler method does better than the reference: {simpler}"
        lines.append(sentence + ".")
    return " ".join(lines)


def agreement(paper_key: str, effects: dict[str, evidence.Effect]) -> str:
    """The claim judged against the paper's effect ``paper_key``
    (:func:`~pprlib.reproduction.claim_for`) in every design of the book that tests it
    (``effects``: a label naming the design -> its effect), each judged as the summary judges it
    (the claim's :class:`~pprlib.reproduction.Judged`): a sentence saying whether the verdicts
    agree and, where they do not, why (how far apart the estimates are against their standard
    errors)."""
    if not effects:
        raise ValueError("agreement needs at least one design")
    found = claim_for(paper_key)
    judged, claim, unit = found.check, found.claim, found.check.unit
    outcomes = {label: judged.judge(e) for label, e in effects.items()}
    verdicts = list(dict.fromkeys(o.verdict for o in outcomes.values()))
    if len(verdicts) == 1:
        return (f"“{claim}” gets one verdict, {verdicts[0]}, in every design of the book that tests it: "
                + "; ".join(f"{label}, {o.ours}" for label, o in outcomes.items()) + ".")
    text = (f"“{claim}” gets different verdicts in the designs of the book that test it: "
            + "; ".join(f"{label}, {o.verdict}: {o.ours}" for label, o in outcomes.items()) + ".")
    estimates = [e.estimate for e in effects.values()]
    gap, se = max(estimates) - min(estimates), max(e.se for e in effects.values())
    if gap <= 2 * se:
        return text + (f" The estimates differ by {gap:.4f} {unit}, no more than twice the larger standard error "
                       f"({2 * se:.4f}): the designs agree within their uncertainty, and the verdicts differ only "
                       "because the intervals fall on either side of a verdict's boundary.")
    return text + (f" The estimates differ by {gap:.4f} {unit}, more than twice the larger standard error "
                   f"({2 * se:.4f}): the designs do not measure the same thing on this data.")


def _tally(verdicts) -> str:
    counts = pd.Series(list(verdicts), dtype=object).value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in SUMMARY_VERDICTS if v in counts) or "none"


def _claims_by_verdict(table: pd.DataFrame, verdict: str) -> list[str]:
    return table.loc[table.verdict == verdict, "claim"].tolist()


def findings(table: pd.DataFrame, across: pd.DataFrame | None = None,
             ablation: pd.DataFrame | None = None) -> list[str]:
    """The book's findings in five sentences, computed from the summary's tables
    (:func:`~pprlib.reproduction.evaluate_claims` and :func:`~pprlib.reproduction.across_data`):
    the verdict counts, the few- and zero-shot claims, what the studies found, and the main claims on real data;
    a sixth for the ablation's second dataset given :func:`~pprlib.reproduction.ablation_across`."""
    scored_rows = table[table.verdict.map(scored)]
    main = table.set_index("claim")

    def main_claims(prefix: str) -> str:
        rows = main[main.index.str.startswith(prefix)]
        return "; ".join(f"{claim.removeprefix(prefix).strip()}: {row.verdict} ({row.ours})"
                         for claim, row in rows.iterrows()) or "not run"

    sentences = [
        f"Of the paper's {len(table)} claims that this book tests, {len(scored_rows)} are scored on the generated "
        f"data: {_tally(scored_rows.verdict)}"
        + (f"; on {(table.verdict == MIXED).sum()} more the paper itself is mixed." if (table.verdict == MIXED).any()
           else "."),
        f"Few-shot, against fine-tuning: {main_claims('Few-shot:')}.",
        f"Zero-shot, against fine-tuning: {main_claims('Zero-shot:')}.",
    ]
    studies = table[~table.claim.str.startswith(("Few-shot:", "Zero-shot:"))]
    parts = [f"{v}: {'; '.join(_claims_by_verdict(studies, v))}" for v in (REPRODUCED, STRONGER, WEAKER, OPPOSITE, NOT_FOUND)
             if _claims_by_verdict(studies, v)]
    sentences.append("In the paper's other studies, " + (" — ".join(parts) if parts else "no claim is decided")
                     + f" (and {(studies.verdict == INCONCLUSIVE).sum()} inconclusive).")
    label = dataset_labels(across)[-1] if across is not None else DATASETS[1]
    real = across[(label, "verdict")] if across is not None else pd.Series(dtype=object)
    if len(real) and (real != NOT_COMPARABLE).any():
        sentences.append(f"On real data ({label}), the {len(real)} main claims are {_tally(real)}.")
    else:
        sentences.append("The main claims were not run on real data in this build.")
    if ablation is not None:
        label = dataset_labels(ablation)[-1]
        verdicts = ablation[(label, "verdict")]
        if (verdicts != NOT_COMPARABLE).any():
            decided = "; ".join(f"{claim}: {v}" for claim, v in zip(ablation[("", "claim")], verdicts, strict=True)
                                if v not in (INCONCLUSIVE, NOT_COMPARABLE))
            sentences.append(f"On the ablation's second dataset ({label}), its {len(verdicts)} claims are "
                             f"{_tally(verdicts)}" + (f": {decided}." if decided else "."))
        else:
            sentences.append(f"The ablation's second dataset ({label}) was not run in this build.")
    return sentences


def holm_sentence(table: pd.DataFrame, level: float = 0.05) -> str:
    """Which claims of :func:`~pprlib.reproduction.evaluate_claims`' ``table`` survive Holm's
    adjustment over the scored claims: those whose Holm-adjusted p stays below ``level``, i.e.
    whose effect differs from zero when the claims are read together (a family-wise error of
    ``level``), named with their verdicts; the others' verdicts rest on each claim's own interval."""
    family = table[table["p (Holm)"].notna()]
    if family.empty:
        return "No claim is scored on this run, so Holm's adjustment has nothing to adjust."
    kept = family[family["p (Holm)"] < level]
    head = (f"Read together, with Holm's adjustment over the {len(family)} scored claims (a family-wise error of "
            f"{100 * level:g} %), ")
    if kept.empty:
        return head + ("no claim keeps an effect different from zero: every verdict above rests on one claim's "
                       "interval, read alone.")
    named = "; ".join(f"“{row.claim}” ({row.verdict}, p (Holm) {evidence.format_p(row['p (Holm)'], equals=True)})"
                      for _, row in kept.iterrows())
    return (head + f"{len(kept)} keep an effect different from zero: {named}. The other {len(family) - len(kept)} "
            "scored verdicts rest on one claim's interval, read alone.")


# ------------------------------------------------------------------------------------------
# the mechanism chapter


def limits_sentence(curve: pd.DataFrame, stop: pd.DataFrame, lrs: pd.DataFrame, method: str = "PPR(light)",
                    budget: int | None = None) -> str:
    """What the limits measurements say, in words: how ``method``'s captured share of the value
    of the profile moves with its tuning users (rows of :func:`~pprlib.mechanism.tuning_user_curve`),
    whether the tuning budget binds (:func:`~pprlib.mechanism.stopping`) and what choosing the
    learning rate on validation cost (:func:`~pprlib.mechanism.lr_table`)."""
    rows = curve[curve.method == method].sort_values("tuning users")
    small, large = rows.iloc[0], rows.iloc[-1]
    grows = small.hi < large.lo
    moved = ("grows detectably with the number of tuning users" if grows else
             "rises with the number of tuning users, but the two intervals overlap" if large.gain > small.gain else
             "does not rise with the number of tuning users")
    users = (f"Tuned on {int(small['tuning users'])} cold users, {method} gains {small.gain:+.4f} "
             f"[{small.lo:+.4f}, {small.hi:+.4f}] over ft in zero-shot ({_pct(small['gain / value'])} of the value of "
             f"the profile); on {int(large['tuning users'])}, {large.gain:+.4f} [{large.lo:+.4f}, {large.hi:+.4f}] "
             f"({_pct(large['gain / value'])}): its gain {moved}.")
    at_budget = float(stop["best at the budget"].max()) if len(stop) else math.nan
    cap = f" of at most {budget}" if budget else ""
    budget_text = (f"The tuning budget does not bind: the runs were best at a median epoch between "
                   f"{stop['median best epoch'].min():g} and {stop['median best epoch'].max():g}{cap}, and "
                   + ("no run was still improving at the last epoch." if at_budget == 0 else
                      f"at most {_pct(at_budget)} of any method's runs were still improving at the last epoch.")
                   if at_budget <= 0.25 else
                   f"The tuning budget may bind: up to {_pct(at_budget)} of a method's runs were still improving "
                   f"at the last epoch{cap}.")
    regret = lrs.groupby("method").regret.first()
    lr_text = ("Validation chose, for every method, the rate of the grid that is also best on the test instances."
               if regret.max() <= 0 else
               f"Choosing the learning rate on validation cost at most {regret.max():.4f} NDCG@10 against the best "
               f"rate of the grid on the test instances ({regret.idxmax()}).")
    return " ".join((users, budget_text, lr_text))


def limits_summary(curve: pd.DataFrame, stop: pd.DataFrame, lrs: pd.DataFrame, method: str = "PPR(light)") -> str:
    """:func:`limits_sentence` in one clause-list sentence, for the chapter's conclusion."""
    rows = curve[curve.method == method].sort_values("tuning users")
    small, large = rows.iloc[0], rows.iloc[-1]
    grows = small.hi < large.lo
    binds = len(stop) and float(stop["best at the budget"].max()) > 0.25
    regret = float(lrs.regret.max())
    users = (f"{_pct(small['gain / value'])} to {_pct(large['gain / value'])} of the value of the profile from "
             f"{int(small['tuning users'])} to {int(large['tuning users'])} cold tuning users")
    return (f"Of what could hold {method} back in zero-shot, "
            + (f"more cold tuning users raise its gain ({users})" if grows else
               f"more cold tuning users raise its gain ({users}), but not detectably" if large.gain > small.gain else
               f"more cold tuning users did not raise its gain ({users})")
            + ("; the tuning budget binds" if binds else "; the tuning budget does not bind")
            + (f"; the learning rate chosen on validation cost at most {regret:.4f}." if regret > 0
               else "; validation chose the best learning rate of the grid."))


def _pct(x) -> str:
    return "an undefined share" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"


def dose_sentence(frame: pd.DataFrame, methods=("PPR(light)", "PPR(full)"), metric: str = "NDCG@10") -> str:
    """What the dose study found, in words (rows of :func:`~pprlib.mechanism.dose_frame`): whether
    each gain and the value of the profile vanish where both signals are 0
    (:func:`~pprlib.mechanism.vanishes`), where each method's gain over ft rises above zero (its
    interval's lower end above 0), and how far the value of the profile reaches at the highest level."""
    rows = frame[frame.metric == metric]
    names = [*methods, "value of the profile"]
    label = {"value of the profile": "the value of the profile"}
    gone = [label.get(n, n) for n in names if vanishes(rows, n, metric)]
    kept = [label.get(n, n) for n in names if label.get(n, n) not in gone]
    text = (f"Where both signals are 0, the intervals of {_join(gone)} cover 0 on every shot kind"
            if gone else "Where both signals are 0, no interval covers 0 on every shot kind")
    text += f"; those of {_join(kept)} do not. " if kept else ". "
    for m in methods:
        above = rows[(rows.what == m) & (rows.lo > 0)].sort_values(["signal", "shots", "level"])
        where = [f"{r.signal} = {r.level:g} ({r.shots})" for r in above.itertuples()]
        text += (f"{m}'s gain over ft is above zero at {_join(where)}. " if where else
                 f"{m}'s gain over ft is above zero at no level of either signal. ")
    top = rows[(rows.what == "value of the profile") & (rows.level == rows.level.max())]
    reach = [f"{r.estimate:+.4f} ({r.shots}, {r.signal})" for r in top.itertuples()]
    return text + f"At the highest level the value of the profile reaches {_join(reach)}."


def _join(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else "nothing"


def conclusion(values: dict) -> str:
    """The chapter's answer in words, from its glued numbers: ``values`` holds the value of the
    profile (``value_few``, ``value_zero``: Bayes with minus without the profile, sampled
    NDCG@10), the captured shares of PPR(light) and PPR(full) over ft (``share_light_few``, ...),
    the same values on full ranking (``value_full_few``, ``value_full_zero``), the style part
    (``style_few``, ``style_full_few``) and the dose study's largest gain of PPR(light) over ft
    with its interval (``dose_best``: dict with ``signal``, ``level``, ``estimate``, ``lo``,
    ``hi``, ``value``) and, optionally, the sentence of :func:`limits_summary` (``limits``) and
    what removing the limits one at a time and together found (``variant``: the sentences of
    :func:`interventions_sentence` and :func:`goal_text`) and what holds the sequence model in
    few-shot (``sequence``: :func:`sequence_model_summary`)."""
    def pct(x):
        return "undefined" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"

    limits = "".join(f" {values[k]}" for k in ("limits", "variant", "sequence") if values.get(k))
    shares = [values[f"share_{v}_{k}"] for v in ("light", "full") for k in ("few", "zero")]
    top = max((x for x in shares if x is not None and math.isfinite(x)), default=math.nan)
    captured = ("at most " + pct(top)) if math.isfinite(top) else "an undefined share"
    best = values["dose_best"]
    found = best["lo"] > 0
    dose = (f"in the dose study PPR(light)'s largest gain over ft, {best['estimate']:+.4f} "
            f"[{best['lo']:+.4f}, {best['hi']:+.4f}] at {best['signal']} = {best['level']:g} (ceiling "
            f"{best['value']:+.4f}), is " + ("above zero" if found else "not distinguishable from zero"))
    return (f"A profile can pay off only as far as the data lets it: on this world knowing the profile "
            f"is worth at most {values['value_few']:+.4f} sampled NDCG@10 for few-shot instances and "
            f"{values['value_zero']:+.4f} for first clicks ({values['value_full_few']:+.4f} and "
            f"{values['value_full_zero']:+.4f} on full ranking). The style channel, where a prompt inside the "
            f"attention could beat an additive profile model, is worth {values['style_few']:+.4f} sampled and "
            f"{values['style_full_few']:+.4f} full-ranking NDCG@10 in few-shot (the sampled protocol shows "
            f"{pct(share(values['style_few'], values['style_full_few']))} of it). PPR(light) captures {pct(values['share_light_few'])} (few-shot) and "
            f"{pct(values['share_light_zero'])} (zero-shot) of the value of the profile beyond ft, PPR(full) "
            f"{pct(values['share_full_few'])} and {pct(values['share_full_zero'])}; {dose}. Personalized "
            f"prompts can pay off only where the profile tells what the clicks do not and the metric can see "
            f"it; as the paper tunes them, here they capture {captured} of what the profile is worth." + limits)


# ------------------------------------------------------------------------------------------
# beyond the paper: the limits removed and PPR(warm)


def interventions_sentence(table: pd.DataFrame, shots: str) -> str:
    """What the table of limits says, in words, for ``shots`` ("zero-shot" or "few-shot"): each
    limit's recovered share with its interval, which are detectable, and what the variant and the
    profile model given the same data capture."""
    rows = table.set_index("method")
    parts = []
    for limit, name in INTERVENTIONS.items():
        if name in (REFERENCE, VARIANT) or name not in rows.index:
            continue
        r = rows.loc[name]
        found = r["recovered lo"] > 0
        lost = r["recovered hi"] < 0
        short = limit.split(" (")[0] if limit.startswith("optimization") else limit.split(":")[0]
        parts.append(f"{short} {r['recovered over PPR(light)']} "
                     + ("(detectable)" if found else "(a loss)" if lost else "(not distinguishable from zero)"))
    text = f"In {shots}, removing one limit at a time recovers, as shares of the value of the profile: " \
           + "; ".join(parts) + "."
    if VARIANT in rows.index:
        v = rows.loc[VARIANT]
        text += (f" Removing all three (PPR(warm)) captures {v['captured (share of the value)']} of the value, "
                 f"against {rows.loc[REFERENCE, 'captured (share of the value)']} for PPR(light)")
        if "profile model (warm)" in rows.index:
            text += (f"; the profile model given the same data, loss and validation captures "
                     f"{rows.loc['profile model (warm)', 'captured (share of the value)']}")
        text += "."
    return text


def goal_text(table: pd.DataFrame, shots: str, measure: str = "captured", goal: tuple[float, float] | None = None
              ) -> str:
    """Whether the variant meets its goal in ``shots`` on ``measure`` (:data:`~pprlib.variant.GOALS`:
    the share of the value it captures, or its gain over ft as a share of the value): at least the
    target, with the interval's lower end above the floor (``goal`` overrides the pair;
    :func:`~pprlib.variant.meets_goal`)."""
    rows = table.set_index("method")
    if VARIANT not in rows.index:
        return f"PPR(warm) did not run in {shots}."
    target, floor = goal or GOALS[measure]
    shown = MEASURES[measure][1]
    v = rows.loc[VARIANT]
    what = "captures" if measure == "captured" else "gains over ft"
    text = (f"In {shots} PPR(warm) {what} {v[shown]} of the value of the profile: "
            + ("it meets" if meets_goal(v, measure, target, floor) else "it misses")
            + f" the goal of at least {100 * target:.0f} % with the interval's lower end above {100 * floor:.0f} %.")
    if measure == "over ft" and v["over ft lo"] > 1:
        text += (" That gain exceeds the value of the profile, so not all of it comes from the profile: the softmax "
                 "loss also makes better use of the clicks.")
    return text


def versus_sentence(table: pd.DataFrame, shots: str, variant: str = VARIANT) -> str:
    """The rows of :func:`~pprlib.variant.versus_table` in words."""
    if not len(table):
        return f"{variant} did not run in {shots}."
    parts = [f"{r['verdict']} than {r['against']} ({r['effect']})" if r["verdict"] in ("better", "worse") else
             f"{r['verdict']} against {r['against']} ({r['effect']})" for _, r in table.iterrows()]
    return f"In {shots}, {variant} is " + "; ".join(parts) + "."


def finding(zero: pd.DataFrame, few: pd.DataFrame) -> str:
    """The introduction's finding beyond the paper, from the tables of limits in zero-shot
    (sampled NDCG@10: the share of the value of the profile each method captures) and few-shot
    (full ranking: the gain over ft as a share of the value, since every model sits below the
    profile-blind scorer there), and whether PPR(warm) meets each goal
    (:data:`~pprlib.variant.GOALS`)."""
    def cell(table, name, column):
        rows = table.set_index("method")
        return rows.loc[name, column] if name in rows.index else "—"

    captured, over = MEASURES["captured"][1], MEASURES["over ft"][1]
    goals = []
    for table, shots, measure in ((zero, "zero-shot", "captured"), (few, "few-shot", "over ft")):
        if VARIANT in set(table.method):
            met = meets_goal(table.set_index("method").loc[VARIANT], measure)
            goals.append(f"{'meets' if met else 'misses'} its {shots} goal ({100 * GOALS[measure][0]:.0f} % of the "
                         f"value {'captured' if measure == 'captured' else 'as a gain over ft'})")
    return ("Beyond the paper: in zero-shot, the paper's PPR(light) captures "
            f"{cell(zero, REFERENCE, captured)} of the value of the profile (Bayes with minus without it, above the "
            f"profile-blind Bayes scorer); PPR(warm), PPR(light) with three measured limits removed (a softmax loss, "
            f"the warm users' profiles in tuning, a larger validation set), captures {cell(zero, VARIANT, captured)}, "
            f"and the profile model given the same data {cell(zero, 'profile model (warm)', captured)}. In few-shot "
            f"(full ranking) PPR(warm) gains {cell(few, VARIANT, over)} of the value over ft (PPR(light): "
            f"{cell(few, REFERENCE, over)}){_beyond_value(few)}. PPR(warm) " + " and ".join(goals) + ".")


def _beyond_value(table: pd.DataFrame) -> str:
    """A clause where PPR(warm)'s gain over ft is surely larger than the value of the profile."""
    rows = table.set_index("method")
    if VARIANT in rows.index and rows.loc[VARIANT, "over ft lo"] > 1:
        return ", more than the profile is worth: part of it is a better use of the clicks"
    return ""


def _yardstick(rows: pd.DataFrame) -> float:
    """How far the control rows (another pre-training seed) move ft: the largest absolute estimate."""
    control = rows[rows["control"]]
    return float(control["move"].abs().max()) if len(control) else 0.0


def _moved(r, yardstick: float) -> str:
    """One change's move in words: narrows or widens the gap (by its share of it), and whether by
    more than the control moved, or not distinguishably from zero."""
    if r["move lo"] <= 0 <= r["move hi"]:
        return "not distinguishable from zero"
    way = "narrows" if r["move lo"] > 0 else "widens"
    beyond = r["move lo"] > yardstick if way == "narrows" else r["move hi"] < -yardstick
    return (f"{way} it by {100 * abs(r['closed']):.0f} % of the gap, "
            + ("more than a new pre-training alone moves it" if beyond else "no more than a new pre-training alone moves it"))


def sequence_model_sentence(table: pd.DataFrame, what: str) -> str:
    """What the few-shot table of the sequence model's limits
    (:func:`pprlib.sequence_model.gap_table`) says for ``what`` (e.g. "sampled NDCG@10"): the
    gap of ft to the profile-blind scorer on the book's backbone, and for each change what it
    moves, as an effect and a share of the gap, judged against zero and against the control (a
    change is told apart from a new pre-training only if its interval clears the control's
    estimate)."""
    rows = table.set_index("change")
    book, yardstick = rows.iloc[0], _yardstick(rows)
    parts = [f"{name}, {r[MOVE]}: {_moved(r, yardstick)}" for name, r in rows.iloc[1:].iterrows() if not r["control"]]
    text = (f"On the book's backbone, ft scores {book['below the profile-blind scorer']} {what} against the "
            f"profile-blind Bayes scorer in few-shot. Changing one thing about the sequence model at a time: "
            + "; ".join(parts) + ".")
    control = rows[rows["control"]]
    if len(control):
        text += (f" The control, the same backbone pre-trained with another seed, moves it "
                 f"{control.iloc[0][MOVE]}: the yardstick for what a pre-training's own randomness does.")
    return text


def sequence_model_summary(table: pd.DataFrame, what: str) -> str:
    """One sentence for the chapter's conclusion from the table of the sequence model's limits
    (:func:`pprlib.sequence_model.gap_table`; ``what``: its metric in words): ft's few-shot gap to
    the profile-blind scorer, the change that narrows it most (if one narrows it detectably) and
    the change that moves it most, each with its interval and judged against the control."""
    rows = table.set_index("change")
    book, others, yardstick = rows.iloc[0], rows.iloc[1:], _yardstick(rows)
    changes = others[~others["control"]]
    text = f"In few-shot ft scores {book['below the profile-blind scorer']} {what} against the profile-blind scorer"
    if not len(changes):
        return text + "."
    narrowing = changes[changes["move lo"] > 0]
    if len(narrowing):
        best = narrowing["move"].idxmax()
        text += f"; the change \u201c{best}\u201d narrows it most, {narrowing.loc[best, MOVE]} ({_moved(narrowing.loc[best], yardstick)})"
    else:
        text += "; no change to the sequence model narrows it detectably"
    largest = changes["move"].abs().idxmax()
    if not len(narrowing) or largest != narrowing["move"].idxmax():
        text += f"; the change \u201c{largest}\u201d moves it most, {changes.loc[largest, MOVE]} ({_moved(changes.loc[largest], yardstick)})"
    return text + "."

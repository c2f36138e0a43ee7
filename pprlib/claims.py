"""One claim, one number, one verdict: what a chapter glues for a claim of the paper, and the
check that the book says the same thing about it on every page.

A claim is named by its key in :data:`pprlib.paper.EFFECTS` (``"few_light"``: few-shot,
PPR(light) beats ft); on another dataset than the generated one the key takes the dataset's
prefix (``"ml_few_light"``: the same claim on MovieLens). :func:`glue_effect` glues a claim's
evidence under keys derived from the claim alone (:func:`pprlib.reproduction.glue_key`), with the
verdict computed once, as the summary computes it (:class:`pprlib.reproduction.Judged`); the summary
(:func:`pprlib.reproduction.evaluate_claims`) reads the same ``ev_`` key back.
:func:`inconsistencies` reads every executed chapter and lists each claim that has two
effects or two verdicts anywhere in the book.
"""

from __future__ import annotations

import math

from pprlib import evidence, paper, reproduction


def judged(claim: str, effect: evidence.Effect) -> reproduction.Outcome:
    """The outcome of ``effect`` for ``claim`` (a key of :data:`pprlib.paper.EFFECTS`), as the
    summary judges it (the claim's :class:`~pprlib.reproduction.Judged`, its unit included)."""
    return reproduction.claim_for(claim).check.judge(effect)


def effect_values(name: str, effect: evidence.Effect, dataset: str = "", digits: int = 4) -> dict[str, object]:
    """The values :func:`glue_effect` glues, under :func:`~pprlib.reproduction.glue_key` of each
    field of :data:`~pprlib.reproduction.FIELDS`: the effect (text with ``digits`` decimals),
    and where ``name`` is a claim of the paper (a key of :data:`pprlib.paper.EFFECTS`) its δ and
    verdict, as the summary gives them; no δ and no verdict where the paper makes no such claim."""
    values = {"ev": effect.as_dict(), "effect": effect.text(digits), "diff": effect.estimate, "p": effect.p,
              "ptext": evidence.format_p(effect.p, equals=True), "mde": effect.mde}
    if name in paper.EFFECTS:
        outcome = judged(name, effect)
        values |= {"delta": outcome.delta, "verdict": outcome.verdict}
    return {reproduction.glue_key(field, name, dataset): value for field, value in values.items()}


def glue_effect(name: str, effect: evidence.Effect, dataset: str = "", digits: int = 4) -> str | None:
    """Glue :func:`effect_values` (in an executing notebook, with ``myst_nb.glue``): the one call
    by which a chapter glues an effect. Returns the verdict (None where the paper makes no claim)."""
    from myst_nb import glue

    values = effect_values(name, effect, dataset, digits)
    for glued_name, value in values.items():
        glue(glued_name, value, display=False)
    return values.get(reproduction.glue_key("verdict", name, dataset))


def _claims_glued(glued: dict) -> dict[tuple[str, str], dict]:
    """(dataset, claim) -> {field: value} of the claim keys among a chapter's glued values."""
    found: dict[tuple[str, str], dict] = {}
    for name, value in glued.items():
        field, _, rest = name.partition("_")
        if field not in reproduction.FIELDS:
            continue
        for dataset in sorted(reproduction.DATASET_PREFIXES, key=len, reverse=True):
            claim = rest.removeprefix(dataset) if rest.startswith(dataset) else None
            if claim in paper.EFFECTS:
                found.setdefault((dataset, claim), {})[field] = value
                break
    return found


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same(a.get(k), b.get(k)) for k in ("estimate", "lo", "hi"))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def inconsistencies(glued_by_chapter: dict[str, dict]) -> list[str]:
    """Every place where the book says two things about one claim: the same field of a claim
    (its effect, its verdict, ...) glued with different values by two chapters, a verdict that
    is not the one its own effect gets (:func:`judged`), and a summary row (the ``summary``
    chapter's ``summary_verdicts``) whose verdict differs from the chapters'. Empty when the
    book is consistent."""
    problems: list[str] = []
    seen: dict[tuple[str, str, str], tuple[str, object]] = {}
    for chapter, glued in sorted(glued_by_chapter.items()):
        for (dataset, claim), fields in sorted(_claims_glued(glued).items()):
            where = f"{dataset}{claim}"
            if isinstance(fields.get("ev"), dict) and "verdict" in fields:
                own = judged(claim, evidence.Effect.from_dict(fields["ev"])).verdict
                if fields["verdict"] != own:
                    problems.append(f"{chapter}: claim {where!r} glued as {fields['verdict']!r}, "
                                    f"but its own effect is judged {own!r}")
            for field, value in fields.items():
                first = seen.setdefault((dataset, claim, field), (chapter, value))
                if not _same(first[1], value):
                    problems.append(f"claim {where!r}, {field}: {first[0]} says {_show(first[1])}, "
                                    f"{chapter} says {_show(value)}")
    summary = glued_by_chapter.get("summary", {}).get("summary_verdicts")
    if summary is not None:
        table = reproduction.evaluate_claims({k: v for k, v in glued_by_chapter.items() if k != "summary"})
        if len(summary) != len(table):
            problems.append(f"summary: {len(summary)} verdicts glued for {len(table)} claims")
        for claim, row_verdict, glued_verdict in zip(reproduction.CLAIMS, table.verdict, summary, strict=False):
            if row_verdict != glued_verdict:
                problems.append(f"summary: {claim.claim!r} shown as {glued_verdict!r}, the chapters give {row_verdict!r}")
            check = claim.check
            if isinstance(check, reproduction.Judged):
                chapter_verdict = seen.get(("", check.paper_key, "verdict"))
                if chapter_verdict is not None and chapter_verdict[1] != glued_verdict:
                    problems.append(f"summary: {claim.claim!r} shown as {glued_verdict!r}, "
                                    f"{chapter_verdict[0]} says {chapter_verdict[1]!r}")
    return problems


def _show(value) -> str:
    if isinstance(value, dict) and "estimate" in value:
        return f"{value['estimate']:+.4f} [{value['lo']:+.4f}, {value['hi']:+.4f}]"
    return repr(value)

"""Mutation testing of pprlib's core, as a measurement (``make mutants``; see README.md here).

``python quality/mutation.py run --label after`` mutates the core functions listed in
:data:`SCOPE` with mutmut (configured in pyproject.toml: which files, which fast test files),
runs the tests that cover each mutant, and writes the score per module to
``quality/mutation-<label>.csv``. ``python quality/mutation.py score --label after`` only
recomputes the table from the results mutmut left in ``mutants/``.

Score = killed / (killed + survived + not covered), where the survivors listed in
``quality/equivalent.csv`` (a mutant that no test can tell apart from the original, each with
one line of why) are left out, and so are mutants that only change a ``raise`` statement or a
``warnings.warn`` call (how an error is worded, not what is computed; counted apart as
"error message"). Timeouts count as killed, as mutmut counts them.
"""

from __future__ import annotations

import argparse
import ast
import csv
import difflib
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

# module -> mutmut name patterns of its behaviour functions. Argument checks and error messages
# (__post_init__, _check_*) are left out: thousands of string mutants that measure wording.
SCOPE: dict[str, list[str]] = {
    "metrics": ["pprlib.metrics.x_rank_of_positive__*", "pprlib.metrics.x_rank_full__*",
                "pprlib.metrics.x_metrics_from_ranks__*", "pprlib.metrics.x_sampled_metrics__*",
                "pprlib.metrics.x_full_ranking_metrics__*", "pprlib.metrics.x_exclusion_mask__*"],
    # evaluate() and user_vectors() carry @torch.no_grad, which mutmut does not mutate
    "evaluation": ["pprlib.evaluation.x_most_popular__*", "pprlib.evaluation.x_summary_frame__*"],
    "losses": ["pprlib.losses.*"],
    "train": ["pprlib.train.x__fit__*", "pprlib.train.x_validate__*", "pprlib.train.x_make_optimizer__*"],
    "models": [f"pprlib.models.ppr.xǁPPRModelǁ{name}__*" for name in
               ("calculate_loss", "target_mask", "sequence_states", "user_state", "user_representation",
                "full_sort_predict", "predict", "behaviour_view")],
    "data/protocol": ["pprlib.data.protocol.x_split__*", "pprlib.data.protocol.x__user_instances__*",
                      "pprlib.data.protocol.xǁInstancesǁ*", "pprlib.data.protocol.x__add_candidates__*",
                      "pprlib.data.protocol.x_simulate_cold_users__*"],
    "augment": ["pprlib.augment.x_mask_items__*", "pprlib.augment.x_crop_items__*",
                "pprlib.augment.x_reorder_items__*", "pprlib.augment.x_mask_profile_vectors__*",
                "pprlib.augment.x_noisy_profiles__*", "pprlib.augment.x__random_subset__*", "pprlib.augment.x_behaviour_views__*"],
    "comparison/verdict": ["pprlib.comparison.xǁComparisonǁ*", "pprlib.comparison.x_verdict__*",
                           "pprlib.runs.x_choose_lr__*",
                           "pprlib.reproduction.x_evaluate_claims__*", "pprlib.reproduction.x_across_data__*",
                           "pprlib.reproduction.x__number__*"],
    "evidence": ["pprlib.evidence.x_*", "pprlib.evidence.xǁEffectǁ*"],
}

KILLED = {1, 3, 36, -24, 37}  # test failure, pytest internal error, timeouts, type check
SURVIVED = {0}
NOT_COVERED = {5, 33}  # no test runs the mutated function


def module_of(name: str) -> str | None:
    for module, patterns in SCOPE.items():
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return module
    return None


class MutantSource:
    """The mutated and original source of mutmut's trampolined functions, to tell which
    statements a mutant changed."""

    def __init__(self, root: Path):
        self.root, self.trees = root, {}

    def functions(self, module_path: Path) -> dict[str, tuple[ast.AST, list[str]]]:
        if module_path not in self.trees:
            text = module_path.read_text()
            lines = text.splitlines()
            self.trees[module_path] = {node.name: (node, lines[node.lineno - 1 : node.end_lineno])
                                       for node in ast.walk(ast.parse(text))
                                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        return self.trees[module_path]

    def change(self, module_path: Path, name: str) -> str:
        """The lines a mutant changed, as the mutant has them (stripped, joined by " / "): what an
        entry of equivalent.csv was judged on, so that an entry whose number now names another
        mutant (the code changed and mutmut renumbered) is noticed."""
        short = name.rsplit(".", 1)[-1]
        funcs = self.functions(module_path)
        orig_name = re.sub(r"__mutmut_\d+$", "__mutmut_orig", short)
        if short not in funcs or orig_name not in funcs:
            return ""
        orig = [line.replace(orig_name, short).strip() for line in funcs[orig_name][1]]
        mutated = [line.strip() for line in funcs[short][1]]
        return " / ".join(line[2:] for line in difflib.ndiff(orig, mutated) if line.startswith("+ "))

    def message_only(self, module_path: Path, name: str) -> bool:
        """True when every line the mutant changes lies in a ``raise`` statement or a
        ``warnings.warn`` call: the mutant changes how an error is reported, not what is computed."""
        short = name.rsplit(".", 1)[-1]
        funcs = self.functions(module_path)
        orig_name = re.sub(r"__mutmut_\d+$", "__mutmut_orig", short)
        if short not in funcs or orig_name not in funcs:
            return False
        orig, orig_lines = funcs[orig_name]
        _, mut_lines = funcs[short]
        if len(orig_lines) != len(mut_lines):
            return False
        changed = {i for i, (a, b) in enumerate(zip(orig_lines, mut_lines, strict=True))
                   if a.replace(orig_name, short) != b and i > 0}
        spans = set()
        for node in ast.walk(orig):
            warn = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "warn")
            if isinstance(node, ast.Raise) or warn:
                spans.update(range(node.lineno - orig.lineno, node.end_lineno - orig.lineno + 1))
        return bool(changed) and changed <= spans


def equivalent() -> dict[str, tuple[str, str]]:
    """mutant -> (the change it was judged on, why it is equivalent), from equivalent.csv."""
    path = HERE / "equivalent.csv"
    if not path.exists():
        return {}
    with path.open() as f:
        return {row["mutant"]: (row["change"], row["why"]) for row in csv.DictReader(f)}


def meta_path(name: str) -> Path:
    """The mutated module's file in mutants/ for a mutant name (pprlib.models.ppr.xǁ...)."""
    module = name.rsplit(".", 1)[0]
    path = ROOT / "mutants" / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def score(label: str) -> list[dict]:
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors: list[str] = []
    same, stale = equivalent(), []
    source = MutantSource(ROOT / "mutants")
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            module = module_of(name)
            if module is None or code is None:
                continue
            if source.message_only(meta.with_suffix(""), name):
                counts[module]["error message"] += 1
            elif code in KILLED:
                counts[module]["killed"] += 1
            elif name in same and same[name][0] != source.change(meta.with_suffix(""), name):
                stale.append(name)  # the entry was judged on another mutant: not counted as equivalent
                counts[module]["survived" if code in SURVIVED else "not covered"] += 1
                survivors.append(name)
            elif name in same:  # survived, or not covered by the tests of that run
                counts[module]["equivalent"] += 1
            elif code in SURVIVED:
                counts[module]["survived"] += 1
                survivors.append(name)
            elif code in NOT_COVERED:
                counts[module]["not covered"] += 1
                survivors.append(name)
            else:
                counts[module]["other"] += 1
    rows = []
    for module in SCOPE:
        c = counts[module]
        judged = c["killed"] + c["survived"] + c["not covered"]
        rows.append({"module": module, "mutants": judged + c["equivalent"] + c["other"], "killed": c["killed"],
                     "survived": c["survived"], "not covered": c["not covered"], "equivalent": c["equivalent"],
                     "error message": c["error message"],
                     "score %": round(100 * c["killed"] / judged, 1) if judged else float("nan")})
    total = {k: sum(r[k] for r in rows)
             for k in ("mutants", "killed", "survived", "not covered", "equivalent", "error message")}
    judged = total["killed"] + total["survived"] + total["not covered"]
    rows.append({"module": "all", **total, "score %": round(100 * total["killed"] / judged, 1) if judged else float("nan")})
    out = HERE / f"mutation-{label}.csv"
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (HERE / f"survivors-{label}.txt").write_text("".join(f"{s}\n" for s in sorted(survivors)))
    width = max(len(r["module"]) for r in rows)
    for r in rows:
        print(f"{r['module']:<{width}}  {r['killed']:>5} / {r['mutants'] - r['equivalent']:<5} killed  {r['score %']}%")
    print(f"written {out.relative_to(ROOT)} and survivors-{label}.txt")
    for name in stale:
        print(f"warning: equivalent.csv's entry {name} names a mutant that changes "
              f"{source.change(meta_path(name), name)!r} now, not {same[name][0]!r}: counted as a survivor")
    return rows


def describe(names: list[str]) -> None:
    """Print equivalent.csv rows (mutant, change, why left empty) for surviving mutants."""
    source, writer = MutantSource(ROOT / "mutants"), csv.writer(sys.stdout)
    for name in names:
        writer.writerow([name, source.change(meta_path(name), name), ""])


def run(label: str, jobs: int) -> None:
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    patterns = [p for module in SCOPE.values() for p in module]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *patterns],
                   cwd=ROOT, env=env, check=True)
    score(label)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "score", "describe"))
    parser.add_argument("names", nargs="*", help="describe: mutant names (a row of equivalent.csv each)")
    parser.add_argument("--label", default="latest")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+", args.label):
        parser.error("label: letters, digits, '.', '-' and '_' only")
    if args.command == "run":
        run(args.label, args.jobs)
    elif args.command == "describe":
        describe(args.names)
    else:
        score(args.label)
    return 0


if __name__ == "__main__":
    sys.exit(main())

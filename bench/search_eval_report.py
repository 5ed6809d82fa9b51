"""The search eval's report: the accuracy table, the x2 targets and the wall-time table."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from search_eval_tasks import KIND_ORDER


@dataclass
class Tally:
    correct: list[float] = field(default_factory=list)  # 0/1, or a fraction for "mean of N samples"
    tokens: list[int] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    def add(self, correct: float, tokens: int, wall: float) -> None:
        self.correct.append(correct)
        self.tokens.append(tokens)
        self.wall.append(wall)


def accuracy_table(tallies: dict[tuple[str, str], Tally]) -> list[dict]:
    """Print each (task set, strategy)'s means and return them as rows."""
    rows = []
    print()
    print(f"{'task set':<12} {'strategy':<56} {'acc':>6} {'n':>3} {'gen tok/task':>12} {'wall s/task':>11}")
    for (kind, name), t in sorted(tallies.items(), key=lambda kv: KIND_ORDER.index(kv[0][0])):
        row = {"tasks": kind, "strategy": name, "accuracy": round(statistics.mean(t.correct), 3),
               "count": len(t.correct), "generated_tokens": round(statistics.mean(t.tokens), 1),
               "wall_s": round(statistics.mean(t.wall), 2)}
        rows.append(row)
        print(f"{kind:<12} {name:<56} {row['accuracy']:>6.2f} {row['count']:>3} "
              f"{row['generated_tokens']:>12.0f} {row['wall_s']:>11.1f}")
    return rows


def targets(per_task: list[dict], n: int, target_tier: str, chosen: str, quorum: int = 0) -> list[str]:
    """The x2 target for the rule chosen on the dev seed, and for the best of all rules on this run;
    then both targets (accuracy, wall time) for the chosen rule run with a quorum, measured as one run.

    The best of some thirty rules on the run being judged is an optimistic number (a choice made
    on the test set); the chosen rule's is the one to quote. Each rule is compared with the plain
    model on the tasks it ran on (beam runs on the first few of each tier only).
    """
    lines = []

    def accuracy(kinds, name) -> tuple[float, float, int]:
        """(plain's accuracy, the rule's, how many tasks) over the tasks of `kinds` that the rule ran on."""
        ran = [t for t in per_task if t["kind"] in kinds and name in t["runs"]]
        if not ran:
            return 0.0, 0.0, 0
        return (statistics.mean(t["runs"]["plain (greedy)"][0] for t in ran),
                statistics.mean(t["runs"][name][0] for t in ran), len(ran))

    kinds_run = {t["kind"] for t in per_task}
    arith = tuple(k for k in KIND_ORDER if k.startswith("arith-") and k in kinds_run)
    target = arith if target_tier == "all" else (f"arith-{target_tier}",)
    label = target_label = "all arithmetic tiers" if target_tier == "all" else f"arith-{target_tier}"
    math_sets = [(f"{label} (the target set)", target),
                 *((k, (k,)) for k in arith if (k,) != target),
                 *([("all arithmetic tiers", arith)] if target != arith else [])]
    for label, kinds in math_sets:
        if not any(t["kind"] in kinds for t in per_task):
            continue
        # Real selection rules only: one sample's mean and the oracle choose nothing.
        names = {name for t in per_task if t["kind"] in kinds for name in t["runs"]
                 if not name.startswith(("plain (", "sample", "pass@"))}

        def gain(name):
            base, rule, _ = accuracy(kinds, name)
            return rule / base if base else rule

        best_name = max(sorted(names), key=gain)
        _, oracle, count = accuracy(kinds, f"pass@{n} (oracle), calculator")
        oracle_note = f"; pass@{n} with the calculator {oracle:.2f}" if count else ""
        for kind_of_rule, name in (("chosen on the dev seed:", chosen), ("best of all rules on this run:", best_name)):
            base, best, count = accuracy(kinds, name)
            if not count:
                continue
            lines.append(f"target {label} x2, {kind_of_rule} on {count} tasks plain {base:.2f}, {name} {best:.2f} "
                         f"({best / base if base else float('inf'):.2f}x{oracle_note}) -> "
                         f"{'MET' if best >= 2 * base and best > 0 else 'NOT MET'}")
    early = sorted({name for t in per_task for name in t["runs"] if name.startswith(f"{chosen}, choose after ")},
                   key=lambda name: int(name.split("choose after ")[1].split()[0]))
    for name in early:
        base, rule, count = accuracy(target, name)
        whole = statistics.mean(t["runs"][chosen][0] for t in per_task if t["kind"] in target and name in t["runs"]
                                and chosen in t["runs"]) if count else float("nan")
        if count:
            ratio = rule / base if base else float("inf")
            lines.append(f"target {target_label} x2, choosing early, {name}: on {count} tasks plain {base:.2f} -> "
                         f"{rule:.2f} ({ratio:.2f}x; all {n} to their end {whole:.2f}) -> "
                         f"{'MET' if rule >= 2 * base and rule > 0 else 'NOT MET'}")
    both = f"{chosen}, quorum {quorum} (measured)"
    ran = [t for t in per_task if t["kind"] in target and both in t["runs"]]
    if ran:
        base, rule, count = accuracy(target, both)
        timed = [t for t in per_task if both in t["runs"]]  # arithmetic and conversions
        wall = statistics.mean(t["runs"][both][2] for t in timed) / statistics.mean(
            t["runs"]["plain (greedy)"][2] for t in timed)
        lines.append(f"both targets in one run, {both}: accuracy on {count} tasks plain {base:.2f} -> {rule:.2f} "
                     f"({rule / base if base else float('inf'):.2f}x) -> "
                     f"{'MET' if rule >= 2 * base and rule > 0 else 'NOT MET'}; wall {wall:.2f}x one plain answer "
                     f"on {len(timed)} tasks -> {'MET' if wall <= 2 else 'NOT MET'}")
    no_rag, rag = (accuracy(("corpus",), "retrieve (greedy)")[:2])
    if any(t["kind"] == "corpus" for t in per_task):
        lines.append(f"target retrieval beats none: {no_rag:.2f} -> {rag:.2f} -> "
                     f"{'MET' if rag > no_rag else 'NOT MET'}")
    return lines


def wall_table(walls: list[dict[str, tuple[float, int, int]]], splits: list[dict]) -> list[str]:
    """Each measured run against one plain answer to the same task (arithmetic and conversions)."""
    if not walls:
        return []
    plain = [w["plain"][0] for w in walls]
    lines = [f"{'run (wall time vs one plain greedy answer)':<58} {'wall s':>7} {'mean x':>7} {'median x':>8} "
             f"{'gen tok':>8} {'longest':>8}"]
    for name in walls[0]:
        runs = [w[name] for w in walls if name in w]
        wall = statistics.mean(r[0] for r in runs)
        ratio = wall / statistics.mean(plain)
        per_task = statistics.median(r[0] / w["plain"][0] for r, w in zip(runs, walls))
        target = "  <= 2x " + ("MET" if ratio <= 2 else "NOT MET") if name.startswith(("best-of-", "majority-")) else ""
        lines.append(f"{name:<58} {wall:>7.2f} {ratio:>7.2f} {per_task:>8.2f} "
                     f"{statistics.mean(r[1] for r in runs):>8.1f} {statistics.mean(r[2] for r in runs):>8.1f}{target}")
    for with_calculator in (False, True):
        part = [s for s in splits if s["calculator"] == with_calculator]
        if part:
            mean = {k: statistics.mean(s[k] for s in part) for k in ("generate", "verify", "engine_calls")}
            lines.append(f"best-of-N{' with the calculator' if with_calculator else ''} time split: generate "
                         f"{mean['generate']:.2f}s + verify {mean['verify']:.2f}s, {mean['engine_calls']:.2f} "
                         "engine calls per task")
    return lines


def first_text_table(per_task: list[dict]) -> list[str]:
    """Seconds until each run's first streamed text, beside its whole wall time, for runs that stream or
    were timed as a stream (a run that gives its answer whole streams it at the end)."""
    names = [name for name in dict.fromkeys(n for t in per_task for n in t["runs"]) if
             any(len(t["runs"].get(name, ())) > 3 for t in per_task)]
    if not names:
        return []
    lines = [f"{'run (time to the first streamed text)':<58} {'first s':>8} {'p50':>6} {'p90':>6} {'wall s':>7} "
             f"{'first/wall':>10} {'tasks':>5}"]
    for name in names:
        timed = [t["runs"][name] for t in per_task if len(t["runs"].get(name, ())) > 3]
        firsts = sorted(r[3] for r in timed)
        wall = statistics.mean(r[2] for r in timed)
        lines.append(f"{name:<58} {statistics.mean(firsts):>8.2f} {firsts[len(firsts) // 2]:>6.2f} "
                     f"{firsts[min(len(firsts) - 1, int(0.9 * len(firsts)))]:>6.2f} {wall:>7.2f} "
                     f"{statistics.mean(firsts) / wall if wall else float('nan'):>10.2f} {len(timed):>5}")
    return lines


def write_json(path: Path, *, args, rows: list[dict], reward_report: dict | None, outcome_report: dict | None,
               verdicts: list[str], times: list[str], per_task: list[dict]) -> None:
    path.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
                                "reward_model": reward_report, "outcome_verifier": outcome_report, "targets": verdicts,
                                "wall_table": times, "tasks": per_task}, indent=2))

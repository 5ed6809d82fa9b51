"""The leaderboard as the page and the API show it, read from the latest snapshot."""

import csv
import io

from django.conf import settings

from arena.models import DEFAULT_ARENA
from ratings.categories import ARENA_CATEGORIES
from ratings.snapshots import latest, latest_of_arenas

CATEGORY_LABELS = {name: category.label for name, category in ARENA_CATEGORIES.items()}
CSV_COLUMNS = ["rank_ub", "model", "rating", "ci_lower", "ci_upper", "votes", "organisation", "license",
               "elo", "style_rating", "style_rank_ub", "tokens_per_answer", "seconds_per_answer", "preliminary"]


def leaderboard_json(*, category: str = "overall", style_control: bool = False, min_votes: int | None = None,
                     arena: str = DEFAULT_ARENA) -> dict:
    """The latest snapshot's table. Rated models with fewer than `min_votes` votes (default
    ``ARENA["LEADERBOARD_MIN_VOTES"]``) join `unrated`, the models shown as "not enough data";
    rated rows under ``ARENA["LEADERBOARD_PRELIMINARY_VOTES"]`` votes are marked `preliminary`."""
    if min_votes is None:
        min_votes = settings.ARENA["LEADERBOARD_MIN_VOTES"]
    preliminary = settings.ARENA["LEADERBOARD_PRELIMINARY_VOTES"]
    thresholds = {"min_votes": min_votes, "preliminary_votes": preliminary}
    snapshot = latest(category, arena=arena)
    if snapshot is None:
        return {"arena": arena, "category": category, "computed_at": None, "total_votes": 0, "rows": [],
                "unrated": [], "excluded": {}, "style_control": style_control, **thresholds}
    data = snapshot.data
    rows = [dict(r) for r in data.get("rows", []) if r["votes"] >= min_votes]
    unrated = [{"model": r["model"], "votes": r["votes"], "reason": f"fewer than {min_votes} votes"}
               for r in data.get("rows", []) if r["votes"] < min_votes]
    unrated = sorted(unrated + [dict(r) for r in data.get("unrated", [])], key=lambda r: -r["votes"])
    if style_control and rows and all("style_rating" in r for r in rows):
        rows.sort(key=lambda r: -r["style_rating"])
    for row in rows:
        row["ci_plus"] = round(row["ci_upper"] - row["rating"], 1)
        row["ci_minus"] = round(row["rating"] - row["ci_lower"], 1)
        row["preliminary"] = row["votes"] < preliminary
    return {"arena": arena, "category": category, "computed_at": snapshot.computed_at.isoformat(),
            "total_votes": snapshot.total_votes, "style_control": style_control, "rows": rows, "unrated": unrated,
            **thresholds,
            "models": data.get("models", []), "battle_counts": data.get("battle_counts", []),
            "win_fraction": data.get("win_fraction", []), "average_win_rate": data.get("average_win_rate", []),
            "predicted_win_rate": data.get("predicted_win_rate", []), "excluded": data.get("excluded", {})}


def model_standing(name: str, *, arenas: list[str]) -> dict:
    """One model's place on its arenas' leaderboards: its rating with interval in every category,
    under the leaderboard's own rules (fewer than the minimum votes, or never both won and lost, is
    "not enough data"), and its record against each rated opponent in the overall category."""
    min_votes = settings.ARENA["LEADERBOARD_MIN_VOTES"]
    preliminary = settings.ARENA["LEADERBOARD_PRELIMINARY_VOTES"]
    order = {category: i for i, category in enumerate(CATEGORY_LABELS)}
    snapshots = sorted((s for s in latest_of_arenas(arenas) if s.category in order),
                       key=lambda s: (arenas.index(s.arena), order[s.category]))
    ratings, opponents, per_answer = [], {}, {}
    for snapshot in snapshots:
        rows = snapshot.data.get("rows", [])
        row = next((r for r in rows if r["model"] == name), None)
        entry = {"arena": snapshot.arena, "category": snapshot.category, "label": CATEGORY_LABELS[snapshot.category],
                 "computed_at": snapshot.computed_at}
        if row is not None and row["votes"] >= min_votes:
            ranked = [r for r in rows if r["votes"] >= min_votes]
            entry.update(rated=True, rating=row["rating"], ci_lower=row["ci_lower"], ci_upper=row["ci_upper"],
                         votes=row["votes"], rank_ub=row["rank_ub"], of=len(ranked),
                         preliminary=row["votes"] < preliminary)
        else:
            unrated = next((r for r in snapshot.data.get("unrated", []) if r["model"] == name), None)
            votes = row["votes"] if row is not None else (unrated or {}).get("votes", 0)
            if not votes:
                continue
            entry.update(rated=False, votes=votes)
        ratings.append(entry)
        if snapshot.category == "overall":
            opponents[snapshot.arena] = _opponents(name, snapshot.data)
            if row is not None and "tokens_per_answer" in row:
                per_answer[snapshot.arena] = {k: row[k] for k in ("tokens_per_answer", "seconds_per_answer")}
    return {"ratings": ratings, "opponents": opponents, "per_answer": per_answer}


def _opponents(name: str, data: dict) -> list[dict]:
    """Battles and the share won (ties left out, as on the leaderboard's chart) against each opponent."""
    models = data.get("models", [])
    if name not in models:
        return []
    i = models.index(name)
    counts, wins = data.get("battle_counts", []), data.get("win_fraction", [])
    found = []
    for j, other in enumerate(models):
        if j == i or not counts or not counts[i][j]:
            continue
        found.append({"model": other, "battles": counts[i][j], "win_rate": wins[i][j] if wins else None})
    return sorted(found, key=lambda o: -o["battles"])


def leaderboard_csv(board: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in board["rows"]:
        writer.writerow({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()

"""The leaderboard as the page and the API show it, read from the snapshot in force (the latest, or
the one of a chosen moment: ratings/history.py)."""

import csv
import io
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings

from arena.errors import Invalid
from arena.models import DEFAULT_ARENA, ModelEndpoint
from ratings.categories import ARENA_CATEGORIES
from ratings.history import parse_moment, rank_changes, snapshot_at
from ratings.snapshots import latest_of_arenas

CATEGORY_LABELS = {name: category.label for name, category in ARENA_CATEGORIES.items()}
CSV_COLUMNS = ["rank_ub", "model", "rating", "ci_lower", "ci_upper", "votes", "organisation", "license",
               "elo", "style_rating", "style_rank_ub", "style_change", "rank_change", "tokens_per_answer",
               "seconds_per_answer", "compute_tokens_per_answer", "preliminary", "deprecated"]
STYLE_ELEMENTS = "answer length and the number of headers, lists, bold passages and citations"


@dataclass(frozen=True)
class BoardQuery:
    """What a reader chose: the page's controls and the API's parameters, checked in one place. Its
    `params()` round-trip through a URL, so a link keeps every setting."""

    arena: str = DEFAULT_ARENA
    category: str = "overall"
    style_control: bool = False
    min_votes: int | None = None
    show_deprecated: bool = False
    at: str | None = None
    since: str | None = None

    def __post_init__(self):
        if self.category not in CATEGORY_LABELS:
            raise Invalid(f"Unknown category {self.category[:50]!r}; choose one of {', '.join(CATEGORY_LABELS)}.")
        if self.min_votes is not None and self.min_votes < 0:
            object.__setattr__(self, "min_votes", 0)
        for name in ("at", "since"):
            value = (getattr(self, name) or "").strip() or None
            object.__setattr__(self, name, value)
            if value is not None:
                parse_moment(value, name=name)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "BoardQuery":
        """From a query string's values (strings); a bad one is `Invalid` with a sentence."""
        min_votes = (params.get("min_votes") or "").strip()
        if min_votes and not min_votes.lstrip("-").isdigit():
            raise Invalid(f"min_votes: {min_votes[:20]!r} is not a whole number.")
        return cls(arena=params.get("arena") or DEFAULT_ARENA, category=params.get("category") or "overall",
                   style_control=_flag(params.get("style_control")), min_votes=int(min_votes) if min_votes else None,
                   show_deprecated=_flag(params.get("show_deprecated")), at=params.get("at"),
                   since=params.get("since"))

    def moment(self, name: str) -> datetime | None:
        value = getattr(self, name)
        return None if value is None else parse_moment(value, name=name)

    def board_arguments(self) -> dict:
        """`leaderboard_json`'s keyword arguments for this choice."""
        return {"arena": self.arena, "category": self.category, "style_control": self.style_control,
                "min_votes": self.min_votes, "show_deprecated": self.show_deprecated,
                "at": self.moment("at"), "since": self.moment("since")}

    def params(self, **changes) -> str:
        """The query string of this choice (with `changes`): the arena and category, which name the
        table, and every other setting that is not at its default."""
        chosen = asdict(replace(self, **changes)) if changes else asdict(self)
        defaults = asdict(BoardQuery())
        return urlencode({k: ("1" if v is True else v) for k, v in chosen.items()
                          if k in ("arena", "category") or (v != defaults[k] and v is not None and v is not False)})


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def in_words(moment: datetime) -> str:
    """5 December 2026, 07:12 UTC."""
    moment = moment.astimezone(UTC)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def leaderboard_json(*, category: str = "overall", style_control: bool = False, min_votes: int | None = None,
                     arena: str = DEFAULT_ARENA, show_deprecated: bool = False, at: datetime | None = None,
                     since: datetime | None = None) -> dict:
    """The table in force at `at` (default: the latest). Rated models with fewer than `min_votes`
    votes (default ``ARENA["LEADERBOARD_MIN_VOTES"]``) join `unrated`, the models shown as "not
    enough data"; rated rows under ``ARENA["LEADERBOARD_PRELIMINARY_VOTES"]`` votes are marked
    `preliminary`. Models staff marked retired are left out unless `show_deprecated` (they stay in
    the fit, so the ranks of the others count them). With `since`, each row's `rank_change` is the
    places it rose since the table in force then. With `style_control` (once style is fitted), rows
    are ordered by the style-controlled rating, and `rank`, `ci_plus` and `ci_minus` are its."""
    if min_votes is None:
        min_votes = settings.ARENA["LEADERBOARD_MIN_VOTES"]
    preliminary = settings.ARENA["LEADERBOARD_PRELIMINARY_VOTES"]
    base = {"arena": arena, "category": category, "style_control": style_control, "min_votes": min_votes,
            "preliminary_votes": preliminary, "show_deprecated": show_deprecated}
    snapshot = snapshot_at(category, arena=arena, moment=at)
    if snapshot is None:
        return {**base, "computed_at": None, "total_votes": 0, "rows": [], "unrated": [], "excluded": {},
                "style_fitted": False, "hidden_deprecated": 0, "since": None, "matrices": False}
    data = snapshot.data
    retired = {e.public_name for e in ModelEndpoint.objects.filter(retired=True)}
    all_rows = [dict(r, deprecated=r["model"] in retired) for r in data.get("rows", [])]
    style_fitted = bool(all_rows) and all("style_rating" in r for r in all_rows)
    use_style = style_control and style_fitted
    if use_style:
        all_rows.sort(key=lambda r: -r["style_rating"])
    rows = [r for r in all_rows if r["votes"] >= min_votes and (show_deprecated or not r["deprecated"])]
    unrated = [{"model": r["model"], "votes": r["votes"], "reason": f"fewer than {min_votes} votes",
                "deprecated": r["deprecated"]} for r in all_rows if r["votes"] < min_votes]
    unrated += [dict(r, deprecated=r["model"] in retired) for r in data.get("unrated", [])]
    unrated = sorted((r for r in unrated if show_deprecated or not r["deprecated"]), key=lambda r: -r["votes"])
    hidden = 0 if show_deprecated else sum(r["model"] in retired for r in
                                           [*data.get("rows", []), *data.get("unrated", [])])
    prefix = "style_" if use_style else ""
    for row in rows:
        row["rank"] = row[f"{prefix}rank_ub"]
        row["ci_plus"] = round(row[f"{prefix}ci_upper"] - row[f"{prefix}rating"], 1)
        row["ci_minus"] = round(row[f"{prefix}rating"] - row[f"{prefix}ci_lower"], 1)
        row["preliminary"] = row["votes"] < preliminary
        if "style_rating" in row:
            row["style_change"] = round(row["style_rating"] - row["rating"], 1)
    then = None
    if since is not None:
        then = snapshot_at(category, arena=arena, moment=since)
        changes = rank_changes(rows, (then.data.get("rows", []) if then else []), rank_key=f"{prefix}rank_ub")
        for row in rows:
            row["rank_change"] = changes[row["model"]]
    return {**base, "computed_at": snapshot.computed_at.isoformat(),
            "computed_at_words": in_words(snapshot.computed_at), "total_votes": snapshot.total_votes,
            "rows": rows, "unrated": unrated, "style_fitted": style_fitted, "hidden_deprecated": hidden,
            "since": None if then is None else {"computed_at": then.computed_at.isoformat(),
                                                "computed_at_words": in_words(then.computed_at)},
            "matrices": "battle_counts" in data, **_shown_matrices(data, {r["model"] for r in rows}),
            "excluded": data.get("excluded", {})}


def _shown_matrices(data: dict, shown: set[str]) -> dict:
    """The snapshot's pair matrices, cut to the models the table shows."""
    keep = [i for i, model in enumerate(data.get("models", [])) if model in shown]
    square = {key: [[data[key][i][j] for j in keep] for i in keep] if data.get(key) else []
              for key in ("battle_counts", "win_fraction", "predicted_win_rate")}
    average = data.get("average_win_rate") or []
    return {"models": [data["models"][i] for i in keep], **square,
            "average_win_rate": [average[i] for i in keep] if average else []}


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

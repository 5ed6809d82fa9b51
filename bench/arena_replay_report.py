"""The arena replay's pure parts: how a simulated voter decides, how the attacker guesses, and the
figures of the report (ratings with intervals from recorded votes, Kendall tau against the ground
truth, votes until a lead is significant under uniform or active sampling, the plot as SVG).

Arrays and text in, arrays and text out: no Django, no HTTP (bench/arena_replay.py plays the
battles). Ratings come from the project's own rating math (ratings/), never a copy of it.
"""

from __future__ import annotations

import html
import math
import random
from dataclasses import dataclass

import numpy as np

from ratings.battle_arrays import OUTCOME_SCORE, Outcome, PairCounts, pair_counts_from_arrays
from ratings.bradley_terry import fit_bradley_terry, rating_units, to_rating_scale
from ratings.intervals import normal_intervals, sandwich_covariance
from ratings.leaderboard import rated_models, style_controlled_ratings
from ratings.pair_sampling import active_pair_weights, pair_score_variance

Z95 = 1.959964
MIN_VOTES = 10  # as the leaderboard's ARENA_LEADERBOARD_MIN_VOTES: fewer votes are "not enough data"


# --- voters ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VoterPolicy:
    """Prefer the correct answer; between two correct (or two wrong) answers choose the longer one
    with probability `style_strength`, else tie (both correct) or "both bad" (both wrong).
    A careless voter votes a or b at random whatever the answers say."""

    style_strength: float = 0.3
    careless: bool = False


def honest_choice(policy: VoterPolicy, *, correct: tuple[bool, bool], lengths: tuple[int, int],
                  rng: random.Random) -> str:
    """The vote ("a", "b", "tie", "bothbad") of a voter who graded both answers."""
    if policy.careless:
        return rng.choice("ab")
    if correct[0] != correct[1]:
        return "a" if correct[0] else "b"
    if lengths[0] != lengths[1] and rng.random() < policy.style_strength:
        return "a" if lengths[0] > lengths[1] else "b"
    return "tie" if correct[0] else "bothbad"


class LengthTell:
    """The attacker's guess of which side is its target, from answer length (the best tell
    bench/blind_attack.py found on the demo: every timing and event shape is at chance).

    It learns from the battles it has voted on (the vote reveals the names): the log-length of the
    target's answers against everyone else's; a side is the target's where its log-length is nearer
    the target's mean than the others' mean, by more than the other side is."""

    def __init__(self) -> None:
        self.target: list[float] = []
        self.others: list[float] = []

    def learn(self, length: int, *, is_target: bool) -> None:
        (self.target if is_target else self.others).append(math.log1p(length))

    def guess(self, lengths: tuple[int, int], rng: random.Random) -> str:
        if len(self.target) < 3 or len(self.others) < 3:
            return rng.choice("ab")
        mine, theirs = float(np.mean(self.target)), float(np.mean(self.others))

        def looks_like_target(length: int) -> float:
            x = math.log1p(length)
            return abs(x - theirs) - abs(x - mine)

        a, b = (looks_like_target(n) for n in lengths)
        return rng.choice("ab") if a == b else ("a" if a > b else "b")


# --- ratings from recorded votes ------------------------------------------------------------------

@dataclass(frozen=True)
class Board:
    rating: np.ndarray  # rating points, per model
    lower: np.ndarray
    upper: np.ndarray
    cov: np.ndarray | None  # natural units; None under style control
    votes: np.ndarray  # per model


def counts_of(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, k: int) -> PairCounts:
    table = np.zeros((len(a), 4))
    table[np.arange(len(a)), outcome] = 1.0
    return pair_counts_from_arrays(k, np.stack([a, b], axis=1), table)


def fit_board(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, k: int, *,
              style: np.ndarray | None = None) -> Board | None:
    """Bradley-Terry ratings with sandwich 95% intervals (as the leaderboard computes them), or the
    style-controlled ones when `style` (the votes' relative style differences) is given. None while
    some model has no finite rating (no vote yet, or never won or never lost: the leaderboard's
    `rated_models`), where the intervals would mean nothing."""
    a, b, outcome = (np.asarray(x, dtype=np.int64) for x in (a, b, outcome))
    votes = np.bincount(np.concatenate([a, b]), minlength=k)
    if len(a) == 0 or (votes == 0).any():
        return None
    counts = counts_of(a, b, outcome, k)
    if not rated_models(counts).all():
        return None
    theta = fit_bradley_terry(counts)
    if style is not None:
        rating, lower, upper = style_controlled_ratings(a, b, OUTCOME_SCORE[outcome], np.asarray(style, float), k,
                                                        start=theta)
        return Board(rating, lower, upper, None, votes)
    cov = sandwich_covariance(counts, theta)
    lower, upper = normal_intervals(theta, np.diag(cov))
    return Board(to_rating_scale(theta), to_rating_scale(lower), to_rating_scale(upper), cov, votes)


def lead(board: Board, model: int, base: int) -> tuple[float, float, float]:
    """`model`'s lead over `base` in rating points with its 95% interval (from the covariance of the
    difference; under style control, where there is none, the two intervals' half-widths combined)."""
    gap = float(board.rating[model] - board.rating[base])
    if board.cov is not None:
        var = board.cov[model, model] + board.cov[base, base] - 2 * board.cov[model, base]
        half = Z95 * math.sqrt(max(var, 0.0)) * rating_units()
    else:
        half = math.hypot(board.upper[model] - board.rating[model], board.rating[base] - board.lower[base])
    return gap, gap - half, gap + half


def separated(board: Board | None, model: int, base: int) -> bool:
    """The Must-show criterion: `model` above `base` with non-overlapping 95% intervals, both with
    enough votes to be ranked on the leaderboard."""
    return (board is not None and min(board.votes[model], board.votes[base]) >= MIN_VOTES
            and bool(board.lower[model] > board.upper[base]))


def kendall_tau(truth: dict[str, float], ratings: dict[str, float], *, min_gap: float = 0.0) -> tuple[float, int]:
    """Kendall's tau-a between two scorings of the same names, over the pairs whose truth differs
    by more than `min_gap`; (nan, 0) when there is no such pair. Returns (tau, pairs)."""
    names = sorted(set(truth) & set(ratings))
    concordant = discordant = 0
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            if abs(truth[x] - truth[y]) <= min_gap:
                continue
            sign = np.sign(truth[x] - truth[y]) * np.sign(ratings[x] - ratings[y])
            concordant += sign > 0
            discordant += sign <= 0  # a tie in the ratings where the truth differs counts against
    pairs = concordant + discordant
    return ((concordant - discordant) / pairs if pairs else float("nan")), pairs


# --- votes until significant, replayed --------------------------------------------------------------

def votes_until_separated(a: np.ndarray, b: np.ndarray, outcome: np.ndarray, k: int, *, model: int, base: int,
                          sampling: str, rng: np.random.Generator, style: np.ndarray | None = None,
                          batch: int = 10, max_votes: int = 2000) -> int | None:
    """Replay recorded votes as a sampler would ask for them: before each batch the sampler picks
    pairs (uniformly over the pairs that have recorded votes, or by the Chatbot Arena paper's active
    rule from the counts so far, ratings.pair_sampling), and each vote is drawn, with replacement,
    from that pair's recorded votes. Returns the number of votes after which `model` first sits above
    `base` with non-overlapping 95% intervals, or None within `max_votes`."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pools: dict[tuple[int, int], np.ndarray] = {}
    for i, pair in enumerate(zip(lo.tolist(), hi.tolist())):
        pools.setdefault(pair, []).append(i)
    pools = {pair: np.asarray(rows) for pair, rows in pools.items()}
    recorded = np.zeros((k, k), dtype=bool)
    for x, y in pools:
        recorded[x, y] = True
    chosen: list[int] = []
    while len(chosen) < max_votes:
        if sampling == "uniform" or not chosen:
            weights = recorded.astype(float)
        else:
            rows = np.asarray(chosen)
            counts = counts_of(a[rows], b[rows], outcome[rows], k)
            n = np.zeros((k, k))
            n[counts.pairs[:, 0], counts.pairs[:, 1]] = counts.n
            weights = np.where(recorded, active_pair_weights(n + n.T, pair_score_variance(counts)), 0.0)
        flat = weights.ravel() / weights.sum()
        for cell in rng.choice(k * k, size=batch, p=flat):
            chosen.append(int(rng.choice(pools[divmod(int(cell), k)])))
        rows = np.asarray(chosen)
        board = fit_board(a[rows], b[rows], outcome[rows], k, style=None if style is None else style[rows])
        if separated(board, model, base):
            return len(chosen)
    return None


def replay_summary(results: list[int | None]) -> str:
    reached = sorted(r for r in results if r is not None)
    if not reached:
        return f"not within the cap in any of {len(results)} replays"
    median = reached[len(reached) // 2] if len(reached) == len(results) else None
    spread = f"{reached[0]}-{reached[-1]}"
    if median is None:
        return f"{len(reached)}/{len(results)} replays reached it ({spread} votes)"
    return f"median {median} votes ({spread}; {len(results)} replays)"


def outcome_code(choice: str) -> int:
    return int({"a": Outcome.A, "b": Outcome.B, "tie": Outcome.TIE, "bothbad": Outcome.BOTH_BAD}[choice])


# --- the plot -------------------------------------------------------------------------------------

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]


def ratings_svg(steps: list[int], boards: list[Board], names: list[str], *, title: str,
                width: int = 760, height: int = 420) -> str:
    """Rating (line) and 95% interval (band) of each model against votes cast, as an SVG document."""
    left, right, top, bottom = 60, 190, 36, 44
    lows = [float(board.lower.min()) for board in boards]
    highs = [float(board.upper.max()) for board in boards]
    y_min, y_max = math.floor(min(lows) / 50) * 50, math.ceil(max(highs) / 50) * 50
    x_max = max(steps)

    def x(v: float) -> float:
        return left + (width - left - right) * v / x_max

    def y(v: float) -> float:
        return top + (height - top - bottom) * (y_max - v) / (y_max - y_min)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{left}" y="20" font-size="14">{html.escape(title)}</text>']
    for tick in range(int(y_min), int(y_max) + 1, 50 if y_max - y_min <= 600 else 100):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    for tick in np.linspace(0, x_max, 6):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - bottom + 16}" text-anchor="middle">{int(tick)}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">votes cast</text>')
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2}" transform="rotate(-90 14 '
                 f'{(top + height - bottom) / 2})" text-anchor="middle">rating (95% interval)</text>')
    for m, name in enumerate(names):
        colour = PALETTE[m % len(PALETTE)]
        upper = " ".join(f"{x(s):.1f},{y(float(bd.upper[m])):.1f}" for s, bd in zip(steps, boards))
        lower = " ".join(f"{x(s):.1f},{y(float(bd.lower[m])):.1f}" for s, bd in reversed(list(zip(steps, boards))))
        line = " ".join(f"{x(s):.1f},{y(float(bd.rating[m])):.1f}" for s, bd in zip(steps, boards))
        parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.12" stroke="none"/>')
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<rect x="{width - right + 12}" y="{top + 18 * m}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{width - right + 30}" y="{top + 18 * m + 10}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

"""Leaderboard categories: which battles count for which leaderboard, in one registry.

Each category is decided from fields a battle already has, by cheap, deterministic rules (the
detectors in `ratings.features`), so a battle's categories can be computed once when it is
stored. LMArena labels some categories with an LLM judge; the heuristics are stated in each
docstring. Every category says how it selects battles from a battles file (`mask`, over a
`Battles`) and, if it is on the arena's leaderboard, its label and how it selects votes in the
votes table (`condition`, over the typed columns the vote path fills).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Q

from ratings.battle_arrays import Battles
from ratings.features import LONG_PROMPT_TOKENS, detect_language, is_code, is_math


def is_multi_turn(turns: np.ndarray) -> np.ndarray:
    """Multi-turn: the conversation had more than one user turn before the vote (`turn > 1`)."""
    return np.asarray(turns) > 1


def is_long_prompt(prompt_tokens: np.ndarray, *, threshold: int = LONG_PROMPT_TOKENS) -> np.ndarray:
    """Longer query: the user's text has at least 500 tokens (LMArena's threshold), counted with
    `ratings.features.count_tokens`."""
    return np.asarray(prompt_tokens) >= threshold


# --- deduplication ----------------------------------------------------------------------------


def dedup_mask(
    prompts: Sequence[str], *, percentile: float = 0.9999, seed: int = 42, max_chars: int = 10000
) -> np.ndarray:
    """Keep-mask that down-samples the most repeated prompts, as LMArena's deduplication does.

    Prompts are compared on their first 10,000 characters. The cutoff is the `percentile`
    quantile of the per-prompt counts; a prompt seen more often than that keeps a random
    int(cutoff) of its battles (seeded), every other battle is kept.
    """
    keys = np.array([p[:max_chars] for p in prompts], dtype=object)
    keep = np.ones(len(keys), dtype=bool)
    if len(keys) == 0:
        return keep
    _, inverse, counts = np.unique(keys.astype(str), return_inverse=True, return_counts=True)
    cutoff = np.quantile(counts, percentile)
    rng = np.random.default_rng(seed)
    for group in np.flatnonzero(counts > cutoff):
        members = np.flatnonzero(inverse == group)
        keep[members] = False
        keep[rng.choice(members, size=int(cutoff), replace=False)] = True
    return keep


# --- selectors --------------------------------------------------------------------------------


def _field(battles: Battles, name: str, category: str) -> np.ndarray:
    if name not in battles.fields:
        raise ValueError(f"category {category!r} needs the battles' {name!r} field")
    return battles.fields[name]


def battle_languages(battles: Battles) -> np.ndarray:
    """The `language` field when present, else `detect_language` of each prompt."""
    if "language" in battles.fields:
        return battles.fields["language"]
    prompts = _field(battles, "prompt", "language")
    return np.array([detect_language(p) for p in prompts], dtype=object)


def _text_mask(predicate: Callable[[str], bool], category: str) -> Callable[[Battles], np.ndarray]:
    def mask(battles: Battles) -> np.ndarray:
        prompts = _field(battles, "prompt", category)
        return np.fromiter((predicate(p) for p in prompts), dtype=bool, count=len(battles))
    return mask


def _language_mask(language: str) -> Callable[[Battles], np.ndarray]:
    return lambda battles: battle_languages(battles) == language


# A marker, not a filter: the votes table replaces it with a cap on each prompt's votes
# (ratings.queries.dedup_condition), which depends on the votes themselves.
DEDUPLICATED = Q(pk__isnull=False)


@dataclass(frozen=True)
class Category:
    name: str
    mask: Callable[[Battles], np.ndarray]  # its battles in a Battles
    label: str | None = None  # on the arena's leaderboard, under this name
    condition: Q | None = None  # its votes in the votes table (None: every vote)
    needs: tuple[str, ...] = ()  # the `Battles` fields its mask reads (a file reader need parse no others)


_LANGUAGE = ("language", "prompt")  # the prompt when a file has no language column
_REGISTRY = (
    Category("overall", lambda battles: np.ones(len(battles), dtype=bool), "Overall"),
    Category("multi_turn", lambda battles: is_multi_turn(_field(battles, "turn", "multi_turn")), "Multi-turn",
             Q(turns__gt=1), ("turn",)),
    Category("long_prompt", lambda battles: is_long_prompt(_field(battles, "prompt_tokens", "long_prompt")),
             "Long prompts", Q(prompt_tokens__gte=LONG_PROMPT_TOKENS), ("prompt_tokens",)),
    Category("code", _text_mask(is_code, "code"), "Code", Q(is_code=True), ("prompt",)),
    Category("math", _text_mask(is_math, "math"), "Math", Q(is_math=True), ("prompt",)),
    Category("english", _language_mask("English"), "English", Q(language="English"), _LANGUAGE),
    Category("non_english", lambda battles: ~np.isin(battle_languages(battles), ["English", "unknown"]),
             "Non-English", ~Q(language__in=["English", "unknown", ""]), _LANGUAGE),
    Category("deduplicated", lambda battles: dedup_mask(_field(battles, "prompt", "deduplicated")),
             "Deduplicated prompts", DEDUPLICATED, ("prompt",)),
    # Battles files only: the votes table keeps no column for them.
    Category("chinese", _language_mask("Chinese"), needs=_LANGUAGE),
    Category("russian", _language_mask("Russian"), needs=_LANGUAGE),
    Category("japanese", _language_mask("Japanese"), needs=_LANGUAGE),
    Category("korean", _language_mask("Korean"), needs=_LANGUAGE),
    Category("german", _language_mask("German"), needs=_LANGUAGE),
    Category("french", _language_mask("French"), needs=_LANGUAGE),
    Category("spanish", _language_mask("Spanish"), needs=_LANGUAGE),
)
CATEGORIES: dict[str, Category] = {category.name: category for category in _REGISTRY}
# The arena's leaderboard categories, in the order the page shows them.
ARENA_CATEGORIES: dict[str, Category] = {name: c for name, c in CATEGORIES.items() if c.label is not None}


def category_mask(battles: Battles, name: str) -> np.ndarray:
    """Boolean mask of the battles in category `name` (one of `CATEGORIES`)."""
    if name not in CATEGORIES:
        raise ValueError(f"unknown category {name!r}; choose from {', '.join(CATEGORIES)}")
    return CATEGORIES[name].mask(battles)

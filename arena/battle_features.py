"""What the ratings need to know about a battle, computed once when it is voted on: the facts that
decide its categories and its style features (the LMSYS record fields, minus the conversations)."""

import hashlib

from django.db import connection

from arena.models import Battle, Message, Vote
from ratings.categories import detect_language, is_code, is_math
from ratings.style import count_markdown_elements, count_tokens

PROMPT_CHARS_KEPT = 4000
PROMPT_LOCK_SPACE = 7301  # first key of the advisory locks that number votes per prompt


def battle_features(prompts: list[str], messages: list[Message]) -> dict:
    prompt = "".join(f"{p}\n" for p in prompts)
    meta = {}
    for side in ("a", "b"):
        answer = "\n".join(m.text for m in messages if m.side == side)
        markdown = count_markdown_elements(answer)
        meta[f"sum_assistant_{side}_tokens"] = count_tokens(answer)
        meta[f"header_count_{side}"] = markdown["headers"]
        meta[f"list_count_{side}"] = markdown["lists"]
        meta[f"bold_count_{side}"] = markdown["bold"]
    return {"turn": len(prompts), "language": detect_language(prompt), "prompt": prompt[:PROMPT_CHARS_KEPT],
            "prompt_tokens": count_tokens(prompt), "code": is_code(prompt), "math": is_math(prompt),
            "prompt_hash": hashlib.sha1(prompt.strip().lower().encode()).hexdigest()[:16], "conv_metadata": meta}


# The style element of each typed column and the conv_metadata keys it compares (LMSYS names).
STYLE_COLUMNS = {
    "style_tokens": "sum_assistant_{}_tokens",
    "style_headers": "header_count_{}",
    "style_lists": "list_count_{}",
    "style_bold": "bold_count_{}",
}


def relative_difference(a: float, b: float) -> float:
    """(a - b) / (a + b), 0 when both are 0: the style feature before standardising (ratings.style)."""
    return (a - b) / (a + b) if a + b else 0.0


def rating_columns(battle: Battle, features: dict, *, counts: bool) -> dict:
    """The typed Vote columns the leaderboard recompute reads, from the battle and its features.
    Call it inside the vote's transaction: a counted vote takes its number among the votes on its
    prompt (`prompt_nth`, for de-duplication) there."""
    meta = features.get("conv_metadata") or {}
    prompt_hash = features.get("prompt_hash", "")
    return {
        "prompt_nth": next_prompt_occurrence(prompt_hash) if counts and prompt_hash else 1,
        "endpoint_a_id": battle.endpoint_a_id,
        "endpoint_b_id": battle.endpoint_b_id,
        "turns": features.get("turn", 1),
        "prompt_tokens": features.get("prompt_tokens", 0),
        "is_code": bool(features.get("code")),
        "is_math": bool(features.get("math")),
        "language": features.get("language", ""),
        "prompt_hash": prompt_hash,
        **{column: relative_difference(meta.get(key.format("a"), 0), meta.get(key.format("b"), 0))
           for column, key in STYLE_COLUMNS.items()},
    }


def next_prompt_occurrence(prompt_hash: str) -> int:
    """1 + the counted votes already cast on this prompt (votes are never deleted, so that is the
    last number taken + 1). The advisory lock (held to the end of the
    transaction) makes concurrent votes on the same prompt take their numbers one after another."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [PROMPT_LOCK_SPACE, prompt_hash])
    last = (Vote.objects.filter(prompt_hash=prompt_hash, counts=True).order_by("-prompt_nth")
            .values_list("prompt_nth", flat=True).first())
    return (last or 0) + 1


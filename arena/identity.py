"""Does an answer name a model or its maker? Such a battle is not blind and must not count.

The words come from the endpoint rows (name, codename, organisation, aliases), so staff extend
the list in the admin, not in code. Matching is whole-word and case-insensitive, like FastChat's
cleaning of identity-revealing battles.
"""

import re
from collections.abc import Iterable

from arena.models import ModelEndpoint
from ratings.features import answer_style

MIN_WORD_LENGTH = 3


def identity_pattern(words: Iterable[str]) -> re.Pattern | None:
    words = sorted({w.strip() for w in words if len(w.strip()) >= MIN_WORD_LENGTH}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def find_identity_leak(texts: Iterable[str], endpoints) -> str | None:
    pattern = identity_pattern(w for e in endpoints for w in e.identity_words())
    if pattern is None:
        return None
    for text in texts:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def finished_answer_facts(text: str) -> dict:
    """What a vote needs to know about an answer, worked out once by the worker that finishes it
    (stored on the message) rather than by every vote: the model or maker it names, with the
    endpoints' words as they are when it finishes, and its style counts."""
    leak = find_identity_leak([text], ModelEndpoint.objects.all())
    return {"identity_leak": (leak or "")[:100], "style_counts": answer_style(text)}

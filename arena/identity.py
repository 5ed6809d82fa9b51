"""Does an answer name a model or its maker? Such a battle is not blind and must not count.

The words come from the endpoint rows (name, codename, organisation, aliases), so staff extend
the list in the admin, not in code. Matching is whole-word and case-insensitive, like FastChat's
cleaning of identity-revealing battles.
"""

import re
from collections.abc import Iterable

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

"""Code points that text may carry in Python but not in PostgreSQL or UTF-8.

A NUL cannot be stored in a PostgreSQL text column, and a lone surrogate (U+D800…U+DFFF, which a
JSON ``\\ud800`` escape decodes to) is not a character at all and cannot be encoded as UTF-8.
"""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def unstorable(text: str) -> str | None:
    """The first code point of ``text`` that cannot be stored, written as U+XXXX, or None."""
    found = _UNSTORABLE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def storable(text: str) -> str:
    """``text`` with each code point that cannot be stored replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)

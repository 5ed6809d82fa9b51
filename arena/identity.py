"""Does an answer name a model or its maker? Such a battle is not blind and must not count.

Two lists are matched. The endpoint rows' own words (name, codename, organisation, aliases), so
staff extend that list in the admin, not in code; and a built-in list of well-known model families
and labs, so that an answer claiming to be another model ("I am GPT-4") does not pass either.
Matching is whole-word and case-insensitive, like FastChat's cleaning of identity-revealing battles.

Both are matched on a *skeleton* of the text (the idea of Unicode TR39): NFKC, then invisible
characters (zero-width, soft hyphen, variation selectors, bidi controls) and accents removed, then
every non-ASCII letter that looks like an ASCII one replaced by it, so that "Cl\u200baude",
"Сlaude" (Cyrillic С) and fullwidth "ＧＰＴ-4" read as the names they show.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from confusable_homoglyphs.confusables import confusables_data

from arena.models import ModelEndpoint
from ratings.features import answer_style

MIN_WORD_LENGTH = 3

# Code points that draw nothing but are not format characters (category Cf): variation
# selectors, the combining grapheme joiner, Mongolian free variation selectors, Hangul fillers.
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")

# The built-in list. Labs are common words in answers ("search on Google", "the OpenAI API", "the
# anthropic principle"), so they count only in a claim of origin ("made by OpenAI", "I'm a model
# from Google"). Model names count in their model-ish forms: a version ("GPT-4", "Llama 3",
# "Phi-3", "Gemini Pro"), a distinctive spelling ("ChatGPT", "Mixtral", "LLaMA"), or a claim of
# being one ("I am Llama"). The bare words that are also ordinary words are left alone: the llama
# and the zodiac's Gemini, Claude Monet, phi the Greek letter, a shell command, to grok, metadata.
_TAIL = r"(?:[\w.-]*\w)?"  # the rest of a model's name: "-3-8b-instruct", ".5-turbo"
_VERSION = rf"[\s-]?v?\d{_TAIL}"
_MODELS = [
    rf"chat-?gpt{_TAIL}",
    rf"gpt-?(?:\d|oss){_TAIL}",
    r"claude(?:[\s-]?\d+(?:\.\d+)?|[\s-](?:opus|sonnet|haiku|instant|code|ai))*"
    r"(?!\s+(?-i:[A-Z])(?!(?:opus|sonnet|haiku|instant|code|ai)\b))",
    rf"(?:code[\s-])?llama{_VERSION}", r"(?-i:LLaMA)",
    r"(?:google|meta)\s+(?:bard|gemini|gemma|llama)",
    rf"gemini(?:{_VERSION}|[\s-](?:pro|ultra|flash|nano|advanced){_TAIL})",
    rf"gemma{_VERSION}",
    rf"mistral(?:{_VERSION}|[\s-](?:ai|large|medium|small|nemo|instruct){_TAIL})",
    rf"mixtral{_TAIL}", rf"codestral{_TAIL}",
    rf"qwen{_TAIL}", r"qwq",
    rf"deep-?seek{_TAIL}",
    rf"grok{_VERSION}", r"(?-i:Grok)",
    rf"phi-?\d{_TAIL}",
    r"(?-i:Command)[\s-](?-i:R)(?:\+|-plus)?", r"command-r(?:\+|-plus)?",
    rf"yi-(?:\d|large|lightning){_TAIL}",
    rf"smollm{_TAIL}",
]
_MAKERS = (r"open\s?ai|anthropic|google(?:\s+deepmind)?|deepmind|meta(?:\s+ai)?|facebook|mistral(?:\s+ai)?"
           r"|alibaba(?:\s+cloud)?|qwen\s+team|deepseek|x\.?ai|microsoft|cohere|01\.ai|hugging\s?face"
           r"|zhipu|baidu|amazon|nvidia|ibm|databricks|lmsys")
_FAMILY_WORDS = (r"gpt[\w.-]*|chatgpt|claude|llama|gemini|gemma|bard|mistral|mixtral|qwen|deepseek|grok|phi"
                 r"|command\s?r|yi|smollm|palm|lamda|vicuna")
_CLAIMS = [
    rf"(?:made|trained|developed|created|built|designed|programmed|produced|owned|released)\s+(?:by|at)"
    rf"\s+(?:the\s+)?(?:(?:team|folks|researchers|engineers)\s+(?:at|of)\s+)?(?P<maker>{_MAKERS})",
    rf"(?:i\s+am|i'm|im)\s+(?:an?\s+)?(?:\w+\s+){{0,3}}?(?:model|assistant|ai|llm|chatbot)\s+"
    rf"(?:from|by|of)\s+(?P<lab>{_MAKERS})",
    rf"(?:i\s+am|i'm|my\s+name\s+is|call\s+me)\s+(?:an?\s+|the\s+)?(?P<model>{_FAMILY_WORDS})",
]


@dataclass(frozen=True)
class _Skeleton:
    """The skeleton of a text and, for each of its characters, where it came from."""
    text: str
    origin: list[int]


@cache
def _ascii_look_alikes() -> dict[str, str]:
    """Each non-ASCII character that TR39 finds confusable with an ASCII one, mapped to it.

    confusable_homoglyphs keeps TR39's data as a relation (each character with the characters it
    can be confused with, both ways) rather than as the source-to-prototype mapping, so the classes
    of confusable characters are rebuilt here with a union-find; the ASCII member of each class
    stands for all of them. Mappings to or from several characters ("rn" for "m") are left out:
    they need a rewrite of sequences, and the look-alike letters of other scripts are single."""
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])
            c = parent[c]
        return c

    for char, glyphs in confusables_data.items():
        char = char.strip("\u200e")
        for glyph in glyphs:
            other = glyph["c"].strip("\u200e")
            if len(char) == 1 and len(other) == 1:
                parent.setdefault(char, char)
                parent.setdefault(other, other)
                if root(char) != root(other):
                    parent[root(char)] = root(other)
    classes: dict[str, list[str]] = {}
    for char in parent:
        classes.setdefault(root(char), []).append(char)

    mapping: dict[str, str] = {}
    for members in classes.values():
        ascii_members = sorted(c for c in members if c.isascii())
        if not ascii_members:
            continue
        lower = [c for c in ascii_members if c.islower()]
        upper = [c for c in ascii_members if c.isupper()]
        others = [c for c in ascii_members if c.isdigit()] + [c for c in ascii_members if not c.isalnum()]
        for char in members:
            if char.isascii():
                continue
            if unicodedata.category(char) == "Nd":
                continue  # a digit of another script stays a digit
            preferred = (upper + lower) if char.isupper() else (lower + upper)
            mapping[char] = (preferred + others)[0]
    return mapping


@cache
def _fold(char: str) -> str:
    """What one character of an answer contributes to the skeleton (often nothing)."""
    look_alikes = _ascii_look_alikes()
    out = []
    for c in unicodedata.normalize("NFKC", char):
        if unicodedata.category(c) == "Cf" or _INVISIBLE.match(c):
            continue
        for d in unicodedata.normalize("NFD", c):
            if unicodedata.category(d) == "Mn":
                continue
            out.append(look_alikes.get(d, d))
    return "".join(out)


def skeleton(text: str) -> _Skeleton:
    chars, origin = [], []
    for index, char in enumerate(text):
        folded = char if char.isascii() else _fold(char)
        chars.append(folded)
        origin.extend([index] * len(folded))
    return _Skeleton("".join(chars), origin)


def _pattern(alternatives: Iterable[str]) -> re.Pattern | None:
    alternatives = list(alternatives)
    if not alternatives:
        return None
    return re.compile(rf"(?<![\w-])(?:{'|'.join(alternatives)})(?![\w-])", re.IGNORECASE)


def identity_pattern(words: Iterable[str]) -> re.Pattern | None:
    """Whole-word matcher for the endpoints' own words, in skeleton form."""
    words = {skeleton(w.strip()).text for w in words}
    words = sorted((w for w in words if len(w) >= MIN_WORD_LENGTH), key=len, reverse=True)
    return _pattern(re.escape(w) for w in words)


KNOWN_IDENTITIES = _pattern([*_CLAIMS, *_MODELS])


def _found(match: re.Match, text: str, bones: _Skeleton) -> str:
    """The words matched, as the answer wrote them, less the characters that drew nothing."""
    group = next((g for g in ("maker", "lab", "model") if g in match.re.groupindex and match.group(g)), 0)
    start, end = match.span(group)
    first, last = bones.origin[start], bones.origin[end - 1]
    return "".join(c for c in text[first:last + 1] if c.isascii() or _fold(c))


def find_identity_leak(texts: Iterable[str], endpoints) -> str | None:
    """The first model or maker an answer names or claims to be, as written there, or None."""
    patterns = [p for p in (identity_pattern(w for e in endpoints for w in e.identity_words()), KNOWN_IDENTITIES) if p]
    for text in texts:
        bones = skeleton(text)
        for pattern in patterns:
            match = pattern.search(bones.text)
            if match:
                return _found(match, text, bones)
    return None


def finished_answer_facts(text: str) -> dict:
    """What a vote needs to know about an answer, worked out once by the worker that finishes it
    (stored on the message) rather than by every vote: the model or maker it names, with the
    endpoints' words as they are when it finishes, and its style counts."""
    leak = find_identity_leak([text], ModelEndpoint.objects.all())
    return {"identity_leak": (leak or "")[:100], "style_counts": answer_style(text)}

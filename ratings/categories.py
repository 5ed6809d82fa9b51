"""Leaderboard categories: which battles count for which leaderboard.

Each category is decided from fields a battle already has (see `ratings.battles`), by cheap,
deterministic rules, so a battle's categories can be computed once when it is stored. LMArena
labels some categories with an LLM judge; the heuristics here are stated in each docstring.
`category_mask(battles, name)` gives the boolean mask for a named category.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from ratings.battles import Battles

LONG_PROMPT_TOKENS = 500


def is_multi_turn(turns: np.ndarray) -> np.ndarray:
    """Multi-turn: the conversation had more than one user turn before the vote (`turn > 1`)."""
    return np.asarray(turns) > 1


def is_long_prompt(prompt_tokens: np.ndarray, *, threshold: int = LONG_PROMPT_TOKENS) -> np.ndarray:
    """Longer query: the user's text has at least 500 tokens (LMArena's threshold), counted with
    `ratings.style.count_tokens`."""
    return np.asarray(prompt_tokens) >= threshold


# --- code -------------------------------------------------------------------------------------

_CODE_WORDS = {
    # FastChat's code_tagger.py: programming concepts and language names as whole words.
    "git", "github", "dataframe", "nginx", "pip", "python", "c++", "cpp", "java", "javascript",
    "typescript", "html", "css", "sql", "bash", "powershell", "matlab", "golang", "linux", "ubuntu",
}
_CODE_SUBSTRINGS = (
    "pull request", "import pandas", "import numpy", "import torch", "jax", "tensorflow", "pytorch",
    "keras", "scikit-learn", "sklearn", " apt-get ",
)
_CODE_PATTERNS = re.compile(
    "|".join([
        r"from \w+ import \w+", r"import \w+ as \w+", r"conda install \w+", r"pip install -r \w+",
        r"#include\s*[<\"][\w./]+[>\"]", r"\bdef \w+\(", r"\bfunction \w+\(", r"\bclass \w+[:(]",
        r";\s*$", r"\bSELECT\b.+\bFROM\b", r"\bconsole\.log\(", r"\bprintf\(", r"=>", r"\bpublic static\b",
    ]),
    re.MULTILINE,
)
_WORD = re.compile(r"[a-z0-9_+#]+")
_NOT_CODE_FENCE = re.compile(r"```(?:plaintext|markdown|text)\b.*?(?:```|$)", re.DOTALL)


def is_code(text: str) -> bool:
    """Code: the prompt has a ``` fence (other than plaintext/markdown/text ones), names a
    programming language or tool (FastChat's code_tagger list), or contains a line that looks
    like code (imports, includes, def/function/class headers, SQL, statements ending in ';',
    arrow functions). Mentions of "ascii art" are not code."""
    if "ascii art" in text.lower():
        return False
    text = _NOT_CODE_FENCE.sub("", text)
    if "```" in text:
        return True
    lowered = text.lower()
    if _CODE_WORDS.intersection(_WORD.findall(lowered)):
        return True
    if any(s in lowered for s in _CODE_SUBSTRINGS):
        return True
    return bool(_CODE_PATTERNS.search(text))


# --- math -------------------------------------------------------------------------------------

_LATEX = re.compile(
    r"\\(?:frac|int|sum|sqrt|lim|prod|partial|infty|cdot|times|binom|mathbb|log|sin|cos|tan|alpha|beta|theta|pi)\b"
    r"|\$[^$\n]*[\^_\\][^$\n]*\$|\\\(|\\\["
)
_EXPRESSION = re.compile(r"(?:\d|\b[a-z]\b|\))\s*(?:[-+*/×÷^]|\*\*)\s*(?:\d|\b[a-z]\b|\()")
# Not '-' ("1999-2000" is a range) and '/' only with spaces ("10/12/2023" is a date).
_ARITHMETIC = re.compile(r"\d\s*(?:[+*×÷^]|\*\*)\s*\(?\d|\d\s+/\s+\(?\d")
_EQUATION = re.compile(r"(?:\d|\b[a-z]\b|\))\s*(?:[-+*/×÷^]\s*(?:\d|\b[a-z]\b|\())?[^=\n]{0,40}=\s*[-\d(a-z?]")
_STRONG_MATH_WORDS = re.compile(
    r"\b(?:equations?|integrals?|integrate|derivatives?|differentiate|probability|theorems?|prove that|"
    r"eigen\w*|polynomials?|factorial|logarithms?|algebra\w*|calculus|trigonometr\w*|geometry)\b",
    re.IGNORECASE,
)
_MATH_WORDS = re.compile(
    r"\b(?:solve|matrix|matrices|prime numbers?|calculate|compute|percent(?:age)?|triangle|hypotenuse|"
    r"area of|volume of|arithmetic|fractions?|divisible|remainder|sum of|product of|how many)\b",
    re.IGNORECASE,
)


def is_math(text: str) -> bool:
    """Math: the prompt has LaTeX math (\\frac, \\int, $x^2$, ...), an equation with '=', an
    arithmetic expression between numbers ("17 * 23"; "1999-2000" and "10/12/2023" are not), a
    clearly mathematical word (equation, integral, probability, theorem, ...), or a softer one
    (solve, calculate, how many, sum of, ...) together with a number."""
    if _LATEX.search(text) or _STRONG_MATH_WORDS.search(text):
        return True
    lowered = text.lower()
    if _ARITHMETIC.search(lowered):
        return True
    if _EXPRESSION.search(lowered) and _EQUATION.search(lowered):
        return True
    return bool(_MATH_WORDS.search(text)) and bool(re.search(r"\d", text))


# --- language ---------------------------------------------------------------------------------

_SCRIPTS = (
    ("kana", "\u3040-\u30ff"),
    ("hangul", "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"),
    ("han", "\u4e00-\u9fff\u3400-\u4dbf"),
    ("cyrillic", "\u0400-\u04ff"),
    ("arabic", "\u0600-\u06ff"),
    ("devanagari", "\u0900-\u097f"),
    ("greek", "\u0370-\u03ff"),
    ("hebrew", "\u0590-\u05ff"),
    ("thai", "\u0e00-\u0e7f"),
    ("latin", "A-Za-z\u00c0-\u024f\u1e00-\u1eff"),
)
_SCRIPT_PATTERNS = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS}
_SCRIPT_LANGUAGE = {"hangul": "Korean", "han": "Chinese", "arabic": "Arabic", "devanagari": "Hindi",
                    "greek": "Greek", "hebrew": "Hebrew", "thai": "Thai"}
_STOPWORDS = {
    "English": "the a an and is are was of to in on at by from that it what how you for with this be can "
               "do does i me my we they your have has not or if will please write tell give make explain "
               "about which why when would should could there",
    "German": "der die das und ist nicht ich ein eine mit zu sie es wie auf für was wir sind auch "
              "oder bitte ein einen dem den",
    "French": "le la les et est des une un je pas que vous pour dans qui sur ce est-ce comment "
              "quoi avec sont mais du au",
    "Spanish": "el los las y es que una un por para con del cómo qué se lo como pero más está son "
               "tengo puedes a me",
    "Portuguese": "o os as um uma não é que do da em para com você como isso são está mais por "
                  "qual a me",
    "Italian": "il di che è la per un una non sono con come gli della questo perché anche ho "
               "sei mi",
    "Dutch": "de het een en is van niet ik dat je op voor wat zijn met hoe ook maar",
    "Polish": "i nie w się na jest że co to jak z do czy dla jestem mam",
    "Turkish": "ve bir bu için ne nasıl mi ile da de çok ben sen",
    "Vietnamese": "của và là không có trong được cho những một các với tôi bạn",
    "Indonesian": "yang dan di ini itu dengan untuk dari tidak ada saya apa bagaimana",
}
_STOPWORD_SETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
# A word shared by several languages is worth less to each of them.
_WORD_WEIGHT = Counter(word for words in _STOPWORD_SETS.values() for word in words)
_LATIN_WORD = re.compile(r"[a-zà-ɏḀ-ỿ'-]+")


def detect_language(text: str) -> str:
    """Language of a prompt by a script and stopword heuristic (no model, no dependency).

    First the writing system: the script with most letters wins; Han with any kana is Japanese,
    Cyrillic is Russian unless it has Ukrainian-only letters (і ї є ґ). For Latin script each
    language scores its common function words found in the text, a word shared by n languages
    counting 1/n; the best score wins, English on a tie. "unknown" when there are no letters or
    no function word at all (code, lists of numbers, single words).
    """
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPT_PATTERNS.items()}
    if counts["kana"] and counts["kana"] + counts["han"] >= max(counts["latin"], counts["hangul"], 1) * 0.2:
        return "Japanese"
    script = max(counts, key=counts.get)
    if counts[script] == 0:
        return "unknown"
    if script == "cyrillic":
        return "Ukrainian" if re.search("[іїєґІЇЄҐ]", text) else "Russian"
    if script == "arabic" and re.search("[پچژگ]", text):
        return "Persian"
    if script != "latin":
        return _SCRIPT_LANGUAGE.get(script, "unknown")
    words = _LATIN_WORD.findall(text.lower())
    scores = dict.fromkeys(_STOPWORD_SETS, 0.0)
    for word in words:
        weight = _WORD_WEIGHT.get(word)
        if weight:
            for lang, stopwords in _STOPWORD_SETS.items():
                if word in stopwords:
                    scores[lang] += 1.0 / weight
    best = max(scores, key=lambda lang: (scores[lang], lang == "English"))
    return best if scores[best] > 0 else "unknown"


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


CATEGORIES: dict[str, Callable[[Battles], np.ndarray]] = {
    "overall": lambda battles: np.ones(len(battles), dtype=bool),
    "multi_turn": lambda battles: is_multi_turn(_field(battles, "turn", "multi_turn")),
    "long_prompt": lambda battles: is_long_prompt(_field(battles, "prompt_tokens", "long_prompt")),
    "code": _text_mask(is_code, "code"),
    "math": _text_mask(is_math, "math"),
    "deduplicated": lambda battles: dedup_mask(_field(battles, "prompt", "deduplicated")),
    "english": _language_mask("English"),
    "non_english": lambda battles: ~np.isin(battle_languages(battles), ["English", "unknown"]),
    "chinese": _language_mask("Chinese"),
    "russian": _language_mask("Russian"),
    "japanese": _language_mask("Japanese"),
    "korean": _language_mask("Korean"),
    "german": _language_mask("German"),
    "french": _language_mask("French"),
    "spanish": _language_mask("Spanish"),
}


def category_mask(battles: Battles, name: str) -> np.ndarray:
    """Boolean mask of the battles in category `name` (one of `CATEGORIES`)."""
    if name not in CATEGORIES:
        raise ValueError(f"unknown category {name!r}; choose from {', '.join(CATEGORIES)}")
    return CATEGORIES[name](battles)

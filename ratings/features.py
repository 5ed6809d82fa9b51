"""Text features of prompts and answers: what the ratings need to know about a battle's text.

Pure functions, no Django: the vote path and the worker (through `arena`), the battle-file importer
and the rating math all count the same way. Answers get their style counts (length in tokens and
markdown elements, LMArena's style-control inputs); prompts get the facts that decide their
categories (language, code, math, length).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

import numpy as np

# --- answer style -----------------------------------------------------------------------------

STYLE_ELEMENTS = ("tokens", "headers", "lists", "bold")

_CODE_BLOCK = re.compile(r"```[^`]*```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED_ITEM = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED_ITEM = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STARS = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDERSCORES = re.compile(r"__[^_\n]+__")
# Latin and Cyrillic words (letters with their diacritics), digit groups of up to three, and
# any other visible character on its own (punctuation, each CJK character).
_TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f\u0400-\u04ff]+|\d{1,3}|[^\sA-Za-z\u00c0-\u024f\u0400-\u04ff\d]")


def count_markdown_elements(text: str) -> dict[str, int]:
    """Headers, list items and bold spans in a markdown answer, counted as LMArena does.

    Fenced code blocks are removed first. A header is a line starting with 1-6 '#' and a space;
    a list item a line starting with '-', '*', '+' or 'N.' and a space (indent allowed); a bold
    span is **text** or __text__ within one line.
    """
    text = _CODE_BLOCK.sub("", text)
    return {
        "headers": len(_HEADER.findall(text)),
        "lists": len(_ORDERED_ITEM.findall(text)) + len(_UNORDERED_ITEM.findall(text)),
        "bold": len(_BOLD_STARS.findall(text)) + len(_BOLD_UNDERSCORES.findall(text)),
    }


def count_tokens(text: str) -> int:
    """Approximate token count (no tokenizer dependency): words, digit groups of up to three and
    other characters one each. LMArena counts tiktoken tokens; style features only use the ratio
    between two answers, for which this is close enough."""
    return len(_TOKEN.findall(text))


# The style element of each typed vote column and the conv_metadata keys it compares (LMSYS names).
# The citation count is Search Arena's covariate: answers that cite more sources may win for that
# alone. It is 0 on both sides wherever no answer cites (the text arena), and a column that is 0
# for every vote drops out of the style fit (standardised to 0, its coefficient stays 0).
STYLE_COLUMNS = {
    "style_tokens": "sum_assistant_{}_tokens",
    "style_headers": "header_count_{}",
    "style_lists": "list_count_{}",
    "style_bold": "bold_count_{}",
    "style_citations": "citation_count_{}",
}


def relative_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """(a - b) / (a + b) elementwise, 0 where both are 0 (counts are never negative): a style
    feature before standardising (ratings.style)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = a + b
    return (a - b) / np.where(total == 0, 1.0, total)


def answer_style(text: str) -> dict[str, int]:
    """One answer's style counts (LMSYS's conv_metadata elements, for one message)."""
    return {"tokens": count_tokens(text), **count_markdown_elements(text)}


# --- prompt length ----------------------------------------------------------------------------

LONG_PROMPT_TOKENS = 500  # LMArena's "longer query" threshold, in `count_tokens` tokens


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


# --- a battle's features ----------------------------------------------------------------------

PROMPT_CHARS_KEPT = 4000


class Answer(Protocol):
    """What `battle_features` reads of an answer (an arena `Message` has it, and `citations`: the
    sources it cites, read when present)."""

    side: str
    text: str


def message_style(message: Answer) -> dict[str, int]:
    """The counts stored when the answer finished, or counted now for an answer stored without them."""
    return getattr(message, "style_counts", None) or answer_style(message.text)


def battle_features(prompts: list[str], messages: Iterable[Answer]) -> dict:
    """The LMSYS record fields of a battle, minus the conversations: what decides its categories
    and its style features. A side's style counts are the sums over its answers, one per turn."""
    messages = list(messages)
    prompt = "".join(f"{p}\n" for p in prompts)
    meta = {}
    for side in ("a", "b"):
        styles = [message_style(m) for m in messages if m.side == side]
        meta[f"sum_assistant_{side}_tokens"] = sum(s["tokens"] for s in styles)
        meta[f"header_count_{side}"] = sum(s["headers"] for s in styles)
        meta[f"list_count_{side}"] = sum(s["lists"] for s in styles)
        meta[f"bold_count_{side}"] = sum(s["bold"] for s in styles)
        meta[f"citation_count_{side}"] = sum(len(getattr(m, "citations", None) or []) for m in messages
                                             if m.side == side)
    return {"turn": len(prompts), "language": detect_language(prompt), "prompt": prompt[:PROMPT_CHARS_KEPT],
            "prompt_tokens": count_tokens(prompt), "code": is_code(prompt), "math": is_math(prompt),
            "prompt_hash": hashlib.sha1(prompt.strip().lower().encode()).hexdigest()[:16], "conv_metadata": meta}

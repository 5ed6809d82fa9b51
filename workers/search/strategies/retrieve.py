"""Retrieval-augmented answers: put the relevant passages of a local corpus into the prompt, cite them.

Only passages that pass the index's relevance threshold (`Hit.relevant`) are given to the model:
a question the corpus does not cover gets none, and its answer cites nothing. The passages go
into the last user message, numbered, with an instruction to cite them as [1], [2]. The answer
keeps its inline markers; the sources are data beside it (`sources`), which the page lists under
the answer in its own chrome: the cited passages, or, when the model cites none, every passage it
was shown, since they shaped the answer.
"""

from __future__ import annotations

import re

from ..index import Hit

INSTRUCTION = ("Answer the question using the numbered passages below. "
               "Cite the passages you use like [1].")


def augment(messages: list[dict], question: str, hits: list[Hit]) -> list[dict]:
    blocks = "\n\n".join(f"[{i}] {h.passage.title}\n{h.passage.text}" for i, h in enumerate(hits, 1))
    content = f"{INSTRUCTION}\n\n{blocks}\n\nQuestion: {question}"
    messages = [dict(m) for m in messages]
    for message in reversed(messages):
        if message.get("role") == "user":
            message["content"] = content
            break
    else:
        messages.append({"role": "user", "content": content})
    return messages


def relevant(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.relevant]


def cited(text: str, count: int) -> list[int]:
    numbers = {int(n) for n in re.findall(r"\[(\d{1,2})\]", text)}
    return sorted(n for n in numbers if 1 <= n <= count)


def sources(text: str, hits: list[Hit]) -> list[dict]:
    """The answer's sources as {n, title, source}, n being the number the passage had in the prompt."""
    if not hits:
        return []
    numbers = cited(text, len(hits)) or list(range(1, len(hits) + 1))
    return [{"n": n, "title": hits[n - 1].passage.title, "source": hits[n - 1].passage.source} for n in numbers]

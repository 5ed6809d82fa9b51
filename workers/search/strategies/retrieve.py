"""Retrieval-augmented answers: put the best passages of a local corpus into the prompt, cite them.

The passages go into the last user message, numbered, with an instruction to cite them
as [1], [2]. After generation the cited passages are listed under the answer; when the
model cites none, all passages it was shown are listed, since they shaped the answer.
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


def cited(text: str, count: int) -> list[int]:
    numbers = {int(n) for n in re.findall(r"\[(\d{1,2})\]", text)}
    return sorted(n for n in numbers if 1 <= n <= count)


def with_sources(text: str, hits: list[Hit]) -> str:
    numbers = cited(text, len(hits)) or list(range(1, len(hits) + 1))
    lines = [f"[{n}] {hits[n - 1].passage.title} — {hits[n - 1].passage.source}" for n in numbers]
    return text.rstrip() + "\n\nSources:\n" + "\n".join(lines)

"""What the ratings need to know about a battle, computed once when it is voted on: the facts that
decide its categories and its style features (the LMSYS record fields, minus the conversations)."""

import hashlib

from arena.models import Message
from ratings.categories import detect_language, is_code, is_math
from ratings.style import count_markdown_elements, count_tokens

PROMPT_CHARS_KEPT = 4000


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

"""Turn a conversation into the prompt token ids a chat model expects."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase


def render_prompt(
    tokenizer: PreTrainedTokenizerBase,
    messages: list[dict],
    *,
    system_prompt: str | None = None,
    chat_template: str | None = None,
) -> list[int]:
    """Apply the chat template (or ``chat_template``) and end with the assistant's turn opener.

    ``system_prompt`` is added as a leading system message; a conversation that
    already starts with one is rejected rather than silently overridden.
    Control tokens typed into messages (``<|im_end|>`` and the like) are encoded
    as plain text, so users cannot forge turns or system messages.
    """
    if not messages:
        raise ValueError("A prompt needs at least one message.")
    if system_prompt is not None:
        if messages[0].get("role") == "system":
            raise ValueError("The conversation already has a system message; pass only one.")
        messages = [{"role": "system", "content": system_prompt}, *messages]
    if chat_template is None and not tokenizer.chat_template:
        raise ValueError(f"Tokenizer {tokenizer.name_or_path!r} has no chat template; pass chat_template=.")
    ids = tokenizer.apply_chat_template(
        messages,
        chat_template=chat_template,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=False,
        sanitize_control_tokens=True,
    )
    return list(ids)

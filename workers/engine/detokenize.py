"""Turn a growing list of token ids into text pieces for streaming.

Decoding token by token breaks multi-byte characters (one emoji can span
several byte-level tokens) and loses the spaces some tokenizers add only
between tokens. So each step decodes a short window of recent tokens twice,
without and with the new ones, and emits the difference once the window no
longer ends in an incomplete character (U+FFFD).
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

INCOMPLETE = "\ufffd"


class IncrementalDecoder:
    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self._tokenizer = tokenizer
        self._tokens: list[int] = []
        self._prefix_offset = 0  # start of the context window re-decoded each step
        self._read_offset = 0  # tokens before this have been emitted as text

    def push(self, token_ids: list[int]) -> str:
        """Add tokens; return the new text that is now safe to show (may be empty)."""
        self._tokens.extend(token_ids)
        prefix = self._decode(self._tokens[self._prefix_offset : self._read_offset])
        full = self._decode(self._tokens[self._prefix_offset :])
        if len(full) <= len(prefix) or full.endswith(INCOMPLETE):
            return ""
        self._prefix_offset = self._read_offset
        self._read_offset = len(self._tokens)
        return full[len(prefix) :]

    def flush(self) -> str:
        """Return whatever is still held back, incomplete characters included."""
        if self._read_offset == len(self._tokens):
            return ""
        prefix = self._decode(self._tokens[self._prefix_offset : self._read_offset])
        full = self._decode(self._tokens[self._prefix_offset :])
        self._prefix_offset = self._read_offset = len(self._tokens)
        return full[len(prefix) :]

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

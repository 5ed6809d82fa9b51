import pytest

from workers.engine.detokenize import IncrementalDecoder

TEXT = "Café 🌍 naïve — 世界! 👩‍👩‍👧 ok"


def test_it_never_splits_a_character_or_repeats_text(tiny):
    # The tiny tokenizer knows few merges, so emoji and CJK arrive one byte per token.
    ids = tiny.tokenizer.encode(TEXT, add_special_tokens=False)
    assert len(ids) > len(TEXT)
    decoder = IncrementalDecoder(tiny.tokenizer)
    pieces = [decoder.push([token]) for token in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == TEXT
    assert all("\ufffd" not in piece for piece in pieces)


@pytest.mark.slow
def test_it_keeps_the_spaces_between_tokens(smollm2):
    text = "The capital of France is Paris. 🇫🇷"
    decoder = IncrementalDecoder(smollm2.tokenizer)
    pieces = [decoder.push([token]) for token in smollm2.tokenizer.encode(text, add_special_tokens=False)]
    assert "".join(pieces) + decoder.flush() == text


def test_it_flushes_an_unfinished_character_at_the_end(tiny):
    ids = tiny.tokenizer.encode("a🌍", add_special_tokens=False)
    decoder = IncrementalDecoder(tiny.tokenizer)
    text = "".join(decoder.push([token]) for token in ids[:-1])
    assert text == "a"
    assert decoder.flush() == "\ufffd"

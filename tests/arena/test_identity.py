from types import SimpleNamespace

from arena.identity import find_identity_leak


def endpoint(*words):
    return SimpleNamespace(identity_words=lambda: list(words))


def test_it_finds_a_model_or_maker_named_in_an_answer():
    endpoints = [endpoint("llama-3-8b", "Meta", "Llama"), endpoint("claude-3", "Anthropic")]
    assert find_identity_leak(["I am an AI made by anthropic."], endpoints) == "anthropic"
    assert find_identity_leak(["Hello!", "I'm Llama, happy to help"], endpoints) == "Llama"


def test_it_matches_whole_words_only():
    endpoints = [endpoint("Meta", "GPT")]
    assert find_identity_leak(["Metaphors and metadata are fine; so is GPTQ."], endpoints) is None
    assert find_identity_leak([""], [endpoint("", "  ", "ab")]) is None

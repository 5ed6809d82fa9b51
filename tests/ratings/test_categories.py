import numpy as np
import pytest

from ratings.battles import battles_from_records
from ratings.categories import (
    CATEGORIES,
    category_mask,
    dedup_mask,
    detect_language,
    is_code,
    is_long_prompt,
    is_math,
    is_multi_turn,
)


def test_it_calls_a_battle_multi_turn_after_the_first_turn():
    assert is_multi_turn(np.array([1, 2, 5])).tolist() == [False, True, True]


def test_it_calls_a_prompt_long_from_500_tokens():
    assert is_long_prompt(np.array([499, 500, 2000])).tolist() == [False, True, True]


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a python function to reverse a list",
        "How do I center a div in CSS?",
        "Why does this fail?\n```\nx = [1, 2\n```",
        "SELECT name FROM users WHERE id = 1",
        "from collections import Counter\nCounter('abc')",
        "#include <stdio.h>\nint main() { return 0; }",
    ],
)
def test_it_recognises_code_prompts(prompt):
    assert is_code(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Tell me a joke about cats",
        "Draw me ascii art of a cat in ```plaintext``` please",
        "```plaintext\nDear John, thanks for the letter\n```",
    ],
)
def test_it_leaves_other_prompts_out_of_code(prompt):
    assert not is_code(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "Solve 3x + 5 = 20",
        "What is 17 * 23?",
        "Compute the integral \\int_0^1 x^2 dx",
        "Show that $a^2 + b^2 = c^2$ for a right triangle",
        "How many apples are left if I have 5 and eat 2?",
        "What is the probability of two heads in a row?",
    ],
)
def test_it_recognises_math_prompts(prompt):
    assert is_math(prompt)


@pytest.mark.parametrize(
    "prompt",
    ["Write a poem with 5 stanzas", "The war lasted 1939-1945", "We met on 10/12/2023", "How are you?"],
)
def test_it_leaves_numbers_that_are_not_math_out(prompt):
    assert not is_math(prompt)


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("The quick brown fox jumps over the lazy dog and runs away", "English"),
        ("Wie geht es dir? Ich bin müde und das ist nicht gut", "German"),
        ("Bonjour, comment allez-vous? Je suis fatigué", "French"),
        ("¿Cómo estás? Estoy cansado y quiero dormir", "Spanish"),
        ("Olá, como você está? Eu não sei", "Portuguese"),
        ("你好，请介绍一下你自己", "Chinese"),
        ("こんにちは、お元気ですか？日本語", "Japanese"),
        ("안녕하세요 반갑습니다", "Korean"),
        ("Привет, как дела?", "Russian"),
        ("Привіт, як справи? Її", "Ukrainian"),
        ("مرحبا كيف حالك", "Arabic"),
        ("def f(x): return x**2", "unknown"),
        ("12345", "unknown"),
    ],
)
def test_it_detects_the_prompt_language(prompt, language):
    assert detect_language(prompt) == language


def test_it_down_samples_only_the_most_repeated_prompts():
    prompts = ["hi"] * 50 + ["hello"] * 3 + [f"question {i}" for i in range(100)]
    keep = dedup_mask(prompts, percentile=0.995)
    # Per-prompt counts sorted: 1 (x100), 3, 50; the 0.995 quantile sits at position 0.995 * 101
    # = 100.495, i.e. 3 + 0.495 * (50 - 3) = 26.265. "hi" keeps int(26.265) = 26 of its 50
    # battles; "hello" (3) and the unique prompts are below the cutoff and keep all theirs.
    assert keep[:50].sum() == 26
    assert keep[50:].all()
    assert dedup_mask(prompts, percentile=0.995).tolist() == keep.tolist()  # seeded


def _battles():
    conversation = lambda text, answer="ok": [  # noqa: E731
        {"role": "user", "content": text},
        {"role": "assistant", "content": answer},
    ]
    prompts = ["Write a python script", "Solve 2x = 4", "Wie geht es dir? Das ist nicht gut", "Tell me a story"]
    records = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "turn": turn,
         "conversation_a": conversation(p), "conversation_b": conversation(p)}
        for p, turn in zip(prompts, [1, 1, 1, 3])
    ]
    return battles_from_records(records)


def test_it_selects_each_category_from_battle_fields():
    battles = _battles()
    assert category_mask(battles, "overall").tolist() == [True, True, True, True]
    assert category_mask(battles, "code").tolist() == [True, False, False, False]
    assert category_mask(battles, "math").tolist() == [False, True, False, False]
    assert category_mask(battles, "multi_turn").tolist() == [False, False, False, True]
    assert category_mask(battles, "german").tolist() == [False, False, True, False]
    assert category_mask(battles, "english").tolist() == [True, False, False, True]
    assert category_mask(battles, "long_prompt").tolist() == [False] * 4
    assert category_mask(battles, "deduplicated").all()
    assert set(CATEGORIES) >= {"overall", "code", "math", "multi_turn", "long_prompt", "deduplicated"}


def test_it_says_which_field_a_category_needs():
    records = [{"model_a": "a", "model_b": "b", "winner": "tie"}]
    with pytest.raises(ValueError, match="'prompt'"):
        category_mask(battles_from_records(records), "code")
    with pytest.raises(ValueError, match="unknown category"):
        category_mask(battles_from_records(records), "poetry")

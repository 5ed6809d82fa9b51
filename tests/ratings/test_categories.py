import numpy as np
import pytest

from ratings.categories import CATEGORIES, category_mask, dedup_mask, is_long_prompt, is_multi_turn
from ratings.lmsys import battles_from_records


def test_it_calls_a_battle_multi_turn_after_the_first_turn():
    assert is_multi_turn(np.array([1, 2, 5])).tolist() == [False, True, True]


def test_it_calls_a_prompt_long_from_500_tokens():
    assert is_long_prompt(np.array([499, 500, 2000])).tolist() == [False, True, True]


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

import io
import json

import numpy as np
import pytest

from ratings.battles import (
    Battles,
    Outcome,
    aggregate,
    battles_from_records,
    pair_counts_from_arrays,
    read_battles,
    write_battles,
)

RECORDS = [
    {
        "model_a": "gpt-x",
        "model_b": "llama-y",
        "winner": "model_a",
        "turn": 1,
        "anony": True,
        "language": "English",
        "tstamp": 1700000000.5,
        "conversation_a": [
            {"role": "user", "content": "Write a haiku"},
            {"role": "assistant", "content": "# Title\n**Soft** rain on the roof\n- one\n- two"},
        ],
        "conversation_b": [
            {"role": "user", "content": "Write a haiku"},
            {"role": "assistant", "content": "Rain falls"},
        ],
    },
    {
        "model_a": "llama-y",
        "model_b": "claude-z",
        "winner": "tie (bothbad)",
        "turn": 2,
        "anony": False,
        "language": "German",
        "tstamp": 1700000001.0,
        "conversation_a": [
            {"role": "user", "content": "Hallo"},
            {"role": "assistant", "content": "Hallo!"},
            {"role": "user", "content": "Wie geht es dir?"},
            {"role": "assistant", "content": "Gut."},
        ],
        "conversation_b": [
            {"role": "user", "content": "Hallo"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Wie geht es dir?"},
            {"role": "assistant", "content": "Sehr gut, danke."},
        ],
    },
    {"model_a": "claude-z", "model_b": "gpt-x", "winner": "tie", "turn": 1, "anony": True,
     "language": "English", "tstamp": 1700000002.0,
     "conversation_a": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}],
     "conversation_b": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "**4**"}]},
    {"model_a": "gpt-x", "model_b": "claude-z", "winner": "model_b", "turn": 1, "anony": True,
     "language": "English", "tstamp": 1700000003.0,
     "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
     "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey there"}]},
]


def test_it_reads_a_json_list_and_json_lines_alike():
    as_list = read_battles(io.StringIO(json.dumps(RECORDS)))
    as_lines = read_battles(io.StringIO("\n".join(json.dumps(r) for r in RECORDS) + "\n"))
    for battles in (as_list, as_lines):
        assert battles.models == ("claude-z", "gpt-x", "llama-y")  # sorted, like arena-rank
        assert battles.model_a.tolist() == [1, 2, 0, 1]
        assert battles.model_b.tolist() == [2, 0, 1, 0]
        assert battles.outcome.tolist() == [Outcome.A, Outcome.BOTH_BAD, Outcome.TIE, Outcome.B]


def test_it_keeps_the_optional_fields():
    battles = battles_from_records(RECORDS)
    assert battles.fields["turn"].tolist() == [1, 2, 1, 1]
    assert battles.fields["anony"].tolist() == [True, False, True, True]
    assert battles.fields["language"].tolist() == ["English", "German", "English", "English"]
    assert battles.fields["tstamp"][0] == 1700000000.5
    assert battles.fields["prompt"][1] == "Hallo\nWie geht es dir?\n"  # the user turns
    # Tokens, headers, lists, bold of the answers. "# Title / **Soft** rain on the roof / - one /
    # - two" is 15 tokens (# Title * * Soft * * rain on the roof - one - two), 1 header, 2 items, 1 bold.
    assert battles.fields["style_a"][0].tolist() == [15, 1, 2, 1]
    assert battles.fields["style_b"][2].tolist() == [5, 0, 0, 1]  # "**4**": * * 4 * *, one bold


def test_it_drops_a_field_that_some_records_lack():
    records = [dict(r) for r in RECORDS]
    del records[2]["language"]
    battles = battles_from_records(records)
    assert "language" not in battles.fields
    assert "turn" in battles.fields


def test_it_counts_user_turns_when_a_record_has_no_turn_field():
    records = [{k: v for k, v in r.items() if k != "turn"} for r in RECORDS]
    assert battles_from_records(records).fields["turn"].tolist() == [1, 2, 1, 1]


def test_it_prefers_lmarena_conv_metadata_for_style_counts():
    record = {
        "model_a": "a", "model_b": "b", "winner": "model_a",
        "conv_metadata": {
            "sum_assistant_a_tokens": 120, "sum_assistant_b_tokens": 80,
            "header_count_a": {"h1": 1, "h2": 2}, "header_count_b": {"h1": 0},
            "list_count_a": {"ordered": 3, "unordered": 1}, "list_count_b": {"ordered": 0, "unordered": 0},
            "bold_count_a": {"**": 2, "__": 0}, "bold_count_b": 1,
        },
    }
    battles = battles_from_records([record])
    assert battles.fields["style_a"].tolist() == [[120, 3, 4, 2]]
    assert battles.fields["style_b"].tolist() == [[80, 0, 0, 1]]


def test_it_rejects_an_unknown_winner():
    with pytest.raises(ValueError, match="unknown winner 'model_c'"):
        battles_from_records([{"model_a": "a", "model_b": "b", "winner": "model_c"}])


def test_it_writes_what_it_reads(tmp_path):
    battles = battles_from_records(RECORDS)
    for jsonl in (True, False):
        path = tmp_path / f"battles-{jsonl}.json"
        write_battles(battles, path, jsonl=jsonl)
        again = read_battles(path)
        assert again.models == battles.models
        for name in ("model_a", "model_b", "outcome"):
            assert getattr(again, name).tolist() == getattr(battles, name).tolist()
        assert set(again.fields) == set(battles.fields)
        for name, values in battles.fields.items():
            assert again.fields[name].tolist() == values.tolist()


def test_it_aggregates_to_counts_per_unordered_pair_seen_from_the_lower_index():
    battles = battles_from_records(RECORDS)
    counts = aggregate(battles)
    # models: 0 claude-z, 1 gpt-x, 2 llama-y
    # gpt-x beat llama-y (1 vs 2): pair (1, 2), A win
    # llama-y vs claude-z both bad: pair (0, 2), both bad
    # claude-z vs gpt-x tie, then gpt-x lost to claude-z: pair (0, 1), one tie and one A win for claude-z
    assert counts.pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert counts.counts.tolist() == [[1, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    assert counts.n.tolist() == [2, 1, 1]
    assert counts.score.tolist() == [1.5, 0.5, 1.0]
    assert counts.total == 4


def test_it_aggregates_large_model_counts_by_sorting_too(monkeypatch):
    import ratings.battles as module

    rng = np.random.default_rng(0)
    a = rng.integers(0, 40, 5000)
    b = (a + rng.integers(1, 40, 5000)) % 40
    battles = Battles(tuple(str(i) for i in range(40)), a, b, rng.integers(0, 4, 5000).astype(np.int8))
    dense = aggregate(battles)
    monkeypatch.setattr(module, "_DENSE_CELL_LIMIT", 0)
    sorted_ = aggregate(battles)
    assert sorted_.pairs.tolist() == dense.pairs.tolist()
    assert sorted_.counts.tolist() == dense.counts.tolist()
    rebuilt = pair_counts_from_arrays(40, np.stack([b, a], axis=1), np.eye(4)[[1, 0, 2, 3]][battles.outcome])
    assert rebuilt.counts.tolist() == dense.counts.tolist()


def test_it_selects_battles_and_keeps_the_model_list():
    battles = battles_from_records(RECORDS)
    english = battles.select(battles.fields["language"] == "English")
    assert len(english) == 3
    assert english.models == battles.models
    assert english.fields["turn"].tolist() == [1, 1, 1]
    assert battles.votes_per_model().tolist() == [3, 3, 2]

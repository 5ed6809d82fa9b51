"""The public LMSYS battle format read into `Battles` and written back."""

import io
import json

import pytest

from ratings.battle_arrays import Outcome
from ratings.battle_files import read_battles
from ratings.lmsys import battles_from_records
from tests.ratings.helpers import RECORDS


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
    with pytest.raises(ValueError, match="row 1: unknown winner 'model_c'"):
        battles_from_records([{"model_a": "a", "model_b": "b", "winner": "model_c"}])

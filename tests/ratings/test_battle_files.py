"""Battle files as LMSYS/LMArena publish them: JSON lines, a JSON list and Parquet, read alike; a bad row
is named by its line."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from ratings.battle_files import read_battles, write_battles
from ratings.lmsys import battles_from_records
from tests.ratings.helpers import RECORDS, synthetic_records

# A record shaped like LMArena's clean-battle files: no conversations, style counts per markdown level.
LMARENA = {
    "question_id": "9f0c", "model_a": "gpt-x", "model_b": "llama-y", "winner": "both_bad", "judge": "arena_user_7",
    "turn": 1, "anony": True, "language": "English", "tstamp": 1723000000.25,
    "conv_metadata": {"sum_user_tokens": 12, "sum_assistant_a_tokens": 120, "sum_assistant_b_tokens": 80,
                      "header_count_a": {"h1": 1, "h2": 2}, "header_count_b": {"h1": 0, "h2": 0},
                      "list_count_a": {"ordered": 3, "unordered": 1}, "list_count_b": {"ordered": 0, "unordered": 0},
                      "bold_count_a": {"**": 2, "__": 0}, "bold_count_b": {"**": 1, "__": 0}},
    "dedup_tag": {"high_freq": False, "sampled": True},
}


def write(path, records, fmt):
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    elif fmt == "json":
        path.write_text(json.dumps(records, indent=1))
    else:
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def as_lists(battles):
    return (battles.models, battles.model_a.tolist(), battles.model_b.tolist(), battles.outcome.tolist(),
            {name: values.tolist() for name, values in battles.fields.items()})


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_it_reads_each_published_format_as_the_records_say(tmp_path, fmt):
    expected = as_lists(battles_from_records(RECORDS))
    assert as_lists(read_battles(write(tmp_path / f"b.{fmt}", RECORDS, fmt))) == expected
    assert set(expected[4]) == {"turn", "anony", "tstamp", "language", "prompt", "prompt_tokens", "style_a", "style_b"}


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_it_sums_lmarena_style_counts_per_markdown_level(tmp_path, fmt):
    battles = read_battles(write(tmp_path / f"b.{fmt}", [LMARENA, {**LMARENA, "winner": "model_b"}], fmt))
    assert battles.outcome.tolist() == [3, 1]  # "both_bad" is "tie (bothbad)"
    assert battles.fields["style_a"].tolist() == [[120, 3, 4, 2]] * 2
    assert battles.fields["style_b"].tolist() == [[80, 0, 0, 1]] * 2
    assert battles.fields["tstamp"].tolist() == [1723000000.25] * 2


@pytest.mark.parametrize("fmt", ["jsonl", "json", "parquet"])
def test_it_writes_what_it_reads(tmp_path, fmt):
    battles = read_battles(write(tmp_path / "in.jsonl", synthetic_records(200, seed=4), "jsonl"))
    path = tmp_path / f"out.{fmt}"
    write_battles(battles, path)
    assert as_lists(read_battles(path)) == as_lists(battles)


def test_it_reads_lines_whose_columns_change_type(tmp_path):
    """A count that is a number in one line and an object in the next is still read (row by row)."""
    flat = {**LMARENA, "conv_metadata": {**LMARENA["conv_metadata"], "header_count_a": 3}}
    battles = read_battles(write(tmp_path / "b.jsonl", [LMARENA, flat], "jsonl"))
    assert battles.fields["style_a"][:, 1].tolist() == [3, 3]


def test_it_reads_only_the_fields_asked_for(tmp_path):
    battles = read_battles(write(tmp_path / "b.jsonl", RECORDS, "jsonl"), fields={"anony"})
    assert list(battles.fields) == ["anony"]


def lines_with(bad: str) -> str:
    good = json.dumps({"model_a": "a", "model_b": "b", "winner": "model_a", "turn": 1})
    return "\n".join([good, "", good, bad, good]) + "\n"  # the bad record is on line 4


@pytest.mark.parametrize(("bad", "message"), [
    ('{"model_a": "a", "model_b": "b", "winner": "model_c"}', "line 4: unknown winner 'model_c'"),
    ('{"model_a": "a", "model_b": "b", "winner": ', "line 4: not JSON"),
    ('{"model_a": "a", "winner": "tie"}', "line 4: model_b is missing"),
    ('{"model_a": "a", "model_b": "a", "winner": "tie"}', "line 4: model_a and model_b are both 'a'"),
    ('{"model_a": "a", "model_b": "b", "winner": "tie", "turn": "two"}', "line 4: turn must be an integer, not 'two'"),
    ('{"model_a": "a", "model_b": 7, "winner": "tie"}', "line 4: model_b must be a string, not 7"),
    ('["a", "b", "tie"]', "line 4: a battle is a JSON object, not list"),
])
def test_it_names_the_line_of_the_first_bad_record(tmp_path, bad, message):
    path = tmp_path / "b.jsonl"
    path.write_text(lines_with(bad))
    with pytest.raises(ValueError, match=message):
        read_battles(path)


def test_it_names_the_record_of_a_json_list_and_the_row_of_a_parquet_file(tmp_path):
    tie = {"model_a": "a", "model_b": "b", "winner": "tie"}
    records = [tie, tie, {**tie, "winner": "x"}]
    with pytest.raises(ValueError, match="record 3: unknown winner 'x'"):
        read_battles(write(tmp_path / "b.json", records, "json"))
    with pytest.raises(ValueError, match="row 3: unknown winner 'x'"):
        read_battles(write(tmp_path / "b.parquet", records, "parquet"))
    with pytest.raises(ValueError, match="line 2, column 1: not JSON"):
        read_battles(io.StringIO('[{"model_a": "a", "model_b": "b", "winner": "tie"},\n}'))


def test_a_parquet_file_of_many_row_groups_reads_as_its_records(tmp_path):
    """Its model and winner columns come back dictionary-encoded, one dictionary per row group, each
    holding only that group's models; the rows must still map onto one sorted list of models."""
    records = synthetic_records(200, seed=3)
    path = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=7)
    assert pq.ParquetFile(path).num_row_groups > 20
    assert as_lists(read_battles(path)) == as_lists(battles_from_records(records))


@pytest.mark.parametrize("bad, message", [
    ({"winner": "model_c"}, "row 38: unknown winner 'model_c'"),
    ({"model_b": "a"}, "row 38: model_a and model_b are both 'a'"),
    ({"model_a": None}, "row 38: model_a is missing"),
])
def test_a_bad_row_deep_in_a_parquet_file_is_named(tmp_path, bad, message):
    records = [{"model_a": "a", "model_b": f"b{i % 5}", "winner": "tie"} for i in range(60)]
    records[37] = {**records[37], **bad}
    path = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=10)
    with pytest.raises(ValueError, match=message):
        read_battles(path)


def test_the_leaderboard_command_reads_parquet_and_json_lines_alike(tmp_path):
    records = synthetic_records(400, seed=9)
    outputs = []
    for fmt in ("jsonl", "parquet"):
        out = io.StringIO()
        call_command("leaderboard", "--battles", str(write(tmp_path / f"b.{fmt}", records, fmt)), "--format", "json",
                     "--style-control", stdout=out)
        outputs.append(json.loads(out.getvalue()))
    assert outputs[0] == outputs[1]
    assert {row["model"] for row in outputs[0]} == {"m-strong", "m-mid", "m-weak", "m-new"}


def test_the_leaderboard_command_names_the_bad_line(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(lines_with('{"model_a": "a", "model_b": "b", "winner": "model_c"}'))
    with pytest.raises(CommandError, match=r"b\.jsonl is not a battles file: line 4: unknown winner 'model_c'"):
        call_command("leaderboard", "--battles", str(path))

"""Fixtures of the ratings tests: battles imported into the arena's database."""

import json

import pytest
from django.core.management import call_command

from ratings.battle_files import read_battles
from tests.ratings.helpers import synthetic_records


@pytest.fixture
def imported(arena_db, tmp_path):
    records = synthetic_records(300, seed=11)
    for i, record in enumerate(records):  # some prompts many times (de-duplication), some long ones
        prompt = "Repeated prompt" if i % 3 == 0 else " ".join(["word"] * 600) if i % 10 == 1 else None
        for message in record["conversation_a"] + record["conversation_b"]:
            if prompt and message["role"] == "user":
                message["content"] = prompt
    path = tmp_path / "battles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path))
    return read_battles(path)

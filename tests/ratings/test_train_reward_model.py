"""The reward verifier learns from the arena's own votes (`manage.py train_reward_model`)."""

import json

import pytest
from django.core.management import CommandError, call_command

from workers.search.reward_model import RewardModel

GOOD = "Paris is the capital of France. It has been the capital since the tenth century."
BAD = "I don't know. Maybe bananas."


def test_it_trains_on_votes_and_reports_heldout_accuracy(arena_db, tmp_path, capsys):
    records = []
    for i in range(40):
        question = f"Question {i}: what is the capital of France?"
        good_first = i % 2 == 0
        conv = lambda answer: [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        records.append({"model_a": "m1", "model_b": "m2", "winner": "model_a" if good_first else "model_b",
                        "conversation_a": conv(GOOD if good_first else BAD),
                        "conversation_b": conv(BAD if good_first else GOOD)})
    path = tmp_path / "votes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path))
    output = tmp_path / "reward.npz"
    capsys.readouterr()
    call_command("train_reward_model", "--output", str(output))
    out = capsys.readouterr().out
    assert "40 preference pairs" in out and "held-out pairwise accuracy 1.000" in out
    model = RewardModel.load(output)
    good, bad = model.score(["what is the capital of France?"] * 2, [GOOD, BAD])
    assert good > bad


def test_it_explains_when_there_are_too_few_votes(arena_db, tmp_path):
    with pytest.raises(CommandError):
        call_command("train_reward_model", "--output", str(tmp_path / "r.npz"))

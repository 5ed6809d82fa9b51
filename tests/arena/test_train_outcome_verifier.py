"""`manage.py train_outcome_verifier`: samples the real model on questions with known answers and fits the verifier."""

import json

import pytest
from django.core.management import CommandError, call_command

from workers.search.outcome_model import OutcomeModel

# Small sums SmolLM2 gets right, and products it does not, so the samples hold both labels.
TASKS = [("What is 2 + 3?", 5), ("What is 4 + 4?", 8), ("What is 6 + 1?", 7), ("What is 3 + 5?", 8),
         ("What is 4817 * 29?", 139693), ("What is 9631 * 47?", 452657)]


@pytest.mark.slow
def test_it_samples_the_model_labels_and_saves_a_verifier(tmp_path, capsys):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in TASKS))
    output = tmp_path / "outcome.npz"
    call_command("train_outcome_verifier", "--tasks", str(tasks), "--output", str(output), "--dtype", "float32",
                 "--params", '{"n": 4, "temperature": 0.7, "max_new_tokens": 24, "seed": 0}',
                 "--system", "Answer with 'Answer: <number>'.")
    out = capsys.readouterr().out
    assert "[6/6]" in out and "24 samples" in out and "held-out accuracy" in out
    model = OutcomeModel.load(output)
    assert model.trained_samples > 0
    assert model.probability(["What is 2 + 3?"], ["2 + 3 = 5\nAnswer: 5"]).shape == (1,)


@pytest.mark.parametrize("content, params, sentence", [
    ('{"question": "2 + 2?"}\n', "{}", "line 1 needs"),
    ("", "{}", "has no tasks"),
    ('{"question": "2 + 2?", "answer": 4}\n', "[1]", "--params must be a JSON object"),
    ('{"question": "2 + 2?", "answer": 4}\n', "{n: 4}", "--params is not JSON"),
    ('{"question": "2 + 2?", "answer": 4}\n', '{"n": 0}', "n must be between 1 and 64"),
])
def test_it_explains_bad_input_before_loading_a_model(tmp_path, content, params, sentence):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(content)
    with pytest.raises(CommandError, match=sentence):
        call_command("train_outcome_verifier", "--tasks", str(tasks), "--params", params,
                     "--model", "/nonexistent/model")


def test_it_explains_a_missing_tasks_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("train_outcome_verifier", "--tasks", str(tmp_path / "none.jsonl"))

"""A leaderboard for a given prompt: votes on similar prompts count most."""

import json

from django.core.management import call_command

CODE = ["Write a python function that reverses a linked list", "Fix this JavaScript bug in my React component",
        "How do I write a SQL query joining two tables", "Implement quicksort in C++"]
COOKING = ["Give me a recipe for a chocolate cake", "How long should I boil pasta",
           "What spices go well with roasted chicken", "How do I make a fluffy omelette"]


def test_the_best_model_depends_on_the_kind_of_prompt(api, arena_db, tmp_path):
    records = []
    for i in range(160):
        coding = i % 2 == 0
        prompt = (CODE if coding else COOKING)[(i // 2) % 4]
        winner = "model_a" if coding else "model_b"  # the coder wins code, the chef wins cooking
        if i % 10 == 0:
            winner = "model_b" if coding else "model_a"  # and not always
        records.append({"model_a": "coder-model", "model_b": "chef-model", "winner": winner,
                        "conversation_a": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "…"}],
                        "conversation_b": [{"role": "user", "content": prompt}, {"role": "assistant", "content": "…"}]})
    path = tmp_path / "votes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path))

    code_board = api.post("/api/leaderboard/for-prompt", {"prompt": "Write a Python script to parse a CSV file"})
    assert code_board.status_code == 200, code_board.text
    cooking_board = api.post("/api/leaderboard/for-prompt", {"prompt": "What is a good recipe for banana bread?"})
    assert [r["model"] for r in code_board.json()["rows"]] == ["coder-model", "chef-model"]
    assert [r["model"] for r in cooking_board.json()["rows"]] == ["chef-model", "coder-model"]
    assert 1 < code_board.json()["effective_votes"] < 160
    assert api.post("/api/leaderboard/for-prompt", {"prompt": " "}).status_code == 422


def test_a_few_similar_votes_give_not_enough_data_rather_than_a_rating(api, arena_db, tmp_path):
    records = [{"model_a": "coder-model", "model_b": "chef-model", "winner": "model_a" if i % 3 else "model_b",
                "conversation_a": [{"role": "user", "content": CODE[i % 4]}, {"role": "assistant", "content": "…"}],
                "conversation_b": [{"role": "user", "content": CODE[i % 4]}, {"role": "assistant", "content": "…"}]}
               for i in range(6)]
    path = tmp_path / "votes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    call_command("import_battles", str(path))

    board = api.post("/api/leaderboard/for-prompt", {"prompt": "Write a Python script to parse a CSV file"}).json()
    assert board["rows"] == []
    assert board["not_enough_data"] == ["chef-model", "coder-model"]
    assert board["effective_votes"] < 10

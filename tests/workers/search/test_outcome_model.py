"""The outcome verifier (Cobbe et al. 2021): learns from labelled samples which answers are right."""

import json

import numpy as np
import pytest

from tests.workers.search.helpers import labelled_samples
from workers.search.accounting import Ledger
from workers.search.candidates import Candidate, Problem
from workers.search.outcome_model import (
    OutcomeModel,
    features,
    fit_outcome_model,
    operations,
    size_class,
    train_outcome_model,
)
from workers.search.outcome_training import is_right, read_tasks
from workers.search.verifiers.outcome import OutcomeVerifier


def test_it_reads_the_operation_and_the_size_of_an_answer():
    assert operations("52 - 25 = 27\nAnswer: 27") == {"sub"}
    assert operations("4 x 19 = 76 and 76 / 2 = 38") == {"mul", "div"}
    assert operations("The answer is 12.") == {"none"}
    question = "Sara has 48 apples and eats 30 of them."
    assert size_class(question, "Answer: 18") == "below"
    assert size_class(question, "Answer: 78") == "above"
    assert size_class(question, "Answer: 30") == "equal"
    assert size_class(question, "Answer: 40") == "between"
    assert size_class(question, "I do not know") == "no_answer"


def test_it_learns_which_operation_the_words_call_for_on_unseen_numbers():
    model = fit_outcome_model(labelled_samples(seed=0))
    test = labelled_samples(seed=1, count=20)  # other numbers
    p = model.probability([q for q, _, _ in test], [a for _, a, _ in test])
    for (_, _, right), prob_right, prob_wrong in zip(test[::2], p[::2], p[1::2]):
        assert right and prob_right > 0.5 > prob_wrong


def test_held_out_accuracy_is_on_questions_it_did_not_train_on():
    samples = labelled_samples()
    model, accuracy = train_outcome_model(samples, heldout_fraction=0.25, seed=3)
    assert accuracy == 1.0 and model.heldout_accuracy == accuracy
    assert model.trained_samples == len(samples) - 2 * 10  # 10 of the 40 questions, both answers of each


def test_it_saves_loads_and_refuses_other_files(tmp_path):
    model = fit_outcome_model(labelled_samples())
    path = model.save(tmp_path / "outcome.npz")
    again = OutcomeModel.load(path)
    q, a = ["A jar has 30 sweets and 4 are eaten. How many sweets are left?"], ["30 - 4 = 26\nAnswer: 26"]
    assert np.allclose(again.probability(q, a), model.probability(q, a))
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an outcome verifier file"):
        OutcomeModel.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "short.npz", weights=np.zeros(3), meta=np.array(json.dumps({"feature_version": 1})))
    with pytest.raises(ValueError, match="other features"):
        OutcomeModel.load(tmp_path / "short.npz")


def test_it_refuses_training_data_it_cannot_learn_from():
    with pytest.raises(ValueError, match="at least 20"):
        fit_outcome_model(labelled_samples()[:4])
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_outcome_model([s for s in labelled_samples() if s[2]])
    with pytest.raises(ValueError, match="question, answer, whether"):
        fit_outcome_model([("q", "a", "yes")] * 30)


def test_the_verifier_scores_candidates_as_probabilities(tmp_path):
    path = fit_outcome_model(labelled_samples()).save(tmp_path / "outcome.npz")
    verifier = OutcomeVerifier.from_file(path)
    question = "A farm has 33 cows and buys 7 more. How many cows does it have now?"
    problem = Problem(messages=[{"role": "user", "content": question}], question=question, prompt_ids=[1])
    candidates = [Candidate(text="33 - 7 = 26\nAnswer: 26", token_ids=[1]),
                  Candidate(text="33 + 7 = 40\nAnswer: 40", token_ids=[1])]
    wrong, right = verifier.score(problem, candidates, Ledger())
    assert 0 <= wrong < 0.5 < right <= 1


def test_features_stay_bounded_on_hostile_answers():
    hostile = ["(" * 5000 + "1" + ")" * 5000 + " = 1", "9" * 10_000 + " * 9 = 1", "__import__('os') = 1",
               "1 + " * 3000 + "1 = 3001", ""]
    rows = features(["How many? 3 and 4."] * len(hostile), hostile)
    assert rows.shape[0] == len(hostile) and np.isfinite(rows).all()


def test_labels_compare_final_answers_exactly(tmp_path):
    assert is_right("4 * 19 = 76\nAnswer: 76", "76")
    assert is_right("Answer: $1,200.00", "1200")
    assert not is_right("4 * 19 = 74\nAnswer: 74", "76")
    assert not is_right("", "76")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"question": "2 + 2?", "answer": 4}\n\n{"question": "3 + 3?", "answer": "6"}\n')
    assert [(t.question, t.answer) for t in read_tasks(tasks)] == [("2 + 2?", "4"), ("3 + 3?", "6")]
    tasks.write_text('{"question": "2 + 2?"}\n')
    with pytest.raises(ValueError, match="line 1 needs"):
        read_tasks(tasks)
    tasks.write_text('{"question": "ok", "answer": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        read_tasks(tasks)

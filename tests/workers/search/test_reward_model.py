
import numpy as np
import pytest

from tests.workers.search.helpers import preference_pairs
from workers.search.accounting import Ledger
from workers.search.candidates import Candidate, Problem
from workers.search.reward_model import RewardModel, train_reward_model
from workers.search.verifiers.reward import RewardVerifier


@pytest.fixture(scope="module")
def trained():
    return train_reward_model(preference_pairs(), heldout_fraction=0.25, seed=1)


def test_it_learns_known_preferences_and_reports_held_out_accuracy(trained):
    model, accuracy = trained
    assert accuracy >= 0.8
    assert model.heldout_accuracy == accuracy
    assert model.trained_pairs == 18


def test_it_saves_and_loads_the_same_model(trained, tmp_path):
    model, _ = trained
    path = model.save(tmp_path / "reward.npz")
    loaded = RewardModel.load(path)
    prompts, answers = ["What do bees make?"] * 2, ["Bees make honey.", "No."]
    assert np.allclose(loaded.score(prompts, answers), model.score(prompts, answers))
    assert loaded.heldout_accuracy == model.heldout_accuracy


def test_it_refuses_a_file_that_is_not_a_reward_model(tmp_path):
    bogus = tmp_path / "bogus.npz"
    bogus.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="not a reward model file"):
        RewardModel.load(bogus)
    np.savez(open(tmp_path / "other.npz", "wb"), weights=np.zeros(3), meta=np.array('{"feature_version": 1}'))
    with pytest.raises(ValueError, match="retrain"):
        RewardModel.load(tmp_path / "other.npz")


@pytest.mark.parametrize("pairs, sentence", [
    ([("q", "a", "b")] * 2, "at least 5 preference pairs"),
    ([("q", "a")] * 6, "Each pair must be"),
    ([("q", "a", 3)] * 6, "Each pair must be"),
])
def test_it_refuses_unusable_pairs(pairs, sentence):
    with pytest.raises(ValueError, match=sentence):
        train_reward_model(pairs)


def test_the_verifier_prefers_the_answer_people_prefer(trained, tmp_path):
    model, _ = trained
    verifier = RewardVerifier.from_file(model.save(tmp_path / "reward.npz"))
    problem = Problem(messages=[], question="What is the capital of Italy?", prompt_ids=[1])
    good = Candidate(text="The capital of Italy is Rome.", token_ids=[1])
    bad = Candidate(text="I cannot help with that.", token_ids=[1])
    scores = verifier.score(problem, [bad, good], Ledger())
    assert scores[1] > scores[0]
    assert all(0 < s < 1 for s in scores)

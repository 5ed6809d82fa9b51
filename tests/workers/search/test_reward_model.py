import random

import numpy as np
import pytest

from workers.search.candidates import Candidate, Problem
from workers.search.accounting import Ledger
from workers.search.reward_model import RewardModel, train_reward_model
from workers.search.verifiers.reward import RewardVerifier

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What gas do plants absorb from the air?", "Plants absorb carbon dioxide from the air."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius at sea level."),
    ("Which planet is known as the red planet?", "Mars is known as the red planet."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("How many days are in a leap year?", "A leap year has 366 days."),
    ("What language is mainly spoken in Brazil?", "Portuguese is the main language spoken in Brazil."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("How many continents are there?", "There are seven continents."),
    ("What do bees make?", "Bees make honey and beeswax."),
]
REFUSALS = ["I don't know.", "I cannot help with that.", "Ask someone else.", "No."]


def preference_pairs(seed: int = 0) -> list[tuple[str, str, str]]:
    """The preferred answer answers the question; the rejected one refuses or answers another question."""
    rng = random.Random(seed)
    pairs = []
    for i, (question, answer) in enumerate(FACTS):
        other = FACTS[(i + 1 + rng.randrange(len(FACTS) - 1)) % len(FACTS)][1]
        pairs.append((question, answer, other))
        pairs.append((question, answer, rng.choice(REFUSALS)))
    return pairs


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

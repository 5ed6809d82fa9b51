import pytest

from workers.search.config import SearchConfig


def test_it_has_usable_defaults():
    config = SearchConfig.from_params({})
    assert config.strategy == "best_of_n"
    assert config.verifiers == {"loglik": 1.0}
    assert not config.retrieve


def test_it_composes_retrieval_with_a_strategy(small_corpus):
    config = SearchConfig.from_params({"strategy": "retrieve+majority", "corpus": str(small_corpus), "n": 5})
    assert (config.strategy, config.retrieve, config.n) == ("majority", True, 5)
    assert config.verifiers == {}
    plain = SearchConfig.from_params({"strategy": "retrieve", "corpus": "pydoc"})
    assert (plain.strategy, plain.retrieve) == ("single", True)


def test_it_reads_verifier_weights_in_several_shapes():
    assert SearchConfig.from_params({"verifiers": {"loglik": 1, "checker": 2.5}}).verifiers == \
        {"loglik": 1.0, "checker": 2.5}
    assert SearchConfig.from_params({"verifiers": ["consensus", "checker"]}).verifiers == \
        {"consensus": 1.0, "checker": 1.0}
    assert SearchConfig.from_params({"verifiers": "checker"}).verifiers == {"checker": 1.0}


@pytest.mark.parametrize("params, sentence", [
    ({"strategy": "monte_carlo"}, "strategy must be one of"),
    ({"strategy": "beam+majority"}, "strategy must be one of"),
    ({"n": 0}, "n must be between 1 and 64"),
    ({"n": "many"}, "n must be a number"),
    ({"n": True}, "n must be a number"),
    ({"verifiers": {"oracle": 1}}, "Unknown verifier 'oracle'"),
    ({"verifiers": {"loglik": -1}}, "weight of verifier loglik must be a number of at least 0"),
    ({"verifiers": {"loglik": float("nan")}}, "weight of verifier loglik"),
    ({"verifiers": {"loglik": 0}}, "needs at least one verifier"),
    ({"verifiers": 3}, "verifiers must map verifier names to weights"),
    ({"verifiers": ["reward"]}, "The reward verifier needs reward_model"),
    ({"verifiers": ["reward"], "reward_model": "/nonexistent/rm.npz"}, "does not exist on this host"),
    ({"verifiers": ["outcome"]}, "The outcome verifier needs outcome_model"),
    ({"verifiers": ["outcome"], "outcome_model": "/nonexistent/om.npz"}, "does not exist on this host"),
    ({"strategy": "retrieve"}, "Retrieval needs corpus"),
    ({"strategy": "retrieve", "corpus": "/nonexistent"}, "is not a folder on this host"),
    ({"strategy": "beam", "beam_width": 16, "k": 16}, "beam_width × k must be at most 64"),
    ({"n": 4, "temperature": 0}, "temperature 0 gives 4 identical candidates"),
    ({"top_k": 50}, "top_k must be between 1 and 10"),
    ({"temprature": 0.5}, "Unknown parameter(s) for the search backend: temprature"),
    ({"retrieve": "yes"}, "retrieve must be true or false"),
])
def test_it_explains_bad_values_in_a_sentence(params, sentence):
    with pytest.raises(ValueError) as error:
        SearchConfig.from_params(params)
    message = str(error.value)
    assert sentence in message
    assert message.endswith(".")


def test_it_refuses_a_non_object():
    with pytest.raises(ValueError, match="must be a JSON object"):
        SearchConfig.from_params(["best_of_n"])

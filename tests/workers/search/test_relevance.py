"""Only passages that pass the relevance threshold are given to a retrieval contestant and cited:
a question about the corpus cites the right page, one the corpus does not cover cites nothing."""

import pytest

from workers.search import SearchConfig
from workers.search.index import open_index
from workers.search.runner import run_search
from workers.search.strategies.retrieve import relevant


@pytest.fixture(scope="module")
def pydoc_index(small_corpus, index_cache):
    return open_index(small_corpus, cache_dir=index_cache)


@pytest.mark.parametrize("question, source", [
    ("Which function generates a random UUID?", "uuid.txt"),
    ("What is the default width used by textwrap.fill?", "textwrap.txt"),
    ("How do I pretty-print JSON with indentation?", "json.txt"),
    ("function that returns the median (middle value) of numeric data", "statistics.txt"),
    ("Decode a Base64 encoded bytes-like object", "base64.txt"),
])
def test_a_question_about_the_corpus_finds_relevant_passages(pydoc_index, question, source):
    hits = relevant(pydoc_index.search(question, top_k=3))
    assert hits and hits[0].passage.source == source


@pytest.mark.parametrize("question", [
    "What is 17 * 23?", "What is 2 + 2?", "Compute 144 / 12.", "If I have 3 apples and eat one, how many are left?",
    "Hello there", "Write a poem about the sea", "What is the capital of France?", "Tell me a joke",
    "Explain recursion",
])
def test_a_question_the_corpus_does_not_cover_finds_none(pydoc_index, question):
    hits = pydoc_index.search(question, top_k=3)
    assert len(hits) == 3 and relevant(hits) == []


def _search(scripted, question, small_corpus, index_cache, answer):
    seen = []

    def respond(prompt, i):
        seen.append(prompt)
        return answer

    config = SearchConfig.from_params({"strategy": "retrieve", "corpus": str(small_corpus),
                                       "index_dir": str(index_cache), "top_k": 3, "temperature": 0})
    engine = scripted(respond)
    result = run_search(config, engine=engine, loaded=engine.loaded,
                        messages=[{"role": "user", "content": question}])
    return result, seen[0]


def test_an_arithmetic_prompt_is_answered_without_passages_and_cites_nothing(scripted, small_corpus, index_cache):
    result, prompt = _search(scripted, "What is 17 * 23?", small_corpus, index_cache, "17 * 23 = 391 [1].")
    assert "[1] " not in prompt and "numbered passages" not in prompt
    assert result.citations == [] and result.text == "17 * 23 = 391 [1]."
    assert len(result.trace["passages"]) == 3 and not any(p["relevant"] for p in result.trace["passages"])


def test_a_stdlib_question_cites_the_right_page(scripted, small_corpus, index_cache):
    result, prompt = _search(scripted, "Which function generates a random UUID?", small_corpus, index_cache,
                             "uuid.uuid4() makes a random UUID [1].")
    assert "[1] " in prompt and "uuid4" in prompt
    assert result.citations == [{"n": 1, "title": "Python documentation for the uuid module", "source": "uuid.txt"}]
    assert result.text == "uuid.uuid4() makes a random UUID [1]."

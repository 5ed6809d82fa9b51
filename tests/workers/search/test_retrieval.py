import pytest

from workers.search import index as index_module
from workers.search.corpus import html_to_text, load_documents, markdown_to_text, split_passages
from workers.search.index import PassageIndex, open_index
from workers.search.strategies.retrieve import augment, cited, sources


@pytest.fixture(scope="module")
def pydoc_index(small_corpus, index_cache):
    return open_index(small_corpus, cache_dir=index_cache)


@pytest.mark.parametrize("question, source, needle", [
    ("What is the default width used by textwrap.fill?", "textwrap.txt", "width=70"),
    ("How do I find the insertion point for x in a sorted list, to the left of existing entries?",
     "bisect.txt", "bisect_left"),
    ("Which function generates a random UUID?", "uuid.txt", "uuid4"),
    ("How do I pretty-print JSON with indentation?", "json.txt", "indent"),
    ("function that returns the median (middle value) of numeric data", "statistics.txt", "median"),
    ("Return the n largest elements from a dataset", "heapq.txt", "nlargest"),
    ("Decode a Base64 encoded bytes-like object", "base64.txt", "b64decode"),
])
def test_it_retrieves_the_passage_that_answers_a_known_question(pydoc_index, question, source, needle):
    hits = pydoc_index.search(question, top_k=3)
    assert hits[0].passage.source == source
    assert any(needle in hit.passage.text for hit in hits)


def test_it_fuses_lexical_and_dense_rankings(pydoc_index):
    [hit] = pydoc_index.search("bisect_left", top_k=1)
    assert hit.bm25_rank == 0
    assert hit.dense_rank is not None
    # A query sharing no word with the corpus still gets the nearest passages by meaning.
    assert len(pydoc_index.search("zxqv wobble", top_k=2)) == 2


def test_it_caches_the_index_on_disk(small_corpus, index_cache, pydoc_index, monkeypatch):
    monkeypatch.setattr(index_module, "_loaded", {})

    def no_rebuild(passages):
        raise AssertionError("the cached index should have been loaded")

    monkeypatch.setattr(PassageIndex, "build", no_rebuild)
    again = open_index(small_corpus, cache_dir=index_cache)
    assert [p.text for p in again.passages] == [p.text for p in pydoc_index.passages]
    assert (again.embeddings == pydoc_index.embeddings).all()


def test_it_reads_text_markdown_and_html(tmp_path):
    (tmp_path / "notes.txt").write_text("Opening hours\n\nThe shop opens at nine.")
    (tmp_path / "guide.md").write_text("# Kettle guide\n\nPress the **red** [button](http://x) to boil.\n")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Tea</title><style>p{}</style><script>alert(1)</script></head>"
        "<body><h1>Green tea</h1><p>Steep for <b>two</b> minutes.</p></body></html>")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    docs = {d.source: d for d in load_documents(tmp_path)}
    assert set(docs) == {"notes.txt", "guide.md", "page.html"}
    assert docs["guide.md"].title == "Kettle guide"
    assert "Press the red button to boil." in docs["guide.md"].text
    assert docs["page.html"].title == "Tea"
    assert "Steep for two minutes." in docs["page.html"].text
    assert "alert" not in docs["page.html"].text


def test_it_splits_documents_into_bounded_passages(small_corpus):
    passages = split_passages(load_documents(small_corpus), max_words=50)
    assert passages and all(len(p.text.split()) <= 50 for p in passages)
    assert [p.id for p in passages] == list(range(len(passages)))


def test_html_and_markdown_conversions_keep_paragraphs():
    title, text = html_to_text("<p>One</p><p>Two</p>")
    assert text == "One\n\nTwo" and title == "One"
    title, text = markdown_to_text("Intro\n\n## Part\n\n![img](a.png) `code`")
    assert title == "Part" and "img code" in text


def test_it_puts_numbered_passages_into_the_prompt_and_lists_cited_sources(pydoc_index):
    hits = pydoc_index.search("textwrap fill width", top_k=3)
    messages = augment([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}], "Q?", hits)
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert "[1] " in messages[1]["content"] and "[3] " in messages[1]["content"]
    assert messages[1]["content"].endswith("Question: Q?")
    assert cited("See [2] and [9] and [2].", 3) == [2]
    assert sources("The width is 70 [2].", hits) == [
        {"n": 2, "title": hits[1].passage.title, "source": hits[1].passage.source}]
    # Nothing cited: every passage shown is listed.
    assert [s["n"] for s in sources("70.", hits)] == [1, 2, 3]
    assert sources("70 [1].", []) == []

import pytest

from workers.search.answers import answer_key, complete_answer, explicit_answer, final_answer


@pytest.mark.parametrize("text, answer", [
    ("12 * 7 = 84\nAnswer: 84", "84"),
    ("So the answer is 42. Great!", "42"),
    ("So, there are 12 cookies in total.\n\nThe answer is: 12", "12"),
    ("We get \\boxed{17}.", "17"),
    ("#### 1,200", "1,200"),
    ("3 + 4 = 7 and then 7 * 2 = 14 apples", "14"),
    ("There are 12 apples and 3 pears", "3"),
    ("Paris.", "Paris"),
    ("Answer: 3.5 kilometres", "3.5 kilometres"),
])
def test_it_finds_the_final_answer(text, answer):
    assert final_answer(text) == answer


def test_it_returns_none_for_long_text_without_an_answer():
    assert final_answer("This is a long rambling sentence with no numbers or answers in it at all") is None


def test_explicit_answer_ignores_bare_numbers():
    assert explicit_answer("12 * 7 = 84") is None
    assert explicit_answer("... Answer: 84") == "84"


@pytest.mark.parametrize("a, b", [("1,200", "1200"), ("$1200", "1200.0"), ("84 cookies", "84"),
                                  ("The Eiffel Tower", "eiffel tower")])
def test_equal_answers_share_a_key(a, b):
    assert answer_key(a) == answer_key(b)


def test_different_answers_have_different_keys():
    assert answer_key("84") != answer_key("80")
    assert answer_key(None) is None


@pytest.mark.parametrize("text, complete", [
    ("12 * 7 = 84\nAnswer: 84\n", True),
    ("12 * 7 = 84\nAnswer: 84", False),  # "84" might still grow into "845"
    ("12 * 7 = 84\nAnswer:", False),
    ("We get \\boxed{17}", True),
    ("So the answer is 42.\nBut wait", True),
    ("12 * 7 = 84\n", False),
    ("", False),
])
def test_it_knows_when_an_answer_is_complete(text, complete):
    assert complete_answer(text) is complete

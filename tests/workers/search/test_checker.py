import time

import pytest

from workers.search.verifiers.checker import check_text


@pytest.mark.parametrize("text", [
    "12 * 7 = 84",
    "12 x 7 = 84 cookies",
    "12 trays * 7 cookies per tray = 84 cookies in total.",
    "He pays $1,200 + $300 = $1,500.",
    "10 / 3 = 3.33",
    "3 + 4 = 7. Then 7 * 2 = 14.\nAnswer: 14",
    "(3 + 4) * 2 = 14",
])
def test_it_passes_correct_arithmetic(text):
    report = check_text(text)
    assert report.failed == []
    assert report.score == 1.0


@pytest.mark.parametrize("text", [
    "12 * 7 = 80",
    "12 trays * 7 cookies per tray = 88 cookies in total.",
    "10 / 3 = 3.4",
    "3 + 4 = 7 * 2 = 14",
])
def test_it_fails_wrong_arithmetic(text):
    report = check_text(text)
    assert report.failed
    assert report.score < 0.5


def test_it_fails_a_final_answer_that_contradicts_the_working():
    report = check_text("2 + 2 = 4, so the answer is clear.\nAnswer: 5")
    assert report.passed == ["2 + 2 = 4"]
    assert report.failed == ["final answer does not match the working"]


def test_it_has_no_opinion_without_checkable_claims():
    assert check_text("Paris is the capital of France.").score == 0.5
    assert check_text("x = 5 and 5 = 5").score == 0.5


def test_it_checks_that_python_blocks_parse():
    assert check_text("```python\nprint(sum([1, 2]))\n```").score == 1.0
    assert check_text("```python\nprint(sum([1, 2])\n```").score == 0.0
    # An unlabelled block may be shell or prose: it is not judged.
    assert check_text("```\nls -la (\n```").score == 0.5


@pytest.mark.parametrize("hostile", [
    "9**9**9 = 1",
    "__import__('os').system('rm -rf /') = 0",
    "```python\n" + "(" * 100_000 + "\n```",
    "```python\n" + "-" * 100_000 + "1\n```",
    "```python\nx = " + "1+" * 100_000 + "1\n```",
    "```python\nimport os\nos.system('echo pwned')\n```",
    "1 + 1 = 2 " * 200_000,
    "(" * 50_000 + "1 = 1",
    "9" * 100_000 + " * 9 = 1",
])
def test_it_survives_hostile_answers_quickly(hostile):
    started = time.perf_counter()
    report = check_text(hostile)
    assert 0.0 <= report.score <= 1.0
    assert time.perf_counter() - started < 2.0


def test_it_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    check_text(f"```python\nopen({str(marker)!r}, 'w').write('x')\n```\n__import__('os').mkdir({str(marker)!r}) = 1")
    assert not marker.exists()


def test_it_checks_equations_inside_a_long_paragraph():
    filler = "The baker thinks about cookies for a while. " * 40
    report = check_text(filler + "Then 12 * 7 = 80 cookies. " + filler)
    assert report.failed == ["12 * 7 = 80"]

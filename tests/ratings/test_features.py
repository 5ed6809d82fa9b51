"""Text features: style counts of answers, and the code, math and language of prompts."""

import pytest

from ratings.features import count_markdown_elements, count_tokens, detect_language, is_code, is_math

ANSWER = """# Plan

Here is **the idea** and __another__ one.

## Steps
1. First step
2. Second step
- a bullet
  * a nested bullet

```python
# not a header
- not a list item
**not bold**
```
#not a header (no space)
"""


def test_it_counts_markdown_elements_outside_code_blocks():
    assert count_markdown_elements(ANSWER) == {"headers": 2, "lists": 4, "bold": 2}


def test_it_counts_nothing_in_plain_text():
    assert count_markdown_elements("Just a sentence, with 3 numbers: 1. 2. 3.") == {"headers": 0, "lists": 0, "bold": 0}


def test_it_counts_tokens_approximately():
    assert count_tokens("Hello, world!") == 4  # Hello , world !
    assert count_tokens("12345 apples") == 3  # 123 45 apples
    assert count_tokens("你好世界") == 4  # one per CJK character
    assert count_tokens("") == 0


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a python function to reverse a list",
        "How do I center a div in CSS?",
        "Why does this fail?\n```\nx = [1, 2\n```",
        "SELECT name FROM users WHERE id = 1",
        "from collections import Counter\nCounter('abc')",
        "#include <stdio.h>\nint main() { return 0; }",
    ],
)
def test_it_recognises_code_prompts(prompt):
    assert is_code(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "What is the capital of France?",
        "Tell me a joke about cats",
        "Draw me ascii art of a cat in ```plaintext``` please",
        "```plaintext\nDear John, thanks for the letter\n```",
    ],
)
def test_it_leaves_other_prompts_out_of_code(prompt):
    assert not is_code(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "Solve 3x + 5 = 20",
        "What is 17 * 23?",
        "Compute the integral \\int_0^1 x^2 dx",
        "Show that $a^2 + b^2 = c^2$ for a right triangle",
        "How many apples are left if I have 5 and eat 2?",
        "What is the probability of two heads in a row?",
    ],
)
def test_it_recognises_math_prompts(prompt):
    assert is_math(prompt)


@pytest.mark.parametrize(
    "prompt",
    ["Write a poem with 5 stanzas", "The war lasted 1939-1945", "We met on 10/12/2023", "How are you?"],
)
def test_it_leaves_numbers_that_are_not_math_out(prompt):
    assert not is_math(prompt)


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("The quick brown fox jumps over the lazy dog and runs away", "English"),
        ("Wie geht es dir? Ich bin müde und das ist nicht gut", "German"),
        ("Bonjour, comment allez-vous? Je suis fatigué", "French"),
        ("¿Cómo estás? Estoy cansado y quiero dormir", "Spanish"),
        ("Olá, como você está? Eu não sei", "Portuguese"),
        ("你好，请介绍一下你自己", "Chinese"),
        ("こんにちは、お元気ですか？日本語", "Japanese"),
        ("안녕하세요 반갑습니다", "Korean"),
        ("Привет, как дела?", "Russian"),
        ("Привіт, як справи? Її", "Ukrainian"),
        ("مرحبا كيف حالك", "Arabic"),
        ("def f(x): return x**2", "unknown"),
        ("12345", "unknown"),
    ],
)
def test_it_detects_the_prompt_language(prompt, language):
    assert detect_language(prompt) == language

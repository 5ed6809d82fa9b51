"""The search eval's tasks, with exact answers, and how an answer is graded.

Arithmetic word problems in three tiers (easy: one operation on one-digit numbers; medium: one
operation on two-digit numbers; hard: two operations), unit conversions, and questions about
default parameter values in the standard library, which the demo corpus (pydoc pages) answers.
Every generator takes its own seeded random stream, so sizing one part leaves the others alone.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
from dataclasses import dataclass
from fractions import Fraction

from workers.search.answers import final_answer, parse_number
from workers.search.corpus import DEMO_MODULES, pydoc_text
from workers.search.safe_math import evaluate

SYSTEM_MATH = "Solve the math problem. Write the calculation as one equation, then the answer."
# Two worked examples: without them SmolLM2-135M rambles past its own answer and is almost never graded right.
FEW_SHOT = [
    {"role": "user", "content": "A box has 4 rows with 6 eggs in each row. How many eggs are in the box?"},
    {"role": "assistant", "content": "4 * 6 = 24\nAnswer: 24"},
    {"role": "user", "content": "Ben has 20 cards. He gets 5 more and then loses 8. How many cards does he have?"},
    {"role": "assistant", "content": "20 + 5 - 8 = 17\nAnswer: 17"},
]
SYSTEM_DOCS = "Answer the question about Python briefly."
KIND_ORDER = ["arith-easy", "arith-medium", "arith-hard", "conversion", "corpus"]


@dataclass
class Task:
    kind: str  # arith-easy | arith-medium | arith-hard | conversion | corpus
    question: str
    answer: str
    working: str = ""  # the expression that computes the answer, for the synthetic preferences
    index: int = 0  # its place among the tasks of its kind


def arithmetic_tasks(count: int, rng: random.Random, *, tier: str) -> list[Task]:
    """Word problems of one tier.

    easy: one operation on one-digit numbers; medium: one operation on two-digit numbers
    (the setup is as easy, the arithmetic is where a small model slips); hard: two operations.
    """
    def trays():
        a, b = rng.randint(2, 9), rng.randint(2, 12)
        return f"A baker has {a} trays with {b} cookies on each tray. How many cookies are there in total?", \
            f"{a} * {b}"

    def pens():
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        return f"A pen costs {a} dollars. How many dollars do {b} pens cost?", f"{b} * {a}"

    def share():
        a, b = rng.randint(2, 6), rng.randint(2, 9)
        return f"{a} friends share {a * b} stickers equally. How many stickers does each friend get?", \
            f"{a * b} / {a}"

    def apples():
        a = rng.randint(10, 60)
        b = rng.randint(2, a - 1)
        return f"Sara has {a} apples and eats {b} of them. How many apples are left?", f"{a} - {b}"

    def boxes():
        a, b = rng.randint(2, 5), rng.randint(11, 25)
        return f"A shop has {a} boxes with {b} pencils in each box. How many pencils are there in total?", \
            f"{a} * {b}"

    def tickets():
        a, b = rng.randint(11, 19), rng.randint(2, 4)
        return f"A ticket costs {a} dollars. How many dollars do {b} tickets cost?", f"{b} * {a}"

    def books():
        a, b = rng.randint(21, 79), rng.randint(11, 49)
        return f"A library has {a} books and buys {b} more. How many books does it have now?", f"{a} + {b}"

    def seats():
        a = rng.randint(50, 99)
        b = rng.randint(11, a - 10)
        return f"A stadium has {a} seats and {b} of them are taken. How many seats are free?", f"{a} - {b}"

    def marbles():
        a, b = rng.randint(5, 30), rng.randint(2, 20)
        c = rng.randint(1, a)
        return (f"Tom has {a} marbles. He buys {b} more and then gives away {c}. "
                "How many marbles does he have now?"), f"{a} + {b} - {c}"

    def pages():
        a, b, c = rng.randint(2, 9), rng.randint(2, 7), rng.randint(2, 20)
        return (f"Anna reads {a} pages each day for {b} days, and then {c} more pages. "
                "How many pages did she read in total?"), f"{a} * {b} + {c}"

    def bus():
        a = rng.randint(10, 40)
        b, c = rng.randint(2, a - 1), rng.randint(2, 15)
        return (f"A bus has {a} people on it. At a stop {b} people get off and {c} people get on. "
                "How many people are on the bus now?"), f"{a} - {b} + {c}"

    def crates():
        a, b = rng.randint(2, 6), rng.randint(3, 9)
        c = rng.randint(1, a * b - 1)
        return (f"There are {a} crates with {b} oranges in each crate. {c} oranges are rotten. "
                "How many good oranges are there?"), f"{a} * {b} - {c}"

    makers = {"easy": [trays, pens, share, apples], "medium": [boxes, tickets, books, seats],
              "hard": [marbles, pages, bus, crates]}[tier]
    tasks = []
    for i in range(count):
        question, working = makers[i % len(makers)]()
        answer = evaluate(working)
        tasks.append(Task(f"arith-{tier}", question, str(answer), working, i))
    return tasks


def conversion_tasks(count: int, rng: random.Random) -> list[Task]:
    units = [("minutes", "hours", 60), ("centimeters", "meters", 100), ("grams", "kilograms", 1000),
             ("seconds", "minutes", 60), ("inches", "feet", 12), ("days", "weeks", 7), ("months", "years", 12)]
    tasks = []
    for i in range(count):
        small, big, factor = units[i % len(units)]
        amount = rng.randint(2, 9)
        tasks.append(Task("conversion", f"How many {small} are in {amount} {big}?", str(amount * factor)))
    return tasks


def corpus_facts() -> list[tuple[str, str, str, str]]:
    """(module, function, parameter, default literal) for defaults the demo corpus states, e.g. width=70."""
    facts = []
    for module_name in DEMO_MODULES:
        module = importlib.import_module(module_name)
        text = pydoc_text(module_name)
        for name in sorted(getattr(module, "__all__", None) or dir(module)):
            func = getattr(module, name, None)
            if name.startswith("_") or not callable(func) or inspect.isclass(func):
                continue
            try:
                parameters = inspect.signature(func).parameters.values()
            except (TypeError, ValueError):
                continue
            for p in parameters:
                d = p.default
                if p.name.startswith("_") or d is inspect.Parameter.empty or isinstance(d, bool) or d is None:
                    continue
                if not isinstance(d, (int, float, str)) or isinstance(d, (int, float)) and abs(d) < 3 and d == int(d):
                    continue  # 0, 1, 2, 1.0: too easy to guess right
                if isinstance(d, str) and (not d.strip() or "/" in d):
                    continue  # blank, or a path of this host
                if f"{p.name}={d!r}" in text:
                    facts.append((module_name, name, p.name, repr(d)))
    return facts


def corpus_tasks(count: int, rng: random.Random) -> list[Task]:
    facts = corpus_facts()
    # One fact per (module, parameter): difflib has the same n=3 on four functions.
    unique = list({(m, p): (m, f, p, d) for m, f, p, d in facts}.values())
    rng.shuffle(unique)
    return [Task("corpus", f"In Python's {m} module, what is the default value of the {p} parameter of {m}.{f}()?",
                 d) for m, f, p, d in unique[:count]]


def is_correct(task: Task, text: str) -> bool:
    """Arithmetic: the final answer (as majority voting reads it) equals the exact one.
    Corpus: the first sentence states the default value, so a later guess does not count."""
    text = text.split("\n\nSources:\n")[0]
    if task.kind != "corpus":
        answer = final_answer(text)
        value = parse_number(answer) if answer else None
        return value is not None and value == Fraction(task.answer)
    text = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0]
    expected = task.answer
    if expected[0] in "'\"":
        literal = expected[1:-1].strip()
        return re.search(r"(?<![\w])" + re.escape(literal) + r"(?![\w])", text) is not None
    try:
        target = Fraction(expected)
    except ValueError:
        return expected in text
    for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?", text):
        try:
            if Fraction(number) == target:
                return True
        except ValueError:
            continue
    return False


def synthetic_preferences(count: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(prompt, preferred, rejected, kind): the preferred answer shows correct working and a final answer."""
    pairs = []
    problems = arithmetic_tasks(count // 2, rng, tier="easy") + arithmetic_tasks(count - count // 2, rng, tier="hard")
    rng.shuffle(problems)
    for i, task in enumerate(problems):
        good = f"{task.working} = {task.answer}\nAnswer: {task.answer}"
        kind = ("wrong_arithmetic", "off_topic", "refusal", "no_working")[i % 4]
        if kind == "wrong_arithmetic":
            wrong = str(int(task.answer) + rng.choice([-3, -2, -1, 1, 2, 3]))
            bad = f"{task.working} = {wrong}\nAnswer: {wrong}"
        elif kind == "off_topic":
            other = problems[(i + 1) % len(problems)]
            bad = f"{other.working} = {other.answer}\nAnswer: {other.answer}"
        elif kind == "refusal":
            bad = rng.choice(["I'm not sure, sorry.", "I cannot answer that.", "That is a hard question.",
                              "Please ask a teacher."])
        else:
            bad = rng.choice(["It is a number.", "You have to count them.", "Math is fun!", "Think about it."])
        pairs.append((task.question, good, bad, kind))
    return pairs


def template_of(task: Task) -> str | None:
    """The question template an arithmetic problem was made from (the makers of a tier take turns)."""
    return f"{task.kind}/{task.index % 4}" if task.kind.startswith("arith-") else None


def math_tasks(args, rng) -> list[Task]:
    tasks = [t for tier in args.tiers.split(",") if tier
             for t in arithmetic_tasks(args.arith, rng(f"arith-{tier}"), tier=tier)]
    return tasks + conversion_tasks(args.conversions, rng("conversions"))


def math_messages(question: str) -> list[dict]:
    return [*FEW_SHOT, {"role": "user", "content": question}]

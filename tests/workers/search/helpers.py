"""Data that several search tests share: labelled word-problem answers and preference pairs."""

import random


def labelled_samples(seed: int = 0, count: int = 40) -> list[tuple[str, str, bool]]:
    """Word problems answered with the right operation and with the wrong one, both with true arithmetic."""
    rng = random.Random(seed)
    samples = []
    for i in range(count):
        a, b = rng.randint(20, 60), rng.randint(2, 19)
        if i % 2:
            question = f"A farm has {a} cows and buys {b} more. How many cows does it have now?"
            right, wrong = f"{a} + {b} = {a + b}\nAnswer: {a + b}", f"{a} - {b} = {a - b}\nAnswer: {a - b}"
        else:
            question = f"A jar has {a} sweets and {b} are eaten. How many sweets are left?"
            right, wrong = f"{a} - {b} = {a - b}\nAnswer: {a - b}", f"{a} + {b} = {a + b}\nAnswer: {a + b}"
        samples += [(question, right, True), (question, wrong, False)]
    return samples


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

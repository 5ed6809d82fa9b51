"""A local model run by this worker process through the shared batching engine."""

from collections.abc import Callable, Iterator
from pathlib import Path

from workers.params import examples, number, refuse_unknown, text

from .base import Delta, Usage

KNOWN = {"model", "device", "dtype", "temperature", "top_p", "max_new_tokens", "repetition_penalty", "seed",
         "system_prompt", "examples", "chat_template"}
DEVICES = ("auto", "cpu", "cuda")
# auto: bfloat16 on CUDA (float16 where bf16 is missing), float32 on CPU. bfloat16 on a CPU with
# AMX makes a batch step much cheaper relative to a single one (see bench/batching_bench.py).
DTYPES = ("auto", "float32", "bfloat16", "float16")


def clean_params(params: dict) -> dict:
    refuse_unknown(params, KNOWN, "transformers")
    model = text(params, "model")
    if not model:
        raise ValueError("model is required: a Hugging Face model folder, a .gguf file, or \"smollm2\".")
    if model != "smollm2":
        path = Path(model)
        if not path.exists():
            raise ValueError(f"model {model!r} does not exist on this host.")
        if path.is_file() and path.suffix != ".gguf":
            raise ValueError(f"model {model!r} is a file but not a .gguf file.")
        if path.is_dir() and not (path / "config.json").exists():
            raise ValueError(f"model {model!r} is a folder without config.json.")
    device = params.get("device", "auto")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}.")
    dtype = params.get("dtype", "auto")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}.")
    return {
        "model": model,
        "device": device,
        "dtype": dtype,
        "temperature": number(params, "temperature", 0.7, low=0, high=2),
        "top_p": number(params, "top_p", 1.0, low=0.01, high=1),
        "max_new_tokens": number(params, "max_new_tokens", 256, low=1, high=8192, kind=int),
        "repetition_penalty": number(params, "repetition_penalty", 1.0, low=0.5, high=2),
        "seed": number(params, "seed", None, low=0, high=2**31, kind=int),
        "system_prompt": text(params, "system_prompt", ""),
        "examples": examples(params),
        "chat_template": text(params, "chat_template", None),
    }


class TransformersBackend:
    def __init__(self, params: dict):
        self.params = clean_params(params)

    def stream(self, conversation: list[dict], *, should_stop: Callable[[], bool]) -> Iterator[Delta | Usage]:
        from workers.engine import SamplingParams, get_engine, render_prompt  # noqa: PLC0415 (torch: not in the web)

        p = self.params
        engine = get_engine(p["model"], device=p["device"], dtype=p["dtype"])
        prompt_ids = render_prompt(engine.loaded.tokenizer, [*p["examples"], *conversation],
                                   system_prompt=p["system_prompt"] or None, chat_template=p["chat_template"])
        sampling = SamplingParams(max_new_tokens=p["max_new_tokens"], temperature=p["temperature"],
                                  top_p=p["top_p"], repetition_penalty=p["repetition_penalty"], seed=p["seed"])
        stream = engine.stream(prompt_ids, sampling, should_stop=should_stop)
        try:
            for delta in stream:
                yield Delta(delta.text, delta.tokens)
        finally:
            stream.close()  # frees the batch slot at once if the caller stops reading
        completion = stream.completion
        yield Usage(completion_tokens=completion.completion_tokens, finish_reason=completion.finish_reason)


def build(endpoint, overrides: dict) -> TransformersBackend:
    return TransformersBackend({**endpoint.params, **local_overrides(overrides, endpoint.params)})


def local_overrides(overrides: dict, params: dict) -> dict:
    """Map OpenAI request fields onto local generation parameters. A requested token cap never
    raises the endpoint's own."""
    mapped = {k: v for k, v in overrides.items() if k in ("temperature", "top_p", "seed")}
    if "max_tokens" in overrides:
        mapped["max_new_tokens"] = min(overrides["max_tokens"], clean_params(params)["max_new_tokens"])
    return mapped

"""Throughput and time to first token of BatchEngine against one-at-a-time model.generate.

For each concurrency level N, N client threads start together and each streams
one request through BatchEngine.stream. The baseline serves the same N requests
one at a time with plain ``model.generate`` (what FastChat's model_worker does
with a concurrency limit of 1): request i waits for the i-1 before it, so its
time to first token counts from the moment all N arrived. Decoding is greedy,
so both sides generate exactly the same tokens (the table says whether the
texts matched). Also reports cold-load times from the GGUF and from the cache,
each in a fresh process.

    .venv/bin/python bench/batching_bench.py                 # SmolLM2, levels 1,4,8,16
    .venv/bin/python bench/batching_bench.py --levels 1,8 --max-new-tokens 64 --skip-cold-load
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

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


@dataclass
class Timing:
    ttft: float  # seconds from arrival to the first token
    end: float  # seconds from arrival to the last token
    tokens: int
    text: str


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_load_seconds(cache_dir: Path) -> dict:
    """Time load_model in a fresh process (imports excluded)."""
    script = (
        "import json, time\n"
        "from workers.engine.loading import load_model\n"
        "started = time.monotonic()\n"
        f"load_model('smollm2', device='cpu', cache_dir={str(cache_dir)!r})\n"
        "print(json.dumps({'seconds': time.monotonic() - started}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_baseline(loaded, prompts: list[list[int]], max_new_tokens: int) -> list[tuple[float, float, int, str]]:
    """(ttft, duration, tokens, text) of each prompt, served alone by model.generate."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        def __init__(self):
            self.calls, self.first = 0, None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:  # the first call carries the prompt
                self.first = time.perf_counter()

        def end(self):
            pass

    results = []
    for prompt in prompts:
        streamer = FirstToken()
        started, cpu_started = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            output = loaded.model.generate(torch.tensor([prompt], device=loaded.device), max_new_tokens=max_new_tokens,
                                           do_sample=False, streamer=streamer)
        duration, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        new = output[0, len(prompt):].tolist()
        while new and new[-1] in loaded.stop_token_ids:
            new.pop()
        text = loaded.tokenizer.decode(new, skip_special_tokens=True)
        results.append((streamer.first - started, duration, len(new), text, cpu))
    return results


def baseline_level(sequential: list[tuple]) -> tuple[list[Timing], float]:
    """All requests arrive at 0 and are served one after another; also the CPU seconds they took."""
    timings, clock = [], 0.0
    for ttft, duration, tokens, text, _ in sequential:
        timings.append(Timing(ttft=clock + ttft, end=clock + duration, tokens=tokens, text=text))
        clock += duration
    return timings, sum(item[4] for item in sequential)


def engine_level(engine, prompts: list[list[int]], params) -> list[Timing]:
    barrier = threading.Barrier(len(prompts))
    timings: list[Timing | None] = [None] * len(prompts)

    def client(i: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        first, pieces = None, []
        stream = engine.stream(prompts[i], params)
        for delta in stream:
            first = first or time.perf_counter()
            pieces.append(delta.text)
        end = time.perf_counter()
        timings[i] = Timing(ttft=(first or end) - started, end=end - started,
                            tokens=stream.completion.completion_tokens, text="".join(pieces))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def summary(timings: list[Timing], cpu: float) -> tuple[float, float, float, float]:
    """Tokens per wall second, TTFT p50 and p95, tokens per CPU second (less sensitive to other load)."""
    tokens = sum(t.tokens for t in timings)
    ttfts = [t.ttft for t in timings]
    return tokens / max(t.end for t in timings), statistics.median(ttfts), percentile(ttfts, 0.95), tokens / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--dtype", default="auto", help="e.g. bfloat16 to try CPU AMX kernels")
    parser.add_argument("--skip-cold-load", action="store_true")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if max(levels) > len(PROMPTS):
        parser.error(f"at most {len(PROMPTS)} concurrent requests")

    import torch

    from workers.engine import BatchEngine, SamplingParams, load_model, render_prompt

    log(f"started {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")

    cold = {}
    if not args.skip_cold_load:
        with tempfile.TemporaryDirectory(prefix="bench-cache-") as scratch:
            log("cold load from the GGUF in a fresh process (converts once, ~20 s) ...")
            cold["gguf"] = cold_load_seconds(Path(scratch))["seconds"]
            log(f"  {cold['gguf']:.1f} s")
            log("cold load from the safetensors cache in a fresh process ...")
            cold["cache"] = cold_load_seconds(Path(scratch))["seconds"]
            log(f"  {cold['cache']:.1f} s")

    log("loading SmolLM2 for the runs ...")
    loaded = load_model("smollm2", dtype=args.dtype)
    prompts = [render_prompt(loaded.tokenizer, [{"role": "user", "content": p}]) for p in PROMPTS]
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0)
    engine = BatchEngine(loaded, max_batch_size=max(levels))
    log("warming up both paths ...")
    engine.generate(prompts[:2], SamplingParams(max_new_tokens=8, temperature=0))
    run_baseline(loaded, prompts[:1], 8)

    sequential: list[tuple] = []
    rows = []
    for n in levels:
        log(f"{n} concurrent: BatchEngine.stream from {n} threads ...")
        cpu_started = time.process_time()
        batched = engine_level(engine, prompts[:n], params)
        engine_cpu = time.process_time() - cpu_started
        if len(sequential) < n:
            log(f"{n} concurrent: model.generate one at a time for requests {len(sequential) + 1}-{n} ...")
            sequential += run_baseline(loaded, prompts[len(sequential):n], args.max_new_tokens)
        alone, alone_cpu = baseline_level(sequential[:n])
        same = sum(a.text == b.text for a, b in zip(alone, batched))
        b, e = summary(alone, alone_cpu), summary(batched, engine_cpu)
        rows.append((n, b, e, same, os.getloadavg()[0]))
        log(f"  engine {e[0]:.1f} tok/s, TTFT p50 {e[1]:.2f} s; one-at-a-time {b[0]:.1f} tok/s, "
            f"TTFT p50 {b[1]:.2f} s; {same}/{n} texts identical; completion tokens "
            f"{min(t.tokens for t in batched)}-{max(t.tokens for t in batched)}; load average {rows[-1][4]:.1f}")
    engine.close()

    print()
    print(f"SmolLM2-135M ({loaded.dtype}, {loaded.device}), greedy, max_new_tokens={args.max_new_tokens}; "
          "tok/s is wall clock, tok/cpu-s counts CPU time so it suffers less from other load")
    header = (f"{'conc':>4} | {'one-at-a-time tok/s':>19} | {'engine tok/s':>12} | {'speedup':>7} | "
              f"{'tok/cpu-s 1-by-1 / engine':>25} | {'TTFT p50/p95 one-at-a-time':>26} | "
              f"{'TTFT p50/p95 engine':>19} | same text | load")
    print(header)
    print("-" * len(header))
    for n, b, e, same, load in rows:
        print(f"{n:>4} | {b[0]:>19.1f} | {e[0]:>12.1f} | {e[0] / b[0]:>6.1f}x | {b[3]:>11.1f} / {e[3]:<11.1f} | "
              f"{b[1]:>11.2f} s / {b[2]:>6.2f} s | {e[1]:>7.2f} s / {e[2]:>5.2f} s | {same:>4}/{n:<4} | {load:.1f}")
    if cold:
        print(f"cold load in a fresh process: from GGUF {cold['gguf']:.1f} s (includes the one-time conversion), "
              f"from cache {cold['cache']:.1f} s")
    log(f"finished; load average {os.getloadavg()[0]:.1f} (this machine's 2 CPUs are shared, so numbers are noisy)")


if __name__ == "__main__":
    main()

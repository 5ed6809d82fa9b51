"""Throughput and time to first token of batched serving against one-at-a-time model.generate.

The default mode measures the real worker path. It starts a private PostgreSQL and Redis and one
Celery worker process (``celery -A workers.celery worker``, thread pool, the transformers backend with
its BatchEngine) serving SmolLM2 on its own queue. For each concurrency level N, N client threads
start together; each creates a direct battle with ``arena.battles.start_battle`` (the service
the API calls: rows in PostgreSQL, a Celery task through the Redis broker) and reads the
battle's Redis Stream as the SSE view does, until the answer's ``end`` event. Time to first
token runs from the call to the first ``delta`` event read back; total from the call to ``end``.

``--mode engine`` drives BatchEngine.stream from N threads in this process instead (no broker,
no database), which separates the engine from the cost of the path around it.

The baseline serves the same N prompts one at a time with plain ``model.generate`` in this
process (what FastChat's model_worker does with a concurrency limit of 1): request i waits for
the i-1 before it, so its times count from the moment all N arrived. Both sides decode greedily
with the same max_new_tokens and count generated tokens without the stop token, so they produce
the same tokens (the table says whether the texts matched). Also reports cold-load times from
the GGUF and from the cache, each in a fresh process.

    .venv/bin/python bench/batching_bench.py                 # worker path, levels 1,4,8,16
    .venv/bin/python bench/batching_bench.py --mode engine --levels 1,8 --max-new-tokens 64 --skip-cold-load
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ARENA_MODEL_CACHE", str(ROOT / ".state" / "models"))

import django  # noqa: E402
import torch  # noqa: E402
from django.db import connection  # noqa: E402
from transformers.generation.streamers import BaseStreamer  # noqa: E402

from arena.localservices import free_port  # noqa: E402
from arena.redis_client import get_redis  # noqa: E402
from arena.stack import Stack  # noqa: E402
from bench.long_prompts import PROMPTS  # noqa: E402
from workers.engine import BatchEngine, SamplingParams, load_model, render_prompt  # noqa: E402
from workers.heartbeat import live_queues  # noqa: E402

WORKER_QUEUE = "bench-smollm2"
WORKER_CONCURRENCY = 16  # what `make run` starts (Stack.start_worker's default)


@dataclass
class Timing:
    ttft: float  # seconds from arrival to the first token
    end: float  # seconds from arrival to the last token
    tokens: int
    text: str
    arrival: float = 0.0  # perf_counter at arrival (all 0 for the simulated one-at-a-time queue)
    stages: dict | None = None  # worker path: seconds from arrival to each stage, from the stream's entry ids


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


def run_baseline(loaded, prompts: list[list[int]], max_new_tokens: int) -> list[tuple[float, float, int, str, float]]:
    """(ttft, duration, tokens, text, cpu seconds) of each prompt, served alone by model.generate."""
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


def run_together(n: int, client) -> list[Timing]:
    """Start ``client(i)`` for i < n on n threads at the same moment; return their timings."""
    barrier = threading.Barrier(n)
    timings: list[Timing | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            timings[i] = client(i)
        except BaseException as exc:  # re-raised below, on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return timings


# ------------------------------------------------------------------ engine mode: BatchEngine in this process

class EnginePath:
    name = "engine"

    def __init__(self, loaded, max_new_tokens: int, max_batch_size: int):
        self.loaded = loaded
        self.params = SamplingParams(max_new_tokens=max_new_tokens, temperature=0)
        self.engine = BatchEngine(loaded, max_batch_size=max_batch_size)
        self.engine.generate([loaded_prompts(loaded)[0]] * 2, SamplingParams(max_new_tokens=8, temperature=0))

    def level(self, n: int) -> list[Timing]:
        prompts = loaded_prompts(self.loaded)

        def client(i: int) -> Timing:
            started = time.perf_counter()
            first, pieces = None, []
            stream = self.engine.stream(prompts[i], self.params)
            for delta in stream:
                first = first or time.perf_counter()
                pieces.append(delta.text)
            end = time.perf_counter()
            return Timing(ttft=(first or end) - started, end=end - started, arrival=started,
                          tokens=stream.completion.completion_tokens, text="".join(pieces))

        return run_together(n, client)

    def cpu_seconds(self) -> float:
        return time.process_time()

    def close(self) -> None:
        self.engine.close()


# ------------------------------------------------------------------ worker mode: PostgreSQL, Redis, Celery worker

class WorkerPath:
    """A private stack with one Celery worker serving SmolLM2 on its own queue."""

    name = "worker path"

    def __init__(self, max_new_tokens: int, dtype: str = "auto"):
        self.state = Path(tempfile.mkdtemp(prefix="arena-batching-"))
        self.state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
        pg_port, redis_port = free_port(), free_port()
        os.environ.update({
            "DATABASE_URL": f"postgres://arena@127.0.0.1:{pg_port}/arena",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DJANGO_SETTINGS_MODULE": "arena.settings", "ARENA_HEARTBEAT_SECONDS": "1", "ARENA_HEARTBEAT_TTL": "5",
            "TOKENIZERS_PARALLELISM": "false",
        })
        self.stack = Stack(state=self.state,
                           env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")})
        self.stack.stop_on_sigterm()  # a killed bench stops its services too
        self.stack.start_databases(pg_port=pg_port, redis_port=redis_port)
        self.stack.manage("migrate", "--noinput", "-v", "0")

        django.setup()
        from arena.models import Backend, ModelEndpoint  # noqa: PLC0415 (Django app loading: set up in WorkerPath)

        self.endpoint = "bench-smollm2"
        for name, tokens in ((self.endpoint, max_new_tokens), ("bench-warmup", 8)):
            ModelEndpoint.objects.create(name=name, organisation="bench", backend=Backend.TRANSFORMERS,
                                         queue=WORKER_QUEUE,
                                         params={"model": "smollm2", "dtype": dtype, "temperature": 0,
                                                 "max_new_tokens": tokens})
        self.worker = self.stack.start_worker("worker", [WORKER_QUEUE], concurrency=WORKER_CONCURRENCY)
        self._wait_for_worker()
        log("warming up the worker path ...")
        run_together(2, lambda i: self._one(i, "bench-warmup"))

    def _wait_for_worker(self) -> None:
        deadline = time.monotonic() + 180
        while WORKER_QUEUE not in live_queues():  # the worker loads the model before its first heartbeat
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not come up; see {self.stack.logs / 'worker.log'}")
            time.sleep(0.2)

    def level(self, n: int) -> list[Timing]:
        return run_together(n, lambda i: self._one(i, self.endpoint))

    def _one(self, i: int, endpoint: str) -> Timing:
        from arena.battles import start_battle  # noqa: PLC0415 (Django app loading: set up in WorkerPath)
        from arena.models import Message  # noqa: PLC0415 (Django app loading: set up in WorkerPath)

        try:
            started, started_wall = time.perf_counter(), time.time()
            battle = start_battle(prompt=PROMPTS[i], mode="direct", models=[endpoint], client_id=f"bench-{i}")
            stages = {"enqueued": time.perf_counter() - started}
            first = end = None
            tokens, status, last_id = 0, "", "0-0"
            deadline = started + 600
            while end is None:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no end event for battle {battle.uuid} within 600 s")
                for _, entries in get_redis().xread({battle.stream_key(): last_id}, count=500, block=1000) or []:
                    now = time.perf_counter()
                    for last_id, fields in entries:
                        event = json.loads(fields["data"])
                        # Entry ids are Redis' clock in ms (this machine's clock): when the worker wrote it.
                        written = int(last_id.split("-")[0]) / 1000 - started_wall
                        if event["type"] == "start":
                            stages["claimed"] = written
                        if event["type"] == "delta" and first is None:
                            first, stages["first written"] = now, written
                        elif event["type"] == "end":
                            end, tokens, status = now, event["tokens"], event["status"]
            if status != "done":
                raise RuntimeError(f"battle {battle.uuid} ended {status}: see {self.stack.logs / 'worker.log'}")
            text = Message.objects.get(turn__battle=battle).text
            return Timing(ttft=(first or end) - started, end=end - started, tokens=tokens, text=text, arrival=started,
                          stages=stages)
        finally:
            connection.close()

    def cpu_seconds(self) -> float:
        """CPU time of the worker process (all its threads): comparable with model.generate's own."""
        with open(f"/proc/{self.worker.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.stack.stop()
        shutil.rmtree(self.state, ignore_errors=True)


_prompt_cache: dict[int, list[list[int]]] = {}


def loaded_prompts(loaded) -> list[list[int]]:
    """PROMPTS rendered as the transformers backend renders a one-message conversation."""
    if id(loaded) not in _prompt_cache:
        _prompt_cache[id(loaded)] = [render_prompt(loaded.tokenizer, [{"role": "user", "content": p}]) for p in PROMPTS]
    return _prompt_cache[id(loaded)]


def summary(timings: list[Timing], cpu: float) -> dict:
    """Tokens per wall second (first arrival to last token), TTFT and total p50/p95, tokens per CPU second."""
    tokens = sum(t.tokens for t in timings)
    first_arrival = min(t.arrival for t in timings)
    wall = max(t.arrival + t.end for t in timings) - first_arrival
    ttfts, totals = [t.ttft for t in timings], [t.end for t in timings]
    return {"tok_s": tokens / wall, "ttft50": statistics.median(ttfts), "ttft95": percentile(ttfts, 0.95),
            "end50": statistics.median(totals), "end95": percentile(totals, 0.95), "tok_cpu": tokens / cpu,
            "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["worker", "engine"], default="worker")
    parser.add_argument("--levels", default="1,4,8,16")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--dtype", default="auto", help="both sides (the endpoint's dtype parameter in worker mode), "
                        "e.g. bfloat16 to use a CPU's AMX kernels; auto is float32 on CPU")
    parser.add_argument("--skip-cold-load", action="store_true")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if max(levels) > len(PROMPTS):
        parser.error(f"at most {len(PROMPTS)} concurrent requests")
    if args.mode == "worker" and max(levels) > WORKER_CONCURRENCY:
        parser.error(f"the worker runs {WORKER_CONCURRENCY} tasks at once")

    log(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, "
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

    log("loading SmolLM2 for the one-at-a-time runs ...")
    loaded = load_model("smollm2", dtype=args.dtype)
    prompts = loaded_prompts(loaded)
    run_baseline(loaded, prompts[:1], 8)
    if args.mode == "worker":
        log("starting PostgreSQL, Redis and a Celery worker serving SmolLM2 ...")
        path = WorkerPath(args.max_new_tokens, args.dtype)
    else:
        path = EnginePath(loaded, args.max_new_tokens, max(levels))

    sequential: list[tuple] = []
    rows = []
    try:
        for n in levels:
            log(f"{n} concurrent through the {path.name} ...")
            cpu_started = path.cpu_seconds()
            batched = path.level(n)
            path_cpu = path.cpu_seconds() - cpu_started
            if len(sequential) < n:
                log(f"{n} concurrent: model.generate one at a time for requests {len(sequential) + 1}-{n} ...")
                sequential += run_baseline(loaded, prompts[len(sequential):n], args.max_new_tokens)
            alone, alone_cpu = baseline_level(sequential[:n])
            same = sum(a.text == b.text for a, b in zip(alone, batched))
            b, e = summary(alone, alone_cpu), summary(batched, path_cpu)
            rows.append((n, b, e, same, os.getloadavg()[0]))
            if batched[0].stages:
                log("  p50 seconds from the request to: " + ", ".join(
                    f"{stage} {statistics.median(t.stages[stage] for t in batched):.3f}"
                    for stage in batched[0].stages))
            log(f"  {path.name} {e['tok_s']:.1f} tok/s, TTFT p50 {e['ttft50']:.2f} s; one-at-a-time "
                f"{b['tok_s']:.1f} tok/s, TTFT p50 {b['ttft50']:.2f} s; {same}/{n} texts identical; tokens "
                f"{e['tokens']} vs {b['tokens']}; load average {rows[-1][4]:.1f}")
    finally:
        path.close()

    print()
    where = ("through the worker path: start_battle -> Celery (Redis broker) -> worker process (transformers "
             "backend, BatchEngine) -> the battle's Redis Stream, read back"
             if args.mode == "worker" else "BatchEngine.stream from threads in one process")
    print(f"SmolLM2-135M ({loaded.dtype}, {loaded.device}), greedy, max_new_tokens={args.max_new_tokens}; "
          f"batched = {where}.")
    print("Times run from the request to its first token / last token; one-at-a-time requests all arrive "
          "at 0 and queue. tok/cpu-s counts the serving process's CPU time (less sensitive to other load).")
    b_name = "worker" if args.mode == "worker" else "engine"
    header = (f"{'conc':>4} | {'1-by-1 tok/s':>12} | {b_name + ' tok/s':>12} | {'speedup':>7} | "
              f"{'tok/cpu-s 1-by-1 / ' + b_name:>25} | {'TTFT p50/p95 1-by-1':>19} | "
              f"{'TTFT p50/p95 ' + b_name:>19} | {'total p50/p95 1-by-1':>20} | {'total p50/p95 ' + b_name:>20} | "
              f"same text | load")
    print(header)
    print("-" * len(header))
    for n, b, e, same, load in rows:
        print(f"{n:>4} | {b['tok_s']:>12.1f} | {e['tok_s']:>12.1f} | {e['tok_s'] / b['tok_s']:>6.1f}x | "
              f"{b['tok_cpu']:>11.1f} / {e['tok_cpu']:<11.1f} | "
              f"{b['ttft50']:>7.2f} s / {b['ttft95']:>5.2f} s | {e['ttft50']:>7.2f} s / {e['ttft95']:>5.2f} s | "
              f"{b['end50']:>7.1f} s / {b['end95']:>6.1f} s | {e['end50']:>7.1f} s / {e['end95']:>6.1f} s | "
              f"{same:>4}/{n:<4} | {load:.1f}")
    if cold:
        print(f"cold load in a fresh process: from GGUF {cold['gguf']:.1f} s (includes the one-time conversion), "
              f"from cache {cold['cache']:.1f} s")
    eight = [row for row in rows if row[0] == 8]
    if eight:
        n, b, e, _, _ = eight[0]
        met = e["tok_s"] >= 4 * b["tok_s"] and e["ttft50"] < 1
        print(f"target at 8 concurrent (>= 4x one-at-a-time tok/s, TTFT p50 < 1 s): "
              f"{'met' if met else 'NOT met'} ({e['tok_s'] / b['tok_s']:.1f}x, TTFT p50 {e['ttft50']:.2f} s)")
    log(f"finished; load average {os.getloadavg()[0]:.1f} (this machine's 2 CPUs are shared, so numbers are noisy)")


if __name__ == "__main__":
    main()

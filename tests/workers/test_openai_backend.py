"""The `openai` backend against a real OpenAI-compatible server: the project's own /v1, which
is closed by default (keys), limited per key, JSON-only, never CORS-open, and keeps its share."""

import json
import socket
import sys
import threading
import time

import httpx
import pytest

from arena import redis_keys
from arena.endpoint_check import check_endpoint
from arena.localservices import free_port, port_open
from arena.models import Backend, Message, ModelEndpoint
from arena.redis_client import get_redis
from tests.conftest import TINY_QUEUE, tiny_endpoint, wait_until
from tests.stub_openai import StubServer
from tests.testenv import V1_KEY

KEYED = {"Authorization": f"Bearer {V1_KEY}"}


def _remote(name, base_url, model, **params):
    return ModelEndpoint.objects.create(name=name, organisation="remote-org", backend=Backend.OPENAI, queue=TINY_QUEUE,
                                        params={"base_url": base_url, "model": model, "temperature": 0,
                                                "max_tokens": 20, **params}, api_key=V1_KEY)


@pytest.fixture
def local(arena_db, tiny_model_dir):
    return tiny_endpoint("local-tiny", tiny_model_dir, max_new_tokens=20)


def test_own_server_answers_streaming_and_not(api, web, local):
    body = {"model": "local-tiny", "messages": [{"role": "user", "content": "Hi there"}], "temperature": 0,
            "max_tokens": 12}
    plain = httpx.post(f"{web}/v1/chat/completions", json=body, headers=KEYED, timeout=60)
    assert plain.status_code == 200, plain.text
    answer = plain.json()["choices"][0]
    assert answer["message"]["role"] == "assistant" and answer["message"]["content"]
    assert answer["finish_reason"] == "length" and plain.json()["usage"]["completion_tokens"] == 12

    pieces = []
    with httpx.stream("POST", f"{web}/v1/chat/completions", json={**body, "stream": True}, headers=KEYED,
                      timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert len(pieces) > 2 and "".join(pieces) == answer["message"]["content"]  # greedy: same text both ways

    models = httpx.get(f"{web}/v1/models", headers=KEYED).json()["data"]
    assert [m["id"] for m in models] == ["local-tiny"]
    missing = httpx.post(f"{web}/v1/chat/completions", json={**body, "model": "nope"}, headers=KEYED)
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
    bad = httpx.post(f"{web}/v1/chat/completions", json={"model": "local-tiny", "messages": []}, headers=KEYED)
    assert bad.status_code == 400 and bad.json()["error"]["message"]


def test_openai_backend_matches_the_local_model_through_the_server(api, web, local):
    _remote("remote-tiny", f"{web}/v1", "local-tiny")
    battle_id = api.start("Hello", mode="named", models=["remote-tiny", "local-tiny"])
    data = api.wait_finished(battle_id, timeout=90)
    a, b = data["turns"][0]["a"], data["turns"][0]["b"]
    assert a["status"] == b["status"] == "done"
    assert a["text"] == b["text"] != ""  # the same greedy answer, once over HTTP and once in-process
    assert a["tokens"] == 20


def test_a_server_error_fails_only_that_side(api, web, local):
    _remote("remote-broken", f"{web}/v1", "no-such-model")
    battle_id = api.start("Hello", mode="named", models=["remote-broken", "local-tiny"])
    data = api.wait_finished(battle_id, timeout=90)
    assert data["turns"][0]["a"]["status"] == "failed" and data["turns"][0]["b"]["status"] == "done"
    error = ModelEndpoint.objects.get(name="remote-broken")
    stored = Message.objects.get(turn__battle__uuid=battle_id, side="a").error
    assert "404" in stored and "does not exist" in stored
    assert error.api_key == V1_KEY


@pytest.fixture
def hanging_server():
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_hanging_server_times_out_on_that_side_only(api, local, hanging_server):
    _remote("remote-hangs", hanging_server, "whatever", timeout=2)
    battle_id = api.start("Hello", mode="named", models=["remote-hangs", "local-tiny"])
    data = api.wait_finished(battle_id, timeout=60)
    assert data["turns"][0]["a"]["status"] == "failed" and data["turns"][0]["b"]["status"] == "done"
    assert "did not answer within 2 s" in Message.objects.get(turn__battle__uuid=battle_id, side="a").error


def test_a_transient_server_error_before_any_text_is_retried(api, arena_db):
    with StubServer({"flaky": "Fine, thanks for asking."}, failures={"flaky": [503]}) as server:
        _remote("remote-flaky", server.url, "flaky")
        battle_id = api.start("Hello", mode="direct", models=["remote-flaky"])
        data = api.wait_finished(battle_id, timeout=60)
        assert data["turns"][0]["a"]["status"] == "done"
        assert data["turns"][0]["a"]["text"] == "Fine, thanks for asking."  # once: nothing streamed twice
        assert server.requests["flaky"] == 2


@pytest.mark.parametrize("status", [400, 401])
def test_a_permanent_server_error_fails_at_once(api, arena_db, status):
    with StubServer({"refuses": "never said"}, failures={"refuses": [status, status, status]}) as server:
        _remote("remote-refuses", server.url, "refuses")
        battle_id = api.start("Hello", mode="direct", models=["remote-refuses"])
        data = api.wait_finished(battle_id, timeout=60)
        assert data["turns"][0]["a"]["status"] == "failed"
        assert str(status) in Message.objects.get(turn__battle__uuid=battle_id, side="a").error
        assert server.requests["refuses"] == 1


def test_the_endpoint_check_retries_a_transient_error_and_not_a_permanent_one(api, arena_db):
    with StubServer({"flaky": "Hello there.", "refuses": "never said"},
                    failures={"flaky": [502], "refuses": [401, 401, 401]}) as server:
        result = check_endpoint(_remote("remote-flaky", server.url, "flaky"), timeout=60)
        assert result.ok and result.text == "Hello there." and server.requests["flaky"] == 2
        result = check_endpoint(_remote("remote-refuses", server.url, "refuses"), timeout=60)
        assert not result.ok and "401" in result.error and server.requests["refuses"] == 1


BODY = {"model": "local-tiny", "messages": [{"role": "user", "content": "Hi there"}], "max_tokens": 4}


def test_v1_is_closed_without_a_key(web, local, worker):
    for headers in [{}, {"Authorization": "Bearer wrong-key"}]:
        refused = httpx.post(f"{web}/v1/chat/completions", json=BODY, headers=headers, timeout=30)
        assert refused.status_code == 401 and refused.json()["error"]["message"] == "Invalid or missing API key."
        assert httpx.get(f"{web}/v1/models", headers=headers).status_code == 401


def test_a_requested_max_tokens_never_raises_the_endpoints_own_cap(web, local, worker):
    answer = httpx.post(f"{web}/v1/chat/completions", json={**BODY, "max_tokens": 500}, headers=KEYED, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["completion_tokens"] == 20  # the endpoint's max_new_tokens
    assert answer.json()["choices"][0]["finish_reason"] == "length"


def test_v1_refuses_a_cross_origin_text_post_and_sends_no_cors_header(web, local, worker):
    origin = {"Origin": "https://evil.example"}
    simple = httpx.post(f"{web}/v1/chat/completions", content=json.dumps(BODY),
                        headers={**origin, **KEYED, "Content-Type": "text/plain"}, timeout=30)
    assert simple.status_code == 415 and "application/json" in simple.json()["error"]["message"]
    preflight = httpx.options(f"{web}/v1/chat/completions", headers={
        **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    served = httpx.post(f"{web}/v1/chat/completions", json=BODY, headers={**origin, **KEYED}, timeout=60)
    assert served.status_code == 200
    for response in (simple, preflight, served):
        assert "access-control-allow-origin" not in response.headers


def test_v1_takes_at_most_its_share_of_a_queue_and_battles_still_run(api, web, local, worker):
    key = redis_keys.completions_running(TINY_QUEUE)
    get_redis().zadd(key, {f"busy-{i}": time.time() for i in range(4)})  # ARENA_V1_CONCURRENCY's default
    try:
        busy = httpx.post(f"{web}/v1/chat/completions", json=BODY, headers=KEYED, timeout=30)
        assert busy.status_code == 429 and "busy with other API requests" in busy.json()["error"]["message"]
        tiny_endpoint("other-tiny", local.params["model"])
        battle_id = api.start("Hello", mode="named", models=["local-tiny", "other-tiny"])
        assert {api.wait_finished(battle_id)["turns"][0][s]["status"] for s in "ab"} == {"done"}
    finally:
        get_redis().delete(key)
    served = httpx.post(f"{web}/v1/chat/completions", json=BODY, headers=KEYED, timeout=60)
    assert served.status_code == 200
    assert get_redis().zcard(key) == 0  # the finished job gave its slot back


def test_a_failure_inside_the_worker_is_told_without_its_exception_text(web, arena_db, worker, tmp_path):
    tiny_endpoint("local-broken", tmp_path / "no-model-here")
    answer = httpx.post(f"{web}/v1/chat/completions", json={**BODY, "model": "local-broken"}, headers=KEYED,
                        timeout=60)
    assert answer.status_code == 502
    message = answer.json()["error"]["message"]
    assert str(tmp_path) not in message and "Error" not in message and message.endswith(".")


def _web(stack, name: str, **env) -> tuple[str, object]:
    port = free_port()
    process = stack.spawn(name, [sys.executable, "-m", "uvicorn", "arena.asgi:application", "--port", str(port),
                                 "--no-access-log"], **env)
    wait_until(lambda: port_open(port), timeout=60, what=f"the {name} web server")
    return f"http://127.0.0.1:{port}", process


def test_v1_limits_each_key_on_its_own(stack, local, worker):
    url, process = _web(stack, "web-v1-limited", ARENA_API_KEYS="key-one,key-two",
                        ARENA_LIMITS=json.dumps({"completions": "3/m", "completions_ip": "1000/m"}))
    try:
        missing = {**BODY, "model": "nope"}  # counted like any completion, answered at once
        one, two = {"Authorization": "Bearer key-one"}, {"Authorization": "Bearer key-two"}
        assert [httpx.post(f"{url}/v1/chat/completions", json=missing, headers=one).status_code
                for _ in range(3)] == [404] * 3
        refused = httpx.post(f"{url}/v1/chat/completions", json=missing, headers=one)
        assert refused.status_code == 429 and "limit is 3/m" in refused.json()["error"]["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert httpx.post(f"{url}/v1/chat/completions", json=missing, headers=two).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_an_operator_can_open_v1_to_everyone(stack, local, worker):
    url, process = _web(stack, "web-v1-open", ARENA_API_KEYS="", ARENA_V1_OPEN="1")
    try:
        assert httpx.get(f"{url}/v1/models").status_code == 200
        assert httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=60).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_v1_refuses_a_lone_surrogate_with_a_sentence(web, local, worker):
    body = b'{"model": "local-tiny", "messages": [{"role": "user", "content": "left \\ud800 right"}]}'
    refused = httpx.post(f"{web}/v1/chat/completions", content=body,
                         headers={**KEYED, "Content-Type": "application/json"}, timeout=30)
    message = refused.json()["error"]["message"]
    assert refused.status_code == 400 and "unicode" in message and message.endswith(".")

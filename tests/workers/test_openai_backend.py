"""The `openai` backend against a real OpenAI-compatible server: the project's own /v1."""

import json
import socket
import threading

import httpx
import pytest

from arena.endpoint_check import check_endpoint
from arena.models import Backend, Message, ModelEndpoint
from tests.conftest import TINY_QUEUE, tiny_endpoint
from tests.stub_openai import StubServer


def _remote(name, base_url, model, **params):
    return ModelEndpoint.objects.create(name=name, organisation="remote-org", backend=Backend.OPENAI, queue=TINY_QUEUE,
                                        params={"base_url": base_url, "model": model, "temperature": 0,
                                                "max_tokens": 20, **params})


@pytest.fixture
def local(arena_db, tiny_model_dir):
    return tiny_endpoint("local-tiny", tiny_model_dir, max_new_tokens=20)


def test_own_server_answers_streaming_and_not(api, web, local):
    body = {"model": "local-tiny", "messages": [{"role": "user", "content": "Hi there"}], "temperature": 0,
            "max_tokens": 12}
    plain = httpx.post(f"{web}/v1/chat/completions", json=body, timeout=60)
    assert plain.status_code == 200, plain.text
    answer = plain.json()["choices"][0]
    assert answer["message"]["role"] == "assistant" and answer["message"]["content"]
    assert answer["finish_reason"] == "length" and plain.json()["usage"]["completion_tokens"] == 12

    pieces = []
    with httpx.stream("POST", f"{web}/v1/chat/completions", json={**body, "stream": True}, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert len(pieces) > 2 and "".join(pieces) == answer["message"]["content"]  # greedy: same text both ways

    models = httpx.get(f"{web}/v1/models").json()["data"]
    assert [m["id"] for m in models] == ["local-tiny"]
    missing = httpx.post(f"{web}/v1/chat/completions", json={**body, "model": "nope"})
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]["message"]
    bad = httpx.post(f"{web}/v1/chat/completions", json={"model": "local-tiny", "messages": []})
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
    assert error.api_key == ""


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

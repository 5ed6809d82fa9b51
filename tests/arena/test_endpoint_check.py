"""The admin's "Test endpoint" through the real worker: each way a remote server can fail is named
by its cause, with the address tried."""

import re

import pytest

from arena.endpoint_check import check_endpoint
from arena.localservices import free_port
from arena.models import Backend, ModelEndpoint
from tests.conftest import TINY_QUEUE, tiny_endpoint
from tests.testenv import V1_KEY


def _remote(base_url: str, model: str = "local-tiny", api_key: str = V1_KEY) -> ModelEndpoint:
    return ModelEndpoint.objects.create(name=f"remote-{ModelEndpoint.objects.count()}", backend=Backend.OPENAI,
                                        queue=TINY_QUEUE, params={"base_url": base_url, "model": model,
                                                                  "max_tokens": 8, "timeout": 20}, api_key=api_key)


@pytest.fixture
def served(api, arena_db, tiny_model_dir):
    """The arena's own /v1 serving a local model: a real OpenAI-compatible server on this machine."""
    return tiny_endpoint("local-tiny", tiny_model_dir, max_new_tokens=8)


def test_it_answers_through_a_working_server(web, served):
    result = check_endpoint(_remote(f"{web}/v1"), timeout=60)
    assert result.ok and result.text and result.tokens > 0, result.error


@pytest.mark.parametrize(("case", "expected"), [
    ("refused", r"^Connection refused by 127\.0\.0\.1:\d+: nothing is listening there "
                r"\(POST http://127\.0\.0\.1:\d+/v1/chat/completions\)$"),
    ("dns", r"^DNS: the host name 'no-such-host\.invalid' does not resolve "
            r"\(POST http://no-such-host\.invalid/v1/chat/completions\)$"),
    ("tls", r"^TLS failed with 127\.0\.0\.1:\d+: .+ \(POST https://127\.0\.0\.1:\d+/v1/chat/completions\)$"),
    ("key", r"^The server refused the API key \(401: .+\); set the endpoint's API key\. "
            r"\(POST .+/v1/chat/completions\)$"),
    ("model", r"^The server does not serve the model 'no-such-model' \(404: .+\)\. \(POST .+\)$"),
    ("address", r"^Nothing answers at this address \(404\); base_url usually ends in /v1\. "
                r"\(POST http://127\.0\.0\.1:\d+/wrong/chat/completions\)$"),
])
def test_it_names_the_cause_and_the_address_tried(web, served, case, expected):
    port = web.rsplit(":", 1)[1]
    endpoint = {
        "refused": lambda: _remote(f"http://127.0.0.1:{free_port()}/v1"),
        "dns": lambda: _remote("http://no-such-host.invalid/v1"),
        "tls": lambda: _remote(f"https://127.0.0.1:{port}/v1"),  # a plain-HTTP server spoken to in TLS
        "key": lambda: _remote(f"{web}/v1", api_key="not-the-key"),
        "model": lambda: _remote(f"{web}/v1", model="no-such-model"),
        "address": lambda: _remote(f"{web}/wrong"),
    }[case]()
    result = check_endpoint(endpoint, timeout=60)
    assert not result.ok
    assert re.match(expected, result.error), result.error

"""Any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, TGI, llama.cpp, Ollama, hosted APIs)."""

import json
import socket
import ssl
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import httpx

from workers.params import examples, number, refuse_unknown, text

from .base import BackendError, Delta, Usage

KNOWN = {"base_url", "model", "temperature", "top_p", "max_tokens", "system_prompt", "examples", "extra_body",
         "timeout"}


def clean_params(params: dict) -> dict:
    refuse_unknown(params, KNOWN, "openai")
    base_url = text(params, "base_url")
    if not base_url:
        raise ValueError("base_url is required, e.g. http://gpu-host:8000/v1.")
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"base_url must be an http(s) address, not {base_url!r}.")
    model = text(params, "model")
    if not model:
        raise ValueError("model is required: the model id the server expects.")
    extra = params.get("extra_body", {})
    if not isinstance(extra, dict):
        raise ValueError("extra_body must be a JSON object.")
    return {
        "base_url": base_url.rstrip("/"),
        "model": model,
        "temperature": number(params, "temperature", 0.7, low=0, high=2),
        "top_p": number(params, "top_p", 1.0, low=0, high=1),
        "max_tokens": number(params, "max_tokens", 512, low=1, high=32768, kind=int),
        "system_prompt": text(params, "system_prompt", ""),
        "examples": examples(params),
        "extra_body": extra,
        "timeout": number(params, "timeout", 60, low=1, high=3600),
    }


class OpenAIBackend:
    def __init__(self, params: dict, api_key: str = ""):
        self.params = clean_params(params)
        self.api_key = api_key

    def _body(self, conversation: list[dict]) -> dict:
        p = self.params
        system = [{"role": "system", "content": p["system_prompt"]}] if p["system_prompt"] else []
        messages = [*system, *p["examples"], *conversation]
        return {**p["extra_body"], "model": p["model"], "messages": messages, "stream": True,
                "temperature": p["temperature"], "top_p": p["top_p"], "max_tokens": p["max_tokens"],
                "stream_options": {"include_usage": True}}

    def stream(self, conversation: list[dict], *, should_stop: Callable[[], bool]) -> Iterator[Delta | Usage]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(self.params["timeout"], connect=10)
        url = self.params["base_url"] + "/chat/completions"
        usage, finish_reason = None, None
        try:
            with httpx.stream("POST", url, json=self._body(conversation), headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise BackendError(f"{_refusal(response, self.params['model'])} (POST {url})",
                                       permanent=400 <= response.status_code < 500)
                for line in response.iter_lines():
                    if should_stop():
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if chunk.get("usage"):
                        usage = chunk["usage"].get("completion_tokens")
                    for choice in chunk.get("choices") or []:
                        finish_reason = choice.get("finish_reason") or finish_reason  # "length": cut by max_tokens
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            yield Delta(piece, 1)
        except httpx.ConnectTimeout:
            raise BackendError(f"Timed out connecting to {urlparse(url).netloc} (POST {url}).") from None
        except httpx.TimeoutException:
            raise BackendError(f"The server did not answer within {self.params['timeout']:.0f} s "
                               f"(POST {url}).") from None
        except httpx.HTTPError as exc:
            sentence, permanent = _unreachable(exc, url)
            raise BackendError(f"{sentence} (POST {url})", permanent=permanent) from None
        except json.JSONDecodeError:
            raise BackendError("The server sent a chunk that is not JSON.") from None
        if usage is not None or finish_reason is not None:
            yield Usage(completion_tokens=usage, finish_reason=finish_reason)


def _refusal(response: httpx.Response, model: str) -> str:
    """What a server's refusal means for the operator: a key, an address or a model to fix."""
    status, detail = response.status_code, _error_text(response)
    model_unknown = "model" in detail.lower() and any(
        words in detail.lower() for words in ("not exist", "not found", "unknown", "no such", "does not serve"))
    if status in (401, 403):
        return f"The server refused the API key ({status}: {detail}); set the endpoint's API key."
    if model_unknown and status in (400, 404):
        return f"The server does not serve the model {model!r} ({status}: {detail})."
    if status == 404:
        return "Nothing answers at this address (404); base_url usually ends in /v1."
    return f"The server answered {status}: {detail}"


def _unreachable(exc: httpx.HTTPError, url: str) -> tuple[str, bool]:
    """Why no answer came, named by its cause, and whether trying again could help."""
    host = urlparse(url).hostname or ""
    netloc = urlparse(url).netloc
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    words = " ".join(str(e) for e in chain)
    if any(isinstance(e, socket.gaierror) for e in chain) or "Name or service not known" in words \
            or "name resolution" in words or "nodename nor servname" in words:
        return f"DNS: the host name {host!r} does not resolve", True
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in words:
        return f"Connection refused by {netloc}: nothing is listening there", False
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in words or "TLS" in words:
        reason = next((str(e) for e in chain if isinstance(e, ssl.SSLError)), words)[:200]
        return f"TLS failed with {netloc}: {reason}", True
    return f"Could not reach {netloc}: {type(exc).__name__} {str(exc)[:200]}".rstrip(), False


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body.get("error"), dict) else body.get("error")
        return str(message or body)[:300]
    except ValueError:  # not JSON: a proxy's or another site's page, whose markup says nothing useful
        text = response.text.strip()
        return response.reason_phrase if not text or text.startswith("<") else text[:300]


def build(endpoint, overrides: dict) -> OpenAIBackend:
    return OpenAIBackend({**endpoint.params, **_openai_overrides(overrides, endpoint.params)}, endpoint.api_key)


def _openai_overrides(overrides: dict, params: dict) -> dict:
    """A requested token cap never raises the endpoint's own."""
    mapped = {k: v for k, v in overrides.items() if k in ("temperature", "top_p")}
    if "max_tokens" in overrides:
        mapped["max_tokens"] = min(overrides["max_tokens"], clean_params(params)["max_tokens"])
    return mapped

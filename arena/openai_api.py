"""An OpenAI-compatible ``/v1/chat/completions`` (streaming and not) for the arena's local models,
so any OpenAI client can use them. Requests run on the same Celery queues as battles.

If ``ARENA_API_KEYS`` is set, callers must send one of its keys as a Bearer token.
"""

import asyncio
import json
import secrets
import time
from typing import Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import StreamingHttpResponse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer

from arena.models import Backend, ModelEndpoint
from arena.redis_client import get_async_redis

v1 = NinjaAPI(title="OpenAI-compatible API", version="1", urls_namespace="v1", openapi_url="/openapi.json",
              docs_url=None)
LOCAL_BACKENDS = [Backend.TRANSFORMERS, Backend.SEARCH]
WAIT_SECONDS = 600


class BearerKey(HttpBearer):
    def __call__(self, request):
        if not settings.ARENA_API_KEYS:
            return "anonymous"
        return super().__call__(request)

    def authenticate(self, request, token):
        return token if any(secrets.compare_digest(token, key) for key in settings.ARENA_API_KEYS) else None


def openai_error(request, message: str, status: int, kind: str = "invalid_request_error"):
    return v1.create_response(request, {"error": {"message": message, "type": kind, "code": status}}, status=status)


@v1.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    message = "Invalid or missing API key." if exc.status_code == 401 else str(exc)
    return openai_error(request, message, exc.status_code)


@v1.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", [])[2:]) or "body"
    return openai_error(request, f"{where}: {first.get('msg', 'invalid value')}.", 400)


class ChatMessage(Schema):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


class ChatRequest(Schema):
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=8192)
    seed: int | None = Field(None, ge=0, le=2**31)


def _served_endpoints():
    from workers.heartbeat import live_queues

    return ModelEndpoint.objects.enabled().for_named_modes().filter(backend__in=LOCAL_BACKENDS).on_queues(live_queues())


@v1.get("/models", auth=BearerKey())
def list_models(request):
    created = int(time.time())
    return {"object": "list", "data": [{"id": e.public_name, "object": "model", "created": created,
                                        "owned_by": e.public_organisation or "arena"} for e in _served_endpoints()]}


@v1.post("/chat/completions", auth=BearerKey())
async def chat_completions(request, payload: ChatRequest):
    endpoints = {e.public_name: e for e in await sync_to_async(list)(_served_endpoints())}
    endpoint = endpoints.get(payload.model)
    if endpoint is None:
        return openai_error(request, f"The model {payload.model[:100]!r} does not exist or has no running worker.",
                            404, "not_found_error")
    job_id = secrets.token_hex(12)
    overrides = payload.model_dump(include={"temperature", "top_p", "max_tokens", "seed"}, exclude_none=True)
    await sync_to_async(_enqueue)(job_id, endpoint, [m.model_dump() for m in payload.messages], overrides)
    if payload.stream:
        response = StreamingHttpResponse(_sse_chunks(job_id, payload.model), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        return response
    text, end = [], {}
    async for event in _job_events(job_id):
        if event["type"] == "delta":
            text.append(event["text"])
        else:
            end = event
    if end.get("error"):
        return openai_error(request, end["error"], 502, "server_error")
    return {"id": f"chatcmpl-{job_id}", "object": "chat.completion", "created": int(time.time()), "model": payload.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)},
                         "finish_reason": _finish(end)}],
            "usage": {"completion_tokens": end.get("completion_tokens", 0)}}


def _finish(end: dict) -> str:
    return "length" if end.get("finish_reason") == "length" else "stop"


def _enqueue(job_id: str, endpoint: ModelEndpoint, messages: list[dict], overrides: dict) -> None:
    from workers.completions import create_job
    from workers.tasks import generate_completion

    create_job(job_id, endpoint_id=endpoint.id, messages=messages, overrides=overrides)
    generate_completion.apply_async((job_id,), queue=endpoint.queue)


async def _job_events(job_id: str):
    from workers.completions import stop_key, stream_key

    r = get_async_redis()
    last = "0-0"
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            entries = await r.xread({stream_key(job_id): last}, block=5000, count=500)
            for entry_id, fields in (entries[0][1] if entries else []):
                last = entry_id
                event = json.loads(fields["data"])
                yield event
                if event["type"] == "end":
                    await r.delete(stream_key(job_id))
                    return
        yield {"type": "end", "error": "The model did not answer in time.", "finish_reason": "stop"}
    except (asyncio.CancelledError, GeneratorExit):
        await r.set(stop_key(job_id), "1", ex=600)  # the client went away: free the batch slot
        raise


async def _sse_chunks(job_id: str, model: str):
    base = {"id": f"chatcmpl-{job_id}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    first = True
    async for event in _job_events(job_id):
        if event["type"] == "delta":
            delta = {"role": "assistant", "content": event["text"]} if first else {"content": event["text"]}
            first = False
            yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': delta, 'finish_reason': None}]})}\n\n"
        else:
            if event.get("error"):
                yield f"data: {json.dumps({'error': {'message': event['error'], 'type': 'server_error'}})}\n\n"
            else:
                yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': _finish(event)}]})}\n\n"
                usage = {"completion_tokens": event.get("completion_tokens", 0)}
                yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"

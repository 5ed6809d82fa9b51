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

from arena import events, jobs, redis_keys
from arena.models import Backend, ModelEndpoint
from arena.redis_client import get_async_redis
from workers.completions import create_job
from workers.heartbeat import live_queues
from workers.tasks import generate_completion

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
    overrides = payload.model_dump(include={"temperature", "top_p", "max_tokens", "seed"}, exclude_none=True)
    job_id = await sync_to_async(_submit)(endpoint, [m.model_dump() for m in payload.messages], overrides)
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
    return {"id": f"chatcmpl-{job_id}", "object": "chat.completion", "created": int(time.time()),
            "model": payload.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)},
                         "finish_reason": _finish(end)}],
            "usage": {"completion_tokens": end.get("completion_tokens", 0)}}


def _finish(end: dict) -> str:
    return "length" if end.get("finish_reason") == "length" else "stop"


def _submit(endpoint: ModelEndpoint, messages: list[dict], overrides: dict) -> str:
    job_id = create_job(endpoint_id=endpoint.id, messages=messages, overrides=overrides)
    jobs.submit(generate_completion, job_id, queue=endpoint.queue)
    return job_id


async def _job_events(job_id: str):
    try:
        async for event in jobs.follow_async(redis_keys.completion_events(job_id), timeout=WAIT_SECONDS):
            yield event
    except jobs.JobTimeout:
        yield events.completion_end(finish_reason="stop", completion_tokens=0,
                                    error="The model did not answer in time.", duration_ms=None)
    except (asyncio.CancelledError, GeneratorExit):
        # the client went away: free the batch slot
        await get_async_redis().set(redis_keys.completion_stop(job_id), "1", ex=600)
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
                choices = [{"index": 0, "delta": {}, "finish_reason": _finish(event)}]
                yield f"data: {json.dumps({**base, 'choices': choices})}\n\n"
                usage = {"completion_tokens": event.get("completion_tokens", 0)}
                yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"

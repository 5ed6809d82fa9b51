"""An OpenAI-compatible ``/v1/chat/completions`` (streaming and not) for the arena's local models,
so any OpenAI client can use them. Requests run on the same Celery queues as battles.

Closed unless the operator opens it (``ARENA_V1_OPEN``): callers send one of ``ARENA_API_KEYS``
as a Bearer token, each key within its rate limit (``ARENA_LIMITS["completions"]``). Only JSON
bodies are taken, and no CORS header is ever sent, so another site's page cannot post here in a
visitor's browser. At most ``ARENA_V1_CONCURRENCY`` completions run on one queue at once, so API
callers leave the rest of the workers' slots to battles.
"""

import asyncio
import json
import secrets
import time
from typing import Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import StreamingHttpResponse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer

from arena import events, jobs, redis_keys
from arena.errors import ArenaError
from arena.limits import RateLimited, enforce
from arena.models import Backend, ModelEndpoint
from arena.redis_client import get_async_redis, get_redis
from workers.completions import create_job
from workers.heartbeat import live_queues
from workers.tasks import generate_completion

v1 = NinjaAPI(title="OpenAI-compatible API", version="1", urls_namespace="v1", openapi_url="/openapi.json",
              docs_url=None)
LOCAL_BACKENDS = [Backend.TRANSFORMERS, Backend.SEARCH]
WAIT_SECONDS = 600


class BearerKey(HttpBearer):
    def __call__(self, request):
        if request.method == "POST" and request.content_type != "application/json":
            raise HttpError(415, "Send the request body as JSON (Content-Type: application/json).")
        if settings.ARENA_V1_OPEN:
            return "open"
        return super().__call__(request)

    def authenticate(self, request, token):
        return token if any(secrets.compare_digest(token, key) for key in settings.ARENA_API_KEYS) else None


def openai_error(request, message: str, status: int, kind: str = "invalid_request_error"):
    return v1.create_response(request, {"error": {"message": message, "type": kind, "code": status}}, status=status)


@v1.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    message = "Invalid or missing API key." if exc.status_code == 401 else str(exc)
    return openai_error(request, message, exc.status_code)


@v1.exception_handler(RequestDataTooBig)
def too_big(request, exc: RequestDataTooBig):
    return openai_error(request, f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024} KB.",
                        413)


@v1.exception_handler(ArenaError)
def arena_error(request, exc: ArenaError):
    kind = "rate_limit_error" if exc.status == 429 else "invalid_request_error"
    response = openai_error(request, exc.message, exc.status, kind)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


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
    # Per key when closed; per address alone when open to everyone.
    caller = request.auth if request.auth != "open" else request.META.get("REMOTE_ADDR", "")
    await sync_to_async(enforce)(request, "completions", client_id=caller)
    endpoints = {e.public_name: e for e in await sync_to_async(list)(_served_endpoints())}
    endpoint = endpoints.get(payload.model)
    if endpoint is None:
        return openai_error(request, f"The model {payload.model[:100]!r} does not exist or has no running worker.",
                            404, "not_found_error")
    overrides = payload.model_dump(include={"temperature", "top_p", "max_tokens", "seed"}, exclude_none=True)
    job_id = await sync_to_async(_submit)(endpoint, [m.model_dump() for m in payload.messages], overrides)
    if job_id is None:
        return openai_error(request, f"{payload.model} is busy with other API requests; try again in a few seconds.",
                            429, "rate_limit_error")
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


def _submit(endpoint: ModelEndpoint, messages: list[dict], overrides: dict) -> str | None:
    """The new job's id, or None when the queue already runs its share of /v1 completions."""
    job_id = jobs.new_job_id()
    if not _take_slot(endpoint.queue, job_id):
        return None
    create_job(job_id=job_id, endpoint_id=endpoint.id, queue=endpoint.queue, messages=messages, overrides=overrides)
    jobs.submit(generate_completion, job_id, queue=endpoint.queue)
    return job_id


def _take_slot(queue: str, job_id: str) -> bool:
    """One of the queue's ``ARENA_V1_CONCURRENCY`` slots for this job. A slot whose web process
    died without giving it back frees itself when a job could no longer be waited for."""
    key, now = redis_keys.completions_running(queue), time.time()
    pipe = get_redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now - WAIT_SECONDS)
    pipe.zadd(key, {job_id: now})
    pipe.zcard(key)
    pipe.expire(key, WAIT_SECONDS)
    running = pipe.execute()[2]
    if running > settings.ARENA_V1_CONCURRENCY:
        get_redis().zrem(key, job_id)
        return False
    return True


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
    finally:
        queue = await get_async_redis().hget(redis_keys.completion_job(job_id), "queue")
        if queue:
            await get_async_redis().zrem(redis_keys.completions_running(queue), job_id)


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

"""The JSON API under /api/. State-changing calls need the session cookie and its CSRF token
(``X-CSRFToken`` header); ``GET /api/session`` hands both to scripts."""

from typing import Literal
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.http import Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import get_token
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.utils import check_csrf

from arena import battles as service
from arena import history, jobs, redis_keys
from arena.accounts import signed_in_user
from arena.clients import client_address, client_id, voter_identity
from arena.errors import ArenaError, NotFound, Unavailable
from arena.limits import RateLimited, enforce
from arena.models import Arena, Battle, ModelEndpoint
from arena.presenters import arena_json, battle_json, endpoint_json, history_json
from arena.streaming import battle_event_stream
from arena.threads import off_thread
from ratings.history import daily_history, parse_moment
from ratings.presenters import BoardQuery, leaderboard_csv, leaderboard_json
from ratings.prompt_heads import board_for_category
from ratings.tasks import prompt_leaderboard
from workers.heartbeat import live_queues

PROMPT_BOARD_SECONDS = 120
api = NinjaAPI(title="Model Arena API", version="1", urls_namespace="api",
               openapi_url="/openapi.json", docs_url="/docs")


def session_with_csrf(request):
    if request.body and request.content_type != "application/json":
        raise HttpError(415, "Send the request body as JSON (Content-Type: application/json).")
    try:
        refused = check_csrf(request)
    except MultiPartParserError:
        raise HttpError(400, "The request body is malformed.") from None
    if refused is not None:
        raise AuthenticationError(403, "CSRF check failed: send the csrftoken cookie's value in an "
                                       "X-CSRFToken header (GET /api/session provides both).")
    return client_id(request)


async def session_with_csrf_on_loop(request):
    """The same check for async operations, run on the event loop rather than sent to a thread:
    it only reads the request and the signed-cookie session."""
    return session_with_csrf(request)


class BattleIn(Schema):
    prompt: str
    mode: Literal["anony", "named", "direct"] = "anony"
    models: list[str] | None = None
    arena: str | None = None  # anonymous battles: the arena to draw the pair in (default: text)


class PromptIn(Schema):
    prompt: str


class VoteIn(Schema):
    choice: Literal["a", "b", "tie", "bothbad"]
    proof: str = Field("", max_length=300, description="the battle's proof_of_work challenge, solved")
    attempts: dict[Literal["a", "b"], int] | None = None  # the last turn's answers the voter saw
    turn: int | None = None  # the last turn the voter saw (0-based)


class Created(Schema):
    id: UUID


class Detail(Schema):
    detail: str


def _battle(battle_id: UUID) -> Battle:
    try:  # get(), not first(): no ORDER BY to build on every call of the hottest lookup
        return Battle.objects.visible().select_related("endpoint_a", "endpoint_b", "vote").get(uuid=battle_id)
    except Battle.DoesNotExist:
        raise NotFound("No battle has this id.") from None


@api.exception_handler(ArenaError)
def arena_error(request, exc: ArenaError):
    response = api.create_response(request, {"detail": exc.message}, status=exc.status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", [])[1:] if p != "payload") or "body"
    sentence = f"{where}: {first.get('msg', 'invalid value')}." if first else "The request is not valid."
    return api.create_response(request, {"detail": sentence, "errors": exc.errors}, status=422)


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc: RequestDataTooBig):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(request, {"detail": f"The request body is larger than {limit // 1024} KB."}, status=413)


@api.exception_handler(Http404)
def not_found(request, exc):
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    message = str(exc)
    if exc.status_code == 400 and "parse" in message.lower():
        message = "The request body is not valid JSON."
    return api.create_response(request, {"detail": message}, status=exc.status_code)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def database_down(request, exc: DatabaseError):
    return api.create_response(request, {"detail": "The database is unavailable; try again shortly."}, status=503)


@api.get("/session", summary="Start a session; returns the CSRF token for state-changing calls")
async def session(request):  # signed-cookie session and CSRF token: no I/O, so it runs on the loop
    client_id(request)
    return {"csrf_token": get_token(request)}


@api.get("/models", summary="The enabled public models")
def models(request):
    live = {e.id for e in service.available_endpoints(named=True)}
    return [{**endpoint_json(e), "available": e.id in live}
            for e in ModelEndpoint.objects.enabled().for_named_modes().order_by("name")]


@api.get("/arenas", summary="The arenas: anonymous battles pair models within one, each has its own leaderboard "
        "and its policy on anonymous votes (allowed or not, and how much one counts)")
def arenas(request):
    live = service.available_endpoints()
    return [arena_json(arena, live=live) for arena in Arena.objects.all()]


@api.post("/battles", auth=session_with_csrf_on_loop,
          response={201: Created, 409: Detail, 413: Detail, 422: Detail, 429: Detail, 503: Detail})
async def create_battle(request, payload: BattleIn):
    return await off_thread(_create_battle)(request, payload)


def _create_battle(request, payload: BattleIn):
    enforce(request, "battles", client_id=request.auth)
    battle = service.start_battle(prompt=payload.prompt, mode=payload.mode, models=payload.models,
                                  client_id=request.auth, arena=payload.arena, user=signed_in_user(request))
    return 201, {"id": battle.uuid}


@api.get("/battles/{battle_id}", response={200: dict, 404: Detail})
async def get_battle(request, battle_id: UUID):
    return await off_thread(_get_battle)(request, battle_id)


def _get_battle(request, battle_id: UUID):
    battle = _battle(battle_id)
    service.notice_dead_workers(battle)
    return battle_json(battle, client_id=client_id(request), address=client_address(request),
                       signed_in=signed_in_user(request) is not None)


@api.get("/battles/{battle_id}/stream", summary="Server-Sent Events: start, delta and end events; "
         "resume with the Last-Event-ID header", openapi_extra={
             "responses": {200: {"description": "An event stream", "content": {"text/event-stream": {}}}}})
async def stream_battle(request, battle_id: UUID):
    return await battle_event_stream(request, battle_id)


@api.post("/battles/{battle_id}/turns", auth=session_with_csrf_on_loop,
          response={201: dict, 403: Detail, 404: Detail, 409: Detail, 413: Detail, 422: Detail, 429: Detail})
async def add_turn(request, battle_id: UUID, payload: PromptIn):
    return await off_thread(_add_turn)(request, battle_id, payload)


def _add_turn(request, battle_id: UUID, payload: PromptIn):
    enforce(request, "turns", client_id=request.auth)
    turn = service.add_turn(battle=_battle(battle_id), prompt=payload.prompt, client_id=request.auth)
    return 201, {"index": turn.index}


@api.post("/battles/{battle_id}/regenerate", auth=session_with_csrf_on_loop,
          response={202: dict, 403: Detail, 404: Detail, 409: Detail, 429: Detail})
async def regenerate(request, battle_id: UUID):
    return await off_thread(_regenerate)(request, battle_id)


def _regenerate(request, battle_id: UUID):
    enforce(request, "regenerations", client_id=request.auth)
    service.regenerate(battle=_battle(battle_id), client_id=request.auth)
    return 202, {"detail": "Regenerating the last answers."}


@api.post("/battles/{battle_id}/stop", auth=session_with_csrf_on_loop,
          response={202: dict, 403: Detail, 404: Detail, 409: Detail, 429: Detail})
async def stop(request, battle_id: UUID):
    return await off_thread(_stop)(request, battle_id)


def _stop(request, battle_id: UUID):
    enforce(request, "stops", client_id=request.auth)
    service.stop(battle=_battle(battle_id), client_id=request.auth)
    return 202, {"detail": "Stopping."}


@api.post("/battles/{battle_id}/vote", auth=session_with_csrf_on_loop,
          response={200: dict, 403: Detail, 404: Detail, 409: Detail, 422: Detail, 429: Detail})
async def vote(request, battle_id: UUID, payload: VoteIn):
    return await off_thread(_vote)(request, battle_id, payload)


def _vote(request, battle_id: UUID, payload: VoteIn):
    enforce(request, "votes", client_id=request.auth)
    user = signed_in_user(request)
    with transaction.atomic():
        service.lock_battle(battle_id)  # regenerate and follow-ups wait, or this vote waits for them
        messages = service.messages_for_vote(battle_id)  # one query serves the checks, the vote and the answer
        battle = messages[0].turn.battle
        battle.vote = service.record_vote(battle=battle, choice=payload.choice, client_id=request.auth,
                                          messages=messages, attempts=payload.attempts, turn=payload.turn,
                                          address=client_address(request), proof=payload.proof,
                                          identity=voter_identity(request), user=user)
    return 200, battle_json(battle, client_id=request.auth, messages=messages, signed_in=user is not None)


@api.get("/history", summary="Your battles: those this browser started and has not deleted, newest first")
def battle_history(request, limit: int = Query(history.HISTORY_LIMIT, ge=1, le=history.HISTORY_LIMIT)):
    entries = history.history_of(client_id=client_id(request), limit=limit)
    return {"battles": [history_json(entry) for entry in entries]}


@api.delete("/history/{battle_id}", auth=session_with_csrf, response={204: None, 404: Detail, 429: Detail},
            summary="Delete a battle from your history. Its vote still counts: ratings never change after the fact")
def delete_from_history(request, battle_id: UUID):
    enforce(request, "deletions", client_id=request.auth)
    history.delete_from_history(battle_id=battle_id, client_id=request.auth)
    return 204, None


@api.get("/leaderboard", summary="The leaderboard in force now, or at a date (at=YYYY-MM-DD or an ISO date and "
         "time); JSON, or CSV with format=csv", response={200: dict, 404: Detail, 422: Detail})
def leaderboard(request, category: str = "overall", style_control: bool = False, min_votes: int | None = None,
                format: Literal["json", "csv"] = "json", arena: str = "text", show_deprecated: bool = False,
                at: str | None = None, since: str | None = None):
    query = BoardQuery(arena=arena, category=category, style_control=style_control, min_votes=min_votes,
                       show_deprecated=show_deprecated, at=at, since=since)
    service.get_arena(arena)  # an unknown one is a 422
    board = leaderboard_json(**query.board_arguments())
    if query.at is not None and board["computed_at"] is None:
        raise NotFound(f"No leaderboard of this arena and category had been published by {query.at}.")
    if format == "csv":
        response = HttpResponse(leaderboard_csv(board), content_type="text/csv; charset=utf-8")
        name = category if arena == "text" else f"{arena}-{category}"
        response["Content-Disposition"] = f'attachment; filename="leaderboard-{name}.csv"'
        return response
    return board


@api.get("/leaderboard/history", summary="Each model's rating, interval and rank at the end of every day a "
         "leaderboard was in force, oldest first", response={200: dict, 422: Detail})
def leaderboard_history(request, category: str = "overall", arena: str = "text", until: str | None = None):
    BoardQuery(arena=arena, category=category)  # an unknown category is a 422
    service.get_arena(arena)
    return daily_history(category, arena=arena, until=None if until is None else parse_moment(until, name="until"))


@api.get("/leaderboard/p2l", summary="A category's leaderboard in the view of the arena's published "
         "prompt-to-leaderboard head: its ratings at the mean embedding of the category's prompts, without "
         "intervals", response={200: dict, 404: Detail, 422: Detail})
def leaderboard_p2l(request, category: str = "overall", arena: str = "text"):
    BoardQuery(arena=arena, category=category)  # an unknown category is a 422
    service.get_arena(arena)
    return board_for_category(category, arena=arena)


class PromptBoardIn(Schema):
    prompt: str
    arena: str = "text"


@api.post("/leaderboard/for-prompt", summary="Which model is best for prompts like this one? The arena's "
          "prompt-to-leaderboard head where it beat the global fit on held-out votes, else votes weighted by the "
          "similarity of their prompts (all-MiniLM embeddings); `method` says which answered.",
          auth=session_with_csrf_on_loop, response={200: dict, 413: Detail, 422: Detail, 503: Detail})
async def leaderboard_for_prompt(request, payload: PromptBoardIn):
    prompt = service.clean_prompt(payload.prompt)
    await sync_to_async(service.get_arena)(payload.arena)  # an unknown one is a 422
    if "arena" not in await sync_to_async(live_queues)():
        raise Unavailable("No worker is running the arena's maintenance queue; try again in a minute.")
    job_id = jobs.new_job_id()
    await sync_to_async(jobs.submit)(prompt_leaderboard, job_id, prompt, payload.arena, queue="arena")
    try:
        result = await jobs.result_async(redis_keys.prompt_leaderboard(job_id), timeout=PROMPT_BOARD_SECONDS)
    except jobs.JobTimeout:
        raise Unavailable("The leaderboard for this prompt took too long; try again.") from None
    if "error" in result:
        raise Unavailable(result["error"])
    return result

"""A small client for the arena's HTTP API as a script would use it: session cookie + CSRF header."""

import json
import time

import httpx

from arena.proof_of_work import solve


class ApiClient:
    def __init__(self, http: httpx.Client):
        self.http = http
        token = http.get("/api/session").json()["csrf_token"]
        http.headers["X-CSRFToken"] = token

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, body: dict | None = None, **kw) -> httpx.Response:
        if path.startswith("/api/battles/") and path.endswith("/vote") and body is not None and "proof" not in body:
            body = {**body, "proof": self.proof(path.removeprefix("/api/battles/").removesuffix("/vote"))}
        return self.http.post(path, json=body, **kw)

    def proof(self, battle_id: str) -> str:
        """The battle's proof of work, solved as the page solves it ("" when none is asked)."""
        response = self.get(f"/api/battles/{battle_id}")
        challenge = response.json().get("proof_of_work") if response.status_code == 200 else None
        return solve(challenge["challenge"], challenge["bits"]) if challenge else ""

    def start(self, prompt: str = "Say hello.", mode: str = "anony", models: list[str] | None = None) -> str:
        response = self.post("/api/battles", {"prompt": prompt, "mode": mode, "models": models})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def battle(self, battle_id: str) -> dict:
        response = self.get(f"/api/battles/{battle_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_finished(self, battle_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            data = self.battle(battle_id)
            if data["finished"]:
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"battle {battle_id} did not finish in {timeout} s: {data}")
            time.sleep(0.1)

    def wait_for_text(self, battle_id: str, timeout: float = 60) -> dict:
        """Until every answer of the last turn shows some text."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.battle(battle_id)
            last = data["turns"][-1]
            if all(last[side]["text"] for side in "ab" if side in last):
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"battle {battle_id} showed no text in {timeout} s: {data}")
            time.sleep(0.05)

    def events(self, battle_id: str, *, last_event_id: str | None = None, limit: int | None = None,
               timeout: float = 60) -> tuple[list[dict], dict]:
        """Read the SSE stream until it ends (or ``limit`` events); returns the events and the headers."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        events: list[dict] = []
        with self.http.stream("GET", f"/api/battles/{battle_id}/stream", headers=headers,
                              timeout=httpx.Timeout(timeout)) as response:
            assert response.status_code == 200, response.read()
            current: dict = {}
            raw_lines = []
            for line in response.iter_lines():
                raw_lines.append(line)
                if line == "":
                    if "event" in current:
                        current["data"] = json.loads(current["data"])
                        events.append(current)
                        if current["event"] in ("idle", "timeout") or (limit and len(events) >= limit):
                            break
                    current = {}
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field in ("id", "event", "data"):
                    current[field] = value
            return events, {"headers": dict(response.headers), "raw": "\n".join(raw_lines)}

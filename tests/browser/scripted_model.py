"""An OpenAI-compatible chat server that streams scripted answers at a steady pace.

It stands in for a remote model server (the one thing outside the machine), so that a browser
test knows what an answer says (markdown, code, text that looks like HTML) and can watch it
arrive piece by piece. Arena endpoints reach it through the real ``openai`` backend.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Script:
    text: str
    pause_s: float = 0.015  # between pieces: slow enough to watch, fast enough for a test
    piece_chars: int = 4
    first_s: float = 0.0  # silence before the first piece, as a contestant that searches first
    finish_reason: str = "stop"  # "length": the server cut the answer at its max_tokens

    def pieces(self) -> list[str]:
        return [self.text[i:i + self.piece_chars] for i in range(0, len(self.text), self.piece_chars)]


class ScriptedModels:
    """Serves ``POST /v1/chat/completions``; the request's ``model`` picks the script."""

    def __init__(self, scripts: dict[str, Script]):
        self.scripts = scripts
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="scripted-models", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def start(self) -> "ScriptedModels":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        scripts = self.scripts

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                script = scripts.get(body.get("model"))
                if self.path != "/v1/chat/completions" or script is None:
                    self.send_error(404, "unknown model or path")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                pieces = script.pieces()
                time.sleep(script.first_s)
                try:
                    for piece in pieces:
                        self._send({"choices": [{"index": 0, "delta": {"content": piece}}]})
                        time.sleep(script.pause_s)
                    self._send({"choices": [{"index": 0, "delta": {}, "finish_reason": script.finish_reason}]})
                    self._send({"choices": [], "usage": {"completion_tokens": len(pieces)}})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the arena stopped reading: the user pressed Stop

            def _send(self, chunk: dict) -> None:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

        return Handler

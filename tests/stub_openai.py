"""A stand-in for a remote OpenAI-compatible server (something outside the machine): it streams
back a fixed reply chosen by the requested model id, so tests control exactly what a model says."""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubServer:
    def __init__(self, replies: dict[str, str], *, delay: float = 0.0, failures: dict[str, list[int]] | None = None):
        self.replies = replies
        self.delay = delay  # seconds between chunks: a slow remote model
        self.failures = {model: list(codes) for model, codes in (failures or {}).items()}  # answered first, in order
        self.requests: Counter[str] = Counter()  # per model
        self.thinking = threading.Event()  # while set, replies wait before their first chunk (a model thinking)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests[body["model"]] += 1
                reply = stub.replies.get(body["model"])
                if reply is None:
                    self.fail(404, "no such model")
                    return
                if stub.failures.get(body["model"]):
                    self.fail(stub.failures[body["model"]].pop(0), "the stub fails as told")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                while stub.thinking.is_set():
                    time.sleep(0.05)
                try:
                    for i in range(0, len(reply), 7):
                        chunk = {"choices": [{"index": 0, "delta": {"content": reply[i:i + 7]}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        if stub.delay:
                            self.wfile.flush()
                            time.sleep(stub.delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a killed worker)

            def fail(self, status: int, message: str):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"error": {"message": message}}).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

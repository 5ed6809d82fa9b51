"""Extra web servers for tests that need other settings, started by the stack's own command line."""

from contextlib import contextmanager

from arena.localservices import free_port


@contextmanager
def web_with(stack, env: dict[str, str], unset: tuple[str, ...] = ()):
    """A web server from Stack.start_web with these environment variables (and without those in
    `unset`); yields its base URL and stops it afterwards."""
    saved = dict(stack.env)
    for name in unset:
        stack.env.pop(name, None)
    stack.env.update(env)
    try:
        port = free_port()
        process = stack.start_web(port)
    finally:
        stack.env.clear()
        stack.env.update(saved)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)

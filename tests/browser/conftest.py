"""Browser tests: Playwright drives Debian's Chromium against the real stack of tests/conftest.py
(PostgreSQL, Redis, a Celery worker on queue "tiny", uvicorn). Remote model servers are the one
thing replaced, by ScriptedModels, an OpenAI-compatible server with known answers."""

import shutil
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from arena.models import Backend, ModelEndpoint
from tests.browser.scripted_model import Script, ScriptedModels
from tests.conftest import TINY_QUEUE, wait_for_queue

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

MARKDOWN_A = textwrap.dedent("""\
    Here is a **quick** way, with a little `python` to time it:

    ```python
    import time
    time.sleep(180)  # three minutes
    print("Tea is ready!")
    ```

    - Use water just off the boil.
    - Take the leaves out after steeping.

    Markup such as <img src=x onerror="window.pwned=1"> or <script>window.pwned=2</script> shows as text.

    Enjoy it while it is hot, and add milk or lemon to taste; there is no wrong way to drink
    a cup of tea.""")

MARKDOWN_B = textwrap.dedent("""\
    ## Two steps

    1. Boil the water.
    2. Pour it over the leaves, then *wait* three minutes.

    > Patience makes good tea.

    ```
    steep(minutes=3)
    ```

    See [the guide](https://example.com/tea) for more, and add sugar only if you must. That is
    all there is to it, really; enjoy the cup.""")

SCRIPTS = {
    "markdown-a": Script(MARKDOWN_A),
    "markdown-b": Script(MARKDOWN_B),
    "thinks-first": Script("After a long think, here is the whole answer at once. " * 6, first_s=4, piece_chars=400),
    "endless": Script("All work and no play makes a very long answer. " * 400, pause_s=0.02),
    # long enough to overflow a pane, so that the pane scrolls on its own and the page does not
    "long-a": Script((MARKDOWN_A + "\n\n") * 4, piece_chars=16, pause_s=0.01),
    "long-b": Script((MARKDOWN_B + "\n\n") * 4, piece_chars=16, pause_s=0.01),
    # the server stops at its max_tokens mid-sentence and says so (finish_reason "length")
    "cut-off": Script("Steep the leaves for three minutes, then pour the tea through a", finish_reason="length"),
    "names-itself": Script("I am vega, a model made by Vega Labs. Tea: boil water, steep, pour."),
}


# torn down after the browser tests: a running Playwright loop makes Django refuse ORM calls
@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; `make test` installs it (Debian package chromium).")
    expect.set_options(timeout=20_000)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # what a failed test leaves is from this run only
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an asyncio loop in the test thread, and Django then refuses ORM
    calls from it. The test process only sets up rows; the servers it starts run without this."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report


@pytest.fixture
def page(browser, web, request):
    """A fresh browser context per test, failing the test on any script error or CSP violation.
    A failed test leaves a screenshot, the page's HTML and its console in tests/artifacts/browser/."""
    context = browser.new_context(base_url=web, viewport=DESKTOP, color_scheme="light", reduced_motion="reduce")
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems, console = [], []
    page.on("pageerror", lambda error: problems.append(f"uncaught error: {error}"))
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    yield page
    problems += [line for line in console if line.startswith("error:") and "Content Security Policy" in line]
    if getattr(request.node, "call_failed", False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
        (ARTIFACTS / f"{request.node.name}.html").write_text(page.content())
        (ARTIFACTS / f"{request.node.name}.console.txt").write_text("\n".join(console))
    context.close()
    assert not problems, problems


@pytest.fixture(scope="session")
def scripted_models():
    server = ScriptedModels(SCRIPTS).start()
    yield server
    server.stop()


def scripted_endpoint(server: ScriptedModels | str, name: str, script: str, **fields):
    """An arena endpoint on the real ``openai`` backend, served by the worker on queue "tiny"."""
    base_url = server if isinstance(server, str) else server.base_url
    return ModelEndpoint.objects.create(
        name=name, organisation=fields.pop("organisation", f"{name.title()} Labs"), backend=Backend.OPENAI,
        queue=TINY_QUEUE, params={"base_url": base_url, "model": script, "max_tokens": 4000, "timeout": 30}, **fields)


@pytest.fixture
def serving(stack, worker):
    """The worker on queue "tiny" is announcing itself now. Pages count the models available when
    they load, and a heartbeat can lapse for a moment after an earlier test restarted Redis."""
    wait_for_queue(TINY_QUEUE, worker, stack)
    return worker


@pytest.fixture
def scripted_pair(arena_db, serving, scripted_models):
    """Two models that stream known markdown answers: "lyra" and "vega"."""
    return [scripted_endpoint(scripted_models, "lyra", "markdown-a"),
            scripted_endpoint(scripted_models, "vega", "markdown-b")]

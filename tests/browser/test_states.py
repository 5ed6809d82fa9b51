"""The battle page says what is going on when things are not fine: no models, a rate limit,
no network, a dropped event stream."""

import re
import time

from playwright.sync_api import expect

from tests.browser.battle_page import answer, prompt_box, send, wait_until_answered


def test_it_says_when_no_model_is_available(page, arena_db):
    page.goto("/")
    expect(page.get_by_role("status").filter(has_text="Fewer than two models are available")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    page.goto("/direct/")
    expect(page.get_by_role("status").filter(has_text="No model is available right now")).to_be_visible()
    expect(page.get_by_role("combobox", name="Model")).to_be_disabled()


def test_it_says_when_to_try_again_after_a_rate_limit(page, scripted_pair):
    page.goto("/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    # Empty prompts count toward the limit of new battles but start none. Go on until the limit
    # answers with a wait long enough that it still holds when the page sends.
    # Near the end of a window the wait is short: keep going (a deadline, not a count) into the next window.
    answers, deadline = [], time.monotonic() + 120
    while True:
        response = page.request.post("/api/battles", data={"prompt": ""}, headers={"X-CSRFToken": token})
        answers.append(f"{response.status} {response.headers.get('retry-after', '')}".strip())
        if response.status == 429 and int(response.headers["retry-after"]) >= 5:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the limit of new battles never answered 429 with time to spare: {answers[-50:]}")

    send(page, "One more, please")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile(r"You can try again in \d+ seconds, at \d\d:\d\d:\d\d"))
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(prompt_box(page)).to_have_value("One more, please")  # nothing typed is lost


def test_it_says_when_the_arena_cannot_be_reached(page, scripted_pair):
    page.goto("/")
    page.context.set_offline(True)
    send(page, "Hello?")
    expect(page.get_by_role("alert")).to_have_text("Could not reach the arena. Check your connection and try again.")
    page.context.set_offline(False)
    page.get_by_role("button", name="Send").click()
    wait_until_answered(page)


def test_it_reconnects_and_resumes_the_stream_after_the_connection_drops(page, scripted_pair):
    streams = []

    def drop_the_first_stream(route):
        streams.append(route.request.url)
        if len(streams) > 1:  # the page's reconnection: let it through to the server
            route.continue_()
            return
        events = route.fetch().text().split("\n\n")
        kept = [e for e in events if e.startswith("id:") and "event: end" not in e][:10]
        streams.append(kept[-1].split("\n")[0].removeprefix("id: "))
        # The connection ends after a few events, as when the network drops.
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body="\n\n".join(kept) + "\n\n")

    page.route(re.compile(r"/api/battles/[0-9a-f-]+/stream"), drop_the_first_stream)
    page.goto("/")
    send(page, "How do I make tea?")
    connection = page.locator("#connection")
    expect(connection).to_have_text(re.compile("Reconnecting"))
    expect(connection).to_be_hidden()
    wait_until_answered(page)
    first, last_seen, resumed = streams
    assert first.endswith("/stream")
    assert resumed.endswith(f"/stream?last_event_id={last_seen}")  # continues right after the last event it had
    for side in "ab":
        expect(answer(page, side)).to_have_attribute("data-status", "done")
    expect(page.locator(".answer").filter(has_text="Patience makes good tea.")).to_have_count(1)

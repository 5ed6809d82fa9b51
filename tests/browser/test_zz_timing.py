import time
from playwright.sync_api import expect
from tests.browser.battle_page import answer, pane, prompt_box, send, wait_until_answered

def test_timing(page, endpoints):
    t = time.monotonic()
    log = lambda what: print(f"{time.monotonic() - t:6.2f} {what}")
    page.on("request", lambda r: "/api/" in r.url and log(f"request {r.method} {r.url[-60:]}"))
    page.on("requestfinished", lambda r: "/api/" in r.url and log(f"finished {r.method} {r.url[-60:]}"))
    page.goto("/"); log("loaded")
    send(page, "First question"); log("sent")
    wait_until_answered(page); log("answered")
    page.reload(); log("reloaded")
    expect(answer(page, "b")).to_have_attribute("data-status", "done"); log("resumed")
    send(page, "Second question")
    wait_until_answered(page, turn=1); log("answered 2")

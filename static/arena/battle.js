// The battle page: send a prompt, follow both answers over Server-Sent Events, vote, reveal.
// Text arrives as plain text while streaming (set with textContent, never as HTML); the finished
// answer is replaced by the server's sanitised markdown rendering.
"use strict";

(function () {
  const root = document.getElementById("arena");
  if (!root) return;
  const mode = root.dataset.mode;
  const sides = mode === "direct" ? ["a"] : ["a", "b"];
  const $ = (sel) => root.querySelector(sel);
  const form = $("#prompt-form");
  const promptBox = $("#prompt");
  const sendButton = $("#send");
  const stopButton = $("#stop");
  const regenButton = $("#regenerate");
  const newRoundButton = $("#new-round");
  const reveal = $("#reveal");
  const errorBox = $("#error");
  const voteButtons = Array.from(root.querySelectorAll("button.vote"));

  let battle = null; // the last JSON from GET /api/battles/{id}
  let source = null;
  let busy = false;

  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.split("=")[1]) : "";
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      let message = data.detail || `The server answered ${response.status}.`;
      if (response.status === 429 && response.headers.get("Retry-After")) {
        message += ` Try again in ${response.headers.get("Retry-After")} s.`;
      }
      throw new Error(message);
    }
    return data;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function paneLog(side) { return root.querySelector(`#pane-${side} .log`); }

  function turnBlock(side, index) {
    const log = paneLog(side);
    let block = log.querySelector(`[data-turn="${index}"]`);
    if (!block) {
      block = document.createElement("div");
      block.className = "turn";
      block.dataset.turn = String(index);
      const prompt = document.createElement("p");
      prompt.className = "user";
      const answer = document.createElement("div");
      answer.className = "answer";
      const meta = document.createElement("p");
      meta.className = "meta";
      block.append(prompt, answer, meta);
      log.append(block);
    }
    return block;
  }

  function renderMessage(side, turn, message) {
    const block = turnBlock(side, turn.index);
    block.querySelector(".user").textContent = turn.prompt;
    const answer = block.querySelector(".answer");
    answer.dataset.attempt = String(message.attempt);
    answer.dataset.status = message.status;
    if (message.status === "pending" || message.status === "streaming") {
      answer.textContent = message.text;
      answer.classList.add("streaming");
    } else {
      answer.classList.remove("streaming");
      answer.innerHTML = message.html; // sanitised on the server (markdown-it + nh3)
      addCopyButtons(answer);
    }
    const meta = block.querySelector(".meta");
    if (message.status === "failed") meta.textContent = message.error;
    else if (message.status === "stopped") meta.textContent = "Stopped.";
    else if (message.status === "done") meta.textContent = "";
    else meta.textContent = message.status === "pending" ? "Waiting for the model…" : "";
  }

  function addCopyButtons(answer) {
    answer.querySelectorAll("pre").forEach((pre) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = "Copy";
      button.setAttribute("aria-label", "Copy code");
      button.addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText(pre.innerText));
      pre.before(button);
    });
  }

  function render() {
    if (!battle) return;
    battle.turns.forEach((turn) => sides.forEach((side) => turn[side] && renderMessage(side, turn, turn[side])));
    const last = battle.turns[battle.turns.length - 1];
    const lastMessages = sides.map((s) => last[s]);
    const active = lastMessages.some((m) => m.status === "pending" || m.status === "streaming");
    const failed = lastMessages.some((m) => m.status === "failed");
    const decided = Boolean(battle.vote);
    busy = active;
    stopButton.hidden = !active || decided;
    regenButton.hidden = active || decided;
    voteButtons.forEach((b) => { b.disabled = active || failed || decided; });
    promptBox.disabled = decided || active;
    sendButton.disabled = decided || active;
    newRoundButton.hidden = !(decided || mode === "direct" || (mode !== "anony" && !active));
    if (battle.models) showReveal();
  }

  function showReveal() {
    if (mode === "direct") return;
    sides.forEach((side) => {
      const title = root.querySelector(`#pane-${side} .pane-title`);
      const details = (battle.model_details || {})[side] || {};
      title.textContent = `Model ${side.toUpperCase()}: ${battle.models[side]}` + (details.organisation ? ` (${details.organisation})` : "");
    });
    if (!battle.vote) return;
    reveal.hidden = false;
    reveal.replaceChildren();
    const heading = document.createElement("p");
    heading.className = "reveal-title";
    heading.textContent = `Model A was ${battle.models.a}; Model B was ${battle.models.b}.`;
    reveal.append(heading);
    sides.forEach((side) => {
      const stats = document.createElement("p");
      stats.className = "stats";
      const msgs = battle.turns.map((t) => t[side]);
      const tokens = msgs.reduce((n, m) => n + (m.tokens || 0), 0);
      const ms = msgs.reduce((n, m) => n + (m.duration_ms || 0), 0);
      const ttft = msgs[0].ttft_ms;
      const rate = ms > 0 ? (tokens / (ms / 1000)).toFixed(1) : "–";
      stats.textContent = `${battle.models[side]}: ${tokens} tokens, first token after ${ttft ?? "–"} ms, ${rate} tokens/s`;
      const compute = msgs[msgs.length - 1].compute;
      if (compute && compute.candidates) {
        stats.textContent += `; searched ${compute.candidates} candidates, ${compute.generated_tokens} tokens generated for ${compute.answer_tokens} in the answer`;
      }
      reveal.append(stats);
    });
    if (!battle.vote.counts) {
      const note = document.createElement("p");
      note.className = "excluded";
      note.textContent = `This vote will not count toward the ratings: ${battle.vote.excluded_reason}`;
      reveal.append(note);
    }
    const share = document.createElement("a");
    share.href = `/b/${battle.id}/`;
    share.textContent = "Share this battle";
    reveal.append(share);
  }

  async function refresh() {
    battle = await call("GET", `/api/battles/${battle.id}`);
    render();
  }

  function follow() {
    if (source) source.close();
    source = new EventSource(`/api/battles/${battle.id}/stream`);
    source.addEventListener("start", (e) => {
      const ev = JSON.parse(e.data);
      const answer = turnBlock(ev.side, ev.turn).querySelector(".answer");
      answer.dataset.attempt = String(ev.attempt);
      answer.textContent = "";
      answer.classList.add("streaming");
      turnBlock(ev.side, ev.turn).querySelector(".meta").textContent = "";
    });
    source.addEventListener("delta", (e) => {
      const ev = JSON.parse(e.data);
      const answer = turnBlock(ev.side, ev.turn).querySelector(".answer");
      if (answer.dataset.attempt !== String(ev.attempt)) return;
      answer.append(document.createTextNode(ev.text));
    });
    source.addEventListener("end", () => refresh().catch((err) => showError(err.message)));
    source.addEventListener("idle", () => { source.close(); source = null; refresh().catch((err) => showError(err.message)); });
    source.addEventListener("unavailable", () => showError("The live stream was interrupted; reconnecting…"));
    source.addEventListener("delta", () => { if (!errorBox.hidden && errorBox.textContent.startsWith("The live stream")) showError(""); });
  }

  function chosenModels() {
    if (mode === "anony") return undefined;
    return sides.map((s) => $(`#model-${s}`).value);
  }

  async function send() {
    const prompt = promptBox.value;
    if (!prompt.trim() || busy) return;
    showError("");
    sendButton.disabled = true;
    try {
      if (!battle) {
        const created = await call("POST", "/api/battles", { prompt, mode, models: chosenModels() });
        battle = { id: created.id };
      } else {
        await call("POST", `/api/battles/${battle.id}/turns`, { prompt });
      }
      promptBox.value = "";
      await refresh();
      follow();
    } catch (err) {
      showError(err.message);
      sendButton.disabled = false;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  promptBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  stopButton.addEventListener("click", () => call("POST", `/api/battles/${battle.id}/stop`).catch((err) => showError(err.message)));
  regenButton.addEventListener("click", async () => {
    try {
      await call("POST", `/api/battles/${battle.id}/regenerate`);
      await refresh();
      follow();
    } catch (err) { showError(err.message); }
  });
  voteButtons.forEach((button) => button.addEventListener("click", async () => {
    try {
      battle = await call("POST", `/api/battles/${battle.id}/vote`, { choice: button.dataset.choice });
      render();
    } catch (err) { showError(err.message); }
  }));
  document.addEventListener("keydown", (e) => {
    if (e.target === promptBox || e.ctrlKey || e.metaKey || e.altKey) return;
    const index = ["1", "2", "3", "4"].indexOf(e.key);
    if (index >= 0 && voteButtons[index] && !voteButtons[index].disabled) voteButtons[index].click();
  });
  newRoundButton.addEventListener("click", () => {
    if (source) source.close();
    battle = null;
    sides.forEach((s) => {
      paneLog(s).replaceChildren();
      root.querySelector(`#pane-${s} .pane-title`).textContent = `Model ${s.toUpperCase()}`;
    });
    reveal.hidden = true;
    reveal.replaceChildren();
    voteButtons.forEach((b) => { b.disabled = true; });
    promptBox.disabled = false;
    sendButton.disabled = false;
    stopButton.hidden = true;
    regenButton.hidden = true;
    newRoundButton.hidden = true;
    showError("");
    promptBox.focus();
  });
})();

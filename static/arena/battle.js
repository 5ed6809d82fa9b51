// The battle page (blind battle, side by side, direct chat): send a prompt, follow the answers
// over Server-Sent Events, vote, reveal. GET /api/battles/{id} is the truth; stream events only
// fill in the text between two reads of it. Model text never reaches innerHTML: streaming text
// is drawn by ArenaMarkdown from DOM nodes, finished answers use the server's sanitised HTML.
"use strict";

(function () {
  const root = document.getElementById("arena");
  if (!root) return;
  const md = window.ArenaMarkdown;
  const mode = root.dataset.mode;
  const blind = mode === "anony";
  const sides = mode === "direct" ? ["a"] : ["a", "b"];
  const byId = (id) => document.getElementById(id);
  const form = byId("prompt-form");
  const promptBox = byId("prompt");
  const sendButton = byId("send");
  const stopButton = byId("stop");
  const regenButton = byId("regenerate");
  const newRoundButton = byId("new-round");
  const reveal = byId("reveal");
  const errorBox = byId("error");
  const statusLine = byId("status");
  const waitingLine = byId("waiting");
  const connection = byId("connection");
  const terms = byId("terms");
  const voteButtons = Array.from(root.querySelectorAll("button.vote"));
  const voteBar = byId("vote-bar");
  const voteRule = byId("vote-rule");
  const cutNotice = byId("cut-notice");
  const continueButton = byId("continue");
  const suggestions = byId("suggestions");
  // On a touch screen Enter makes a new line and the Send button sends; with a keyboard Enter sends.
  const touch = window.matchMedia("(hover: none) and (pointer: coarse)").matches;
  const CONTINUE_PROMPT = "Continue exactly where your answer was cut off.";
  const POLL_MS = 3000; // while waiting in a queue, how often to ask how far along it is
  const proofs = new Map(); // challenge -> the promise of its proof of work (see proofFor)
  const pickers = Array.from(root.querySelectorAll(".pickers select"));
  const ACTIVE = ["pending", "streaming"];
  const TERMS_KEY = "arena.terms-accepted";
  const signInToVote = root.dataset.signInToVote === "true"; // the arena takes no anonymous votes
  const arena = blind ? root.dataset.arena || "text" : null; // anonymous battles are drawn in one arena
  // so that a reload continues the battle in this tab (each arena's tab its own)
  const BATTLE_KEY = arena ? `arena.battle.${mode}.${arena}` : `arena.battle.${mode}`;
  const CHOICES = { a: "A is better", b: "B is better", tie: "Tie", bothbad: "Both are bad" };

  const state = {
    battle: null, // the last JSON from the API
    source: null, // the EventSource while answers are being generated
    lastEventId: "", // resume point of the battle's event stream
    live: new Map(), // "turn:side" -> {attempt, text} of answers still streaming
    dirty: new Set(), // "turn:side" keys to redraw on the next animation frame
    frame: 0,
    refreshing: null,
    refreshAgain: false,
    reconnectTimer: 0,
    reconnectDelay: 1000,
    busy: false, // a request that changes the battle is in flight
    blockedUntil: 0, // rate limited until this time (ms since epoch)
    blockTimer: 0,
    waitTimer: 0, // ticks the shared "thinking" timer while no answer has shown text
    pollTimer: 0, // re-reads the battle while its answers wait in a queue
    sending: 0, // when Send was pressed (ms since epoch) until the server has the turn
  };

  class ApiError extends Error {}

  // ---- HTTP ------------------------------------------------------------------------------

  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }

  function retryAfterSeconds(header) {
    if (!header) return 60;
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(1, Math.ceil(seconds));
    const when = Date.parse(header);
    return Number.isNaN(when) ? 60 : Math.max(1, Math.ceil((when - Date.now()) / 1000));
  }

  // A 429 says when to come back (Retry-After); sending stays off until then.
  function rateLimited(detail, seconds) {
    state.blockedUntil = Date.now() + seconds * 1000;
    clearTimeout(state.blockTimer);
    state.blockTimer = setTimeout(() => {
      state.blockedUntil = 0;
      if (errorBox.dataset.kind === "rate-limit") showError("");
      update();
    }, seconds * 1000);
    const at = new Date(state.blockedUntil).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const wait = seconds < 120 ? `${seconds} seconds` : `${Math.round(seconds / 60)} minutes`;
    return `${detail || "Too many requests in a short time."} You can try again in ${wait}, at ${at}.`;
  }

  async function call(method, url, body) {
    let response;
    try {
      if (method !== "GET" && !cookie("csrftoken")) await fetch("/api/session", { credentials: "same-origin" });
      response = await fetch(url, {
        method,
        headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      throw new ApiError("Could not reach the arena. Check your connection and try again.");
    }
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (response.status === 429) {
      const error = new ApiError(rateLimited(data.detail, retryAfterSeconds(response.headers.get("Retry-After"))));
      error.kind = "rate-limit";
      throw error;
    }
    if (!response.ok) throw new ApiError(data.detail || `The arena answered ${response.status}; try again.`);
    return data;
  }

  function showError(message, kind) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
    errorBox.dataset.kind = message ? kind || "" : "";
  }

  function report(err) {
    showError(err instanceof ApiError ? err.message : "Something went wrong in this page; reload it to continue.", err.kind);
    if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
  }

  // ---- Drawing the battle ------------------------------------------------------------------

  const lastTurn = () => (state.battle && state.battle.turns[state.battle.turns.length - 1]) || {};
  const isActive = (message) => ACTIVE.includes(message.status);
  const revealed = () => Boolean(state.battle && state.battle.models);

  function pane(side) { return byId(`pane-${side}`); }

  // The composer is pinned in view: focusing it must not scroll the page to where it would sit unpinned.
  function focusPrompt() { promptBox.focus({ preventScroll: true }); }

  function turnBlock(side, index, prompt) {
    const log = pane(side).querySelector(".log");
    let block = log.querySelector(`.turn[data-turn="${index}"]`);
    if (!block) {
      log.querySelector(".empty")?.remove();
      block = document.createElement("section");
      block.className = "turn";
      block.dataset.turn = String(index);
      const user = document.createElement("p");
      user.className = "user";
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = "Prompt: ";
      const text = document.createElement("span");
      text.className = "user-text";
      user.append(label, text);
      // The answer's frame: model text is drawn only inside it, and its label and everything the
      // page says about the answer (status, votes, reveal) only outside it.
      const frameLabel = document.createElement("p");
      frameLabel.className = "answer-label";
      frameLabel.id = `answer-label-${side}-${index}`;
      frameLabel.textContent = mode === "direct" ? "Answer" : `Answer — Model ${side.toUpperCase()}`;
      const answer = document.createElement("div");
      answer.className = "answer";
      answer.setAttribute("role", "group");
      answer.setAttribute("aria-labelledby", frameLabel.id);
      // The sources an answer cites as [n] are part of it, but listed by the page, below the frame.
      const sources = document.createElement("section");
      sources.className = "sources";
      sources.setAttribute("aria-label", mode === "direct" ? "Sources cited in the answer"
        : `Sources cited by Model ${side.toUpperCase()}`);
      sources.hidden = true;
      const meta = document.createElement("p");
      meta.className = "meta";
      block.append(user, frameLabel, answer, sources, meta);
      log.append(block);
    }
    if (prompt !== undefined) block.querySelector(".user-text").textContent = prompt;
    return block;
  }

  function formatMs(ms) {
    if (ms === null || ms === undefined) return "–";
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function messageStats(message) {
    const parts = [`${message.tokens} tokens`];
    if (message.ttft_ms !== null) parts.push(`first token after ${formatMs(message.ttft_ms)}`);
    if (message.duration_ms) parts.push(`${(message.tokens / (message.duration_ms / 1000)).toFixed(1)} tokens/s`);
    return parts.join(" · ");
  }

  // Numbered as the answer's [n] markers; titles and sources are corpus text, so drawn as text only.
  function drawSources(block, message) {
    const box = block.querySelector(".sources");
    const citations = (!isActive(message) && message.citations) || [];
    const signature = citations.map((c) => `${c.n}:${c.source}`).join("|");
    if (box.dataset.signature === signature) return;
    box.dataset.signature = signature;
    if (!citations.length) {
      box.replaceChildren();
      box.hidden = true;
      return;
    }
    const title = document.createElement("h3");
    title.className = "sources-title";
    title.textContent = "Sources";
    const list = document.createElement("ol");
    citations.forEach((c) => {
      const item = document.createElement("li");
      item.value = c.n;
      item.dataset.n = String(c.n);
      const number = document.createElement("span");
      number.className = "source-n";
      number.textContent = `[${c.n}]`;
      const name = document.createElement("span");
      name.className = "source-title";
      name.textContent = c.title;
      const where = document.createElement("span");
      where.className = "source-where";
      where.textContent = c.source;
      item.append(number, " ", name, " — ", where);
      list.append(item);
    });
    box.replaceChildren(title, list);
    box.hidden = false;
  }

  function drawMessage(side, turn) {
    const message = turn[side];
    if (!message) return;
    const key = `${turn.index}:${side}`;
    const block = turnBlock(side, turn.index, turn.prompt);
    const answer = block.querySelector(".answer");
    const meta = block.querySelector(".meta");
    const live = state.live.get(key);
    const streaming = isActive(message) || Boolean(live && live.attempt > message.attempt);
    answer.dataset.status = streaming ? (live ? "streaming" : message.status) : message.status;
    answer.dataset.attempt = String(streaming && live ? live.attempt : message.attempt);
    if (streaming) answer.setAttribute("aria-busy", "true");
    else answer.removeAttribute("aria-busy");
    drawSources(block, streaming ? { status: "streaming" } : message);
    meta.classList.remove("failure");
    const log = answer.closest(".log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (streaming) {
      answer.classList.add("streaming");
      answer.dataset.final = "";
      md.renderStreaming(answer, live ? live.text : message.text);
      meta.textContent = answer.textContent ? "" : "Thinking…";
      if (atBottom) log.scrollTop = log.scrollHeight; // follow the answer unless the reader scrolled up
      return;
    }
    state.live.delete(key);
    answer.classList.remove("streaming");
    const signature = `${message.attempt}:${message.status}:${message.text.length}`;
    if (answer.dataset.final !== signature) {
      answer.dataset.final = signature;
      answer.replaceChildren(md.fromServerHtml(message.html));
    }
    if (message.status === "failed") {
      meta.textContent = message.error;
      meta.classList.add("failure");
    } else if (message.status === "stopped") {
      meta.textContent = "Stopped." + (revealed() ? " " + messageStats(message) : "");
    } else {
      meta.replaceChildren();
      if (message.cut) meta.append(cell("span", "Cut at the length limit.", { class: "cut" }));
      if (revealed()) meta.append(meta.childNodes.length ? " " : "", messageStats(message));
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  // Until an answer shows text, every side of the turn is in one shared state, the same for a model
  // that answers at once and one that searches first: "thinking", with the time since the prompt.
  function thinking() {
    const last = lastTurn();
    const messages = sides.map((s) => last[s]).filter(Boolean);
    if (!messages.length || !messages.every(isActive)) return false;
    return sides.every((s) => {
      const live = state.live.get(`${last.index}:${s}`);
      return !(live ? live.text : last[s].text);
    });
  }

  // One line for the whole turn, never one per side: the time since Send, how many answers wait
  // ahead in the queue, and how long answers usually take (one figure for the pair in a blind battle).
  function drawWaiting() {
    const sending = Boolean(state.sending);
    if (!sending && (!state.battle || !thinking())) {
      waitingLine.hidden = true;
      clearInterval(state.waitTimer);
      state.waitTimer = 0;
      schedulePoll(false);
      return;
    }
    const sent = sending ? state.sending : Date.parse(lastTurn().created_at || "") || Date.now();
    const seconds = Math.max(0, Math.floor((Date.now() - sent) / 1000));
    const who = mode === "direct" ? "The model is" : "Both models are";
    const waiting = (!sending && state.battle.waiting) || {};
    const label = sending ? "Sending…" : `${who} thinking…`;
    const text = waitingLine.querySelector(".waiting-text");
    if (text.textContent !== label) text.textContent = label;
    waitingLine.querySelector(".elapsed").textContent = `${seconds} s`;
    const ahead = waiting.queue_ahead || 0;
    waitingLine.querySelector(".queue").textContent = ahead
      ? `· ${ahead} ${ahead === 1 ? "answer" : "answers"} ahead in the queue` : "";
    waitingLine.querySelector(".estimate").textContent = waiting.estimate_s
      ? `· answers here usually take about ${waiting.estimate_s} s` : "";
    waitingLine.dataset.state = sending ? "sending" : "thinking";
    waitingLine.hidden = false;
    if (!state.waitTimer) state.waitTimer = setInterval(drawWaiting, 1000);
    schedulePoll(!sending && ahead > 0);
  }

  // The queue moves without events on the battle's stream, so while answers wait in it the page
  // reads the battle again now and then.
  function schedulePoll(on) {
    if (!on) {
      clearTimeout(state.pollTimer);
      state.pollTimer = 0;
      return;
    }
    if (state.pollTimer) return;
    state.pollTimer = setTimeout(() => {
      state.pollTimer = 0;
      if (state.battle && thinking()) refresh().catch(report);
    }, POLL_MS);
  }

  function drawBadge(side, message) {
    const badge = pane(side).querySelector(".badge");
    const labels = { pending: "Thinking…", streaming: "Writing…", done: "Done", failed: "Failed", stopped: "Stopped" };
    const live = state.live.get(`${lastTurn().index}:${side}`);
    let status = live && message.status === "pending" ? "streaming" : message.status;
    if (status === "streaming" && !(live ? live.text : message.text)) status = "pending";
    badge.textContent = labels[status] || "";
    badge.dataset.status = status;
    badge.hidden = false;
  }

  function drawTitles() {
    sides.forEach((side) => {
      const title = pane(side).querySelector(".pane-title");
      const prefix = mode === "direct" ? "" : `Model ${side.toUpperCase()}`;
      let name = "";
      if (revealed()) name = state.battle.models[side];
      else if (!blind) name = byId(`model-${side}`)?.value || "";
      title.textContent = prefix && name ? `${prefix}: ${name}` : prefix || name || "Model";
    });
  }

  function render() {
    if (!state.battle) return;
    state.battle.turns.forEach((turn) => sides.forEach((side) => drawMessage(side, turn)));
    const last = lastTurn();
    sides.forEach((side) => last[side] && drawBadge(side, last[side]));
    drawTitles();
    drawReveal();
    drawWaiting();
    update();
  }

  // Buttons, prompt box and status line follow the battle's state.
  function update() {
    const battle = state.battle;
    const messages = battle ? sides.map((s) => lastTurn()[s]).filter(Boolean) : [];
    const active = messages.some(isActive);
    const failed = sides.filter((s) => battle && lastTurn()[s] && lastTurn()[s].status === "failed");
    const stopped = messages.some((m) => m.status === "stopped");
    const decided = Boolean(battle && battle.vote);
    const blocked = state.blockedUntil > Date.now();
    const ready = root.dataset.ready === "true";
    // The server says whether a vote may be cast now and whether it would count (battle.voting).
    const voting = (battle && battle.voting) || null;
    const voteOpen = Boolean(battle) && !active && !failed.length && !decided && !state.busy
      && Boolean(voting && voting.open) && !signInToVote;
    if (voteOpen) proofFor(battle.proof_of_work); // begin the vote's proof of work while the person reads
    const cut = Boolean(battle) && !active && !decided && messages.some((m) => m.cut);

    // Send and Stop share a place; the focus moves with them rather than fall to the page.
    const sendHadFocus = document.activeElement === sendButton;
    const stopHadFocus = document.activeElement === stopButton;
    sendButton.hidden = active;
    stopButton.hidden = !active;
    if (active && sendHadFocus) stopButton.focus({ preventScroll: true });
    if (!active && stopHadFocus) focusPrompt();
    sendButton.disabled = decided || state.busy || blocked || !ready;
    stopButton.disabled = state.busy;
    promptBox.disabled = decided;
    promptBox.placeholder = decided ? "This battle is closed. Start a new round to ask again."
      : battle ? "Ask a follow-up…" : "Ask anything…";
    regenButton.hidden = !battle || active || decided;
    regenButton.disabled = state.busy;
    regenButton.classList.toggle("primary", failed.length > 0);
    newRoundButton.hidden = !battle || active;
    newRoundButton.classList.toggle("primary", decided);
    const uncounted = voteOpen && voting.counts === false;
    voteButtons.forEach((b) => {
      b.disabled = !voteOpen;
      b.classList.toggle("chosen", decided && battle.vote.choice === b.dataset.choice);
      let note = b.querySelector(".uncounted");
      if (uncounted && !note) {
        note = cell("span", "not counted", { class: "uncounted" });
        b.append(note);
      } else if (!uncounted && note) note.remove();
    });
    if (voteBar) {
      voteBar.hidden = !battle;
      voteBar.classList.toggle("not-counted", uncounted);
      let rule = "Voting opens when both answers are complete.";
      if (decided) rule = "Your vote is in.";
      else if (voting && !voting.open) rule = voting.reason;
      else if (uncounted) rule = `You can vote, but this vote will not count toward the ratings: ${voting.reason}`;
      else if (voteOpen) rule = "Your vote counts toward the ratings.";
      if (voteRule.textContent !== rule) voteRule.textContent = rule;
    }
    cutNotice.hidden = !cut;
    continueButton.disabled = state.busy || blocked;
    suggestions.hidden = Boolean(battle) || Boolean(state.sending) || !ready;
    pickers.forEach((p) => { p.disabled = Boolean(battle) || !ready; });

    let status = "";
    if (!battle) status = "";
    else if (decided) status = "Thanks for voting! Start a new round when you are ready.";
    else if (active) status = mode === "direct" ? "The model is answering…" : "The models are answering…";
    else if (failed.length) {
      const who = mode === "direct" ? "The answer" : failed.map((s) => `Model ${s.toUpperCase()}`).join(" and ");
      status = `${who} failed. Regenerate to try again${mode === "direct" ? "" : ", then vote"}.`;
    } else if (mode === "direct") status = stopped ? "Stopped. Ask a follow-up or regenerate." : "Ask a follow-up, or start a new round.";
    else if (voting && !voting.open) status = `${voting.reason}`;
    else status = (stopped ? "Stopped. " : "Both answers are complete. ") +
      `Vote for the better one${touch ? "" : " (keys 1–4)"}, or ask a follow-up.`;
    if (statusLine.textContent !== status) statusLine.textContent = status;
  }

  function statRows(side) {
    const messages = state.battle.turns.map((t) => t[side]).filter(Boolean);
    const tokens = messages.reduce((n, m) => n + (m.tokens || 0), 0);
    const ms = messages.reduce((n, m) => n + (m.duration_ms || 0), 0);
    const ttfts = messages.map((m) => m.ttft_ms).filter((v) => v !== null && v !== undefined);
    const computes = messages.map((m) => m.compute).filter(Boolean);
    const sum = (field) => computes.reduce((n, c) => n + (c[field] || 0), 0);
    const details = (state.battle.model_details || {})[side] || {};
    return {
      name: state.battle.models[side],
      organisation: details.organisation || "–",
      tokens: String(tokens),
      ttft: ttfts.length ? formatMs(Math.round(ttfts.reduce((a, b) => a + b, 0) / ttfts.length)) : "–",
      rate: ms > 0 ? (tokens / (ms / 1000)).toFixed(1) : "–",
      compute: computes.length ? {
        strategy: computes[computes.length - 1].strategy || "–",
        candidates: String(sum("candidates")),
        tokens: `${sum("generated_tokens")} / ${sum("answer_tokens")}`,
        tool: sum("tool_tokens"),
        wall: `${sum("wall_s").toFixed(1)} s`,
      } : null,
    };
  }

  function cell(tag, text, attrs) {
    const node = document.createElement(tag);
    node.textContent = text;
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    return node;
  }

  function drawReveal() {
    const battle = state.battle;
    if (!battle || !battle.vote || mode === "direct") {
      reveal.hidden = true;
      return;
    }
    if (reveal.dataset.battle === battle.id) return;
    reveal.dataset.battle = battle.id;
    const title = cell("h2", blind ? "The models are revealed" : "Your vote is in", { id: "reveal-title" });
    const verdict = document.createElement("p");
    verdict.className = "verdict";
    verdict.append("You voted: ", cell("strong", CHOICES[battle.vote.choice]), ".");
    if (!battle.vote.counts) {
      verdict.append(" ", cell("span", `This vote does not count toward the ratings: ${battle.vote.excluded_reason}`, { class: "excluded" }));
    }
    const rows = sides.map(statRows);
    const table = document.createElement("table");
    table.className = "stats";
    const head = document.createElement("tr");
    head.append(cell("th", "", { scope: "col" }), ...sides.map((s) => cell("th", `Model ${s.toUpperCase()}`, { scope: "col" })));
    head.firstChild.append(cell("span", "Measure", { class: "visually-hidden" }));
    const thead = document.createElement("thead");
    thead.append(head);
    const tbody = document.createElement("tbody");
    const addRow = (label, pick, cls) => {
      const tr = document.createElement("tr");
      tr.append(cell("th", label, { scope: "row" }), ...rows.map((r) => cell("td", pick(r), cls ? { class: cls } : {})));
      tbody.append(tr);
    };
    addRow("Model", (r) => r.name, "model-name");
    tbody.lastChild.querySelectorAll("td").forEach((td, i) => td.replaceChildren(  // each name links to its model page
      cell("a", rows[i].name, { href: `/models/${encodeURIComponent(rows[i].name)}/` })));
    addRow("Organisation", (r) => r.organisation);
    addRow("Tokens", (r) => r.tokens);
    addRow("Time to first token", (r) => r.ttft);
    addRow("Tokens per second", (r) => r.rate);
    if (rows.some((r) => r.compute)) {
      addRow("Search strategy", (r) => (r.compute ? r.compute.strategy : "–"));
      addRow("Candidates", (r) => (r.compute ? r.compute.candidates : "–"));
      addRow("Tokens generated / in the answer", (r) => (r.compute ? r.compute.tokens : "–"));
      if (rows.some((r) => r.compute && r.compute.tool > 0)) {
        addRow("Tokens written by the calculator", (r) => (r.compute ? String(r.compute.tool) : "–"));
      }
      addRow("Search wall time", (r) => (r.compute ? r.compute.wall : "–"));
    }
    table.append(thead, tbody);
    const scroll = document.createElement("div");
    scroll.className = "table-scroll";
    scroll.append(table);
    const share = document.createElement("p");
    const link = cell("a", "Share this battle", { href: `/b/${battle.id}/` });
    share.append(link, " (a read-only page with both answers and this reveal)");
    reveal.replaceChildren(title, verdict, scroll, share);
    reveal.hidden = false;
  }

  function scheduleDraw(key) {
    state.dirty.add(key);
    if (state.frame) return;
    state.frame = requestAnimationFrame(() => {
      state.frame = 0;
      const keys = Array.from(state.dirty);
      state.dirty.clear();
      if (!state.battle) return;
      keys.forEach((k) => {
        const [index, side] = k.split(":");
        const turn = state.battle.turns.find((t) => String(t.index) === index);
        if (turn) drawMessage(side, turn);
      });
      const last = lastTurn();
      sides.forEach((side) => last[side] && drawBadge(side, last[side]));
      drawWaiting();
    });
  }

  // ---- Following the answers -------------------------------------------------------------------

  async function refresh() {
    if (state.refreshing) { state.refreshAgain = true; return state.refreshing; }
    const id = state.battle.id;
    state.refreshing = (async () => {
      do {
        state.refreshAgain = false;
        const data = await call("GET", `/api/battles/${id}`);
        if (!state.battle || state.battle.id !== id) return; // a new round started meanwhile
        state.battle = data;
        render();
      } while (state.refreshAgain);
      const generating = sides.some((s) => lastTurn()[s] && isActive(lastTurn()[s]));
      if (generating && !state.source) follow();
    })();
    try { await state.refreshing; } finally { state.refreshing = null; }
  }

  function setConnection(kind) {
    const texts = {
      reconnecting: "Connection lost. Reconnecting to the live answers…",
      offline: "You are offline. The answers will continue when the network is back.",
    };
    connection.textContent = texts[kind] || "";
    connection.hidden = !texts[kind];
    connection.dataset.state = kind;
  }

  function closeStream() {
    clearTimeout(state.reconnectTimer);
    if (state.source) state.source.close();
    state.source = null;
  }

  function streamEvent(handler) {
    return (event) => {
      if (event.lastEventId) state.lastEventId = event.lastEventId;
      state.reconnectDelay = 1000;
      if (connection.dataset.state) setConnection("");
      try { handler(JSON.parse(event.data)); } catch (err) { report(err); }
    };
  }

  function finalAttempt(key) {
    const [index, side] = key.split(":");
    const turn = state.battle && state.battle.turns.find((t) => String(t.index) === index);
    const message = turn && turn[side];
    return message && !isActive(message) ? message.attempt : 0;
  }

  function follow() {
    closeStream();
    const battleId = state.battle.id;
    const resume = state.lastEventId ? `?last_event_id=${encodeURIComponent(state.lastEventId)}` : "";
    const source = new EventSource(`/api/battles/${battleId}/stream${resume}`);
    state.source = source;

    source.addEventListener("start", streamEvent((ev) => {
      const key = `${ev.turn}:${ev.side}`;
      if (ev.attempt <= finalAttempt(key)) return; // replayed: this answer is already drawn whole
      const live = state.live.get(key);
      if (!live || ev.attempt >= live.attempt) state.live.set(key, { attempt: ev.attempt, text: "" });
      scheduleDraw(key);
    }));
    source.addEventListener("delta", streamEvent((ev) => {
      const key = `${ev.turn}:${ev.side}`;
      const live = state.live.get(key);
      if (!live || live.attempt !== ev.attempt) return;
      live.text += ev.text;
      scheduleDraw(key);
    }));
    source.addEventListener("end", streamEvent((ev) => {
      if (ev.attempt <= finalAttempt(`${ev.turn}:${ev.side}`)) return; // replayed: already drawn whole
      refresh().catch(report);
    }));
    source.addEventListener("idle", streamEvent(() => {
      closeStream();
      refresh().catch(report);
    }));
    source.addEventListener("unavailable", streamEvent(() => setConnection("reconnecting")));
    source.addEventListener("open", () => {
      if (connection.dataset.state === "reconnecting") setConnection("");
    });
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      // The connection dropped or the server refused it. Reconnect here rather than leave it to
      // the browser, with backoff, asking explicitly for what follows the last event we have.
      source.close();
      state.source = null;
      setConnection(navigator.onLine ? "reconnecting" : "offline");
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(() => {
        if (state.battle && state.battle.id === battleId && !state.source) follow();
      }, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 15000);
    });
  }

  window.addEventListener("offline", () => { if (state.source) setConnection("offline"); });
  window.addEventListener("online", () => {
    if (!state.battle || !connection.dataset.state) return;
    setConnection("reconnecting");
    follow();
  });

  // ---- Actions ------------------------------------------------------------------------------

  async function act(work) {
    if (state.busy) return;
    state.busy = true;
    update();
    try {
      await work();
    } catch (err) {
      report(err);
    } finally {
      state.busy = false;
      update();
    }
  }

  function chosenModels() {
    if (blind) return undefined;
    return sides.map((s) => byId(`model-${s}`).value);
  }

  function send(text) {
    const prompt = text === undefined ? promptBox.value : text;
    if (!prompt.trim()) {
      showError("Type a prompt first.");
      focusPrompt();
      return;
    }
    if (sendButton.disabled || sendButton.hidden || state.busy) return;
    acceptTerms();
    showError("");
    // The page answers at once, before the server does: the prompt shows in each pane with the
    // shared waiting line, and both go if the server refuses it.
    const index = state.battle ? state.battle.turns.length : 0;
    sides.forEach((side) => { turnBlock(side, index, prompt).dataset.provisional = "true"; });
    state.sending = Date.now();
    drawWaiting();
    if (text === undefined) promptBox.value = "";
    act(async () => {
      try {
        if (!state.battle) {
          const created = await call("POST", "/api/battles", { prompt, mode, models: chosenModels(), arena: arena || undefined });
          state.battle = { id: created.id, turns: [], models: null, vote: null };
          remember(created.id);
        } else {
          await call("POST", `/api/battles/${state.battle.id}/turns`, { prompt });
        }
      } catch (err) {
        root.querySelectorAll('.turn[data-provisional="true"]').forEach((block) => block.remove());
        if (!state.battle) sides.forEach(showEmpty);
        if (text === undefined && !promptBox.value) promptBox.value = prompt; // nothing typed is lost
        throw err;
      } finally {
        state.sending = 0;
      }
      root.querySelectorAll('.turn[data-provisional="true"]').forEach((block) => delete block.dataset.provisional);
      await refresh(); // and follows the answers while they are generated
    });
  }

  function showEmpty(side) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = blind ? "An anonymous model's answer will appear here." : "The answer will appear here.";
    pane(side).querySelector(".log").replaceChildren(empty);
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  promptBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !touch) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape") {
      promptBox.blur(); // so that keys 1–4 vote
    }
  });
  continueButton.addEventListener("click", () => send(CONTINUE_PROMPT));
  suggestions.querySelectorAll("button.suggestion").forEach((button) => button.addEventListener("click", () => {
    promptBox.value = button.dataset.prompt;
    focusPrompt();
  }));
  stopButton.addEventListener("click", () => act(async () => {
    await call("POST", `/api/battles/${state.battle.id}/stop`);
    focusPrompt();
  }));
  regenButton.addEventListener("click", () => act(async () => {
    showError("");
    await call("POST", `/api/battles/${state.battle.id}/regenerate`);
    await refresh();
  }));
  // The proof of work an anonymous vote carries (arena/proof_of_work.py): the battle's challenge and
  // a nonce whose SHA-256 starts with `bits` zero bits. Begun when the challenge arrives, so the vote
  // rarely waits for it. crypto.subtle needs a secure context (HTTPS, or localhost).
  function proofFor(pow) {
    if (!pow || !window.crypto || !crypto.subtle) return Promise.resolve("");
    if (!proofs.has(pow.challenge)) proofs.set(pow.challenge, solveProof(pow.challenge, pow.bits));
    return proofs.get(pow.challenge);
  }
  async function solveProof(challenge, bits) {
    const encoder = new TextEncoder();
    for (let nonce = 0; ; nonce += 1) {
      const candidate = `${challenge}.${nonce}`;
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(candidate)));
      if (zeroBits(digest) >= bits) return candidate;
    }
  }
  function zeroBits(bytes) {
    let n = 0;
    for (const byte of bytes) {
      if (byte !== 0) return n + Math.clz32(byte) - 24;
      n += 8;
    }
    return n;
  }

  voteButtons.forEach((button) => button.addEventListener("click", () => act(async () => {
    // The vote names the answers on screen: if they were replaced meanwhile, the server refuses it.
    const turn = lastTurn();
    const attempts = {};
    ["a", "b"].forEach((side) => { if (turn[side]) attempts[side] = turn[side].attempt; });
    const proof = await proofFor(state.battle.proof_of_work);
    state.battle = await call("POST", `/api/battles/${state.battle.id}/vote`,
      { choice: button.dataset.choice, attempts, turn: turn.index, proof });
    remember(null);
    render();
    newRoundButton.hidden = false;
    reveal.scrollIntoView({ block: "nearest" });
    newRoundButton.focus({ preventScroll: true }); // in the dock; the status line announces the reveal
  })));

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const target = e.target;
    if (target instanceof HTMLElement && (target.isContentEditable || ["TEXTAREA", "INPUT", "SELECT"].includes(target.tagName))) return;
    const index = ["1", "2", "3", "4"].indexOf(e.key);
    if (index >= 0 && voteButtons[index] && !voteButtons[index].disabled) {
      e.preventDefault();
      voteButtons[index].click();
    }
  });

  newRoundButton.addEventListener("click", () => {
    closeStream();
    remember(null);
    state.battle = null;
    state.lastEventId = "";
    state.live.clear();
    setConnection("");
    sides.forEach((s) => {
      showEmpty(s);
      pane(s).querySelector(".badge").hidden = true;
    });
    reveal.hidden = true;
    reveal.replaceChildren();
    reveal.dataset.battle = "";
    showError("");
    drawTitles();
    update();
    focusPrompt();
  });

  pickers.forEach((picker) => picker.addEventListener("change", drawTitles));

  // ---- The notice before the first battle ----------------------------------------------------

  function termsAccepted() {
    try { return localStorage.getItem(TERMS_KEY) === "1"; } catch (err) { return false; }
  }

  function acceptTerms() {
    try { localStorage.setItem(TERMS_KEY, "1"); } catch (err) { /* private mode: ask again next time */ }
    const hadFocus = terms.contains(document.activeElement);
    terms.hidden = true;
    if (hadFocus) focusPrompt();
  }

  byId("accept-terms").addEventListener("click", acceptTerms);
  terms.hidden = termsAccepted();

  // ---- Continuing after a reload ---------------------------------------------------------------

  function remember(id) {
    try {
      if (id) sessionStorage.setItem(BATTLE_KEY, id);
      else sessionStorage.removeItem(BATTLE_KEY);
    } catch (err) { /* storage is off: a reload starts afresh */ }
  }

  async function resume() {
    let id = null;
    try { id = sessionStorage.getItem(BATTLE_KEY); } catch (err) { return; }
    if (!id) return;
    let data;
    try {
      data = await call("GET", `/api/battles/${id}`);
    } catch (err) {
      remember(null);
      return;
    }
    if (!data.yours || data.vote || state.battle) {
      remember(null);
      return;
    }
    if (data.models) sides.forEach((side) => { const picker = byId(`model-${side}`); if (picker) picker.value = data.models[side]; });
    state.battle = data;
    render();
    if (sides.some((side) => lastTurn()[side] && isActive(lastTurn()[side]))) follow();
  }

  drawTitles();
  update();
  resume().catch(report);
})();

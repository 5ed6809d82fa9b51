// Leaderboard charts, drawn offline with the Plotly bundle served from our own static files.
"use strict";

(function () {
  // "Which model is best for prompts like mine?": votes weighted by prompt similarity (server-side).
  const form = document.getElementById("for-prompt-form");
  if (!form) return;
  const status = document.getElementById("for-prompt-status");
  const table = document.getElementById("for-prompt-table");
  const cookie = (name) => (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "").split("=")[1] || "";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Weighing the votes on similar prompts…";
    table.hidden = true;
    try {
      if (!cookie("csrftoken")) await fetch("/api/session", { credentials: "same-origin" });
      const response = await fetch("/api/leaderboard/for-prompt", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(cookie("csrftoken")) },
        body: JSON.stringify({ prompt: form.prompt.value, arena: form.dataset.arena || "text" }),
      });
      const data = await response.json();
      if (!response.ok) { status.textContent = data.detail || `The server answered ${response.status}.`; return; }
      const body = table.querySelector("tbody");
      body.replaceChildren();
      data.rows.forEach((row) => {
        const tr = document.createElement("tr");
        [row.model, Math.round(row.rating), `+${Math.round(row.ci_upper - row.rating)} / −${Math.round(row.rating - row.ci_lower)}`,
         row.weighted_votes].forEach((value) => { const td = document.createElement("td"); td.textContent = String(value); tr.append(td); });
        body.append(tr);
      });
      table.hidden = data.rows.length === 0;
      status.textContent = data.rows.length
        ? `Based on about ${data.effective_votes} votes' worth of similar prompts (of ${data.votes_considered}).`
        : "Not enough votes on similar prompts to rate any model yet.";
      if (data.not_enough_data && data.not_enough_data.length) {
        status.textContent += ` Not enough data on prompts like this for: ${data.not_enough_data.join(", ")}.`;
      }
    } catch (err) {
      status.textContent = "The arena could not be reached; try again.";
    }
  });
})();

(function () {
  const node = document.getElementById("leaderboard-data");
  if (!node || !window.Plotly) return;
  const board = JSON.parse(node.textContent);
  if (!board.rows.length) return;
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const layout = (extra) => Object.assign({
    margin: { l: 140, r: 20, t: 10, b: 80 }, height: 340,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    font: { color: dark ? "#e8e8ee" : "#1c1c22" },
  }, extra || {});
  const config = { displayModeBar: false, responsive: true };
  const rows = board.rows;
  const names = rows.map((r) => r.model);

  Plotly.newPlot("chart-ratings", [{
    type: "scatter", mode: "markers", x: names, y: rows.map((r) => r.rating),
    error_y: { type: "data", symmetric: false, array: rows.map((r) => r.ci_upper - r.rating),
               arrayminus: rows.map((r) => r.rating - r.ci_lower) },
  }], layout({ yaxis: { title: "rating" }, margin: { l: 60, r: 20, t: 10, b: 100 } }), config);

  const heat = (id, z, title) => Plotly.newPlot(id, [{
    type: "heatmap", x: board.models, y: board.models, z: z, colorscale: "RdBu", reversescale: true,
    hovertemplate: "%{y} vs %{x}: %{z}<extra></extra>", texttemplate: "%{z}",
  }], layout({ xaxis: { side: "bottom" }, yaxis: { autorange: "reversed" }, title: { text: title } }), config);
  heat("chart-wins", board.win_fraction);
  heat("chart-counts", board.battle_counts);

  Plotly.newPlot("chart-average", [{
    type: "bar", x: board.models, y: board.average_win_rate,
  }], layout({ yaxis: { title: "win rate", range: [0, 1] }, margin: { l: 60, r: 20, t: 10, b: 100 } }), config);

  const withCompute = rows.filter((r) => r.tokens_per_answer);
  Plotly.newPlot("chart-compute", [{
    type: "scatter", mode: "markers+text", x: withCompute.map((r) => r.tokens_per_answer),
    y: withCompute.map((r) => r.rating), text: withCompute.map((r) => r.model), textposition: "top center",
  }], layout({ xaxis: { title: "generated tokens per answer", type: "log" }, yaxis: { title: "rating" },
               margin: { l: 60, r: 20, t: 10, b: 60 } }), config);
})();

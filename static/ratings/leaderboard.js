// Leaderboard charts, drawn offline with the Plotly bundle served from our own static files.
"use strict";

(function () {
  // "Which model is best for prompts like mine?": the arena's prompt-to-leaderboard head where it passed its
  // held-out test, else votes weighted by prompt similarity (server-side; `method` says which).
  const form = document.getElementById("for-prompt-form");
  if (!form) return;
  const status = document.getElementById("for-prompt-status");
  const table = document.getElementById("for-prompt-table");
  const cookie = (name) => (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "").split("=")[1] || "";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Ranking the models for this prompt…";
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
      const fromHead = data.method === "p2l_head";
      table.querySelector("thead th:last-child").textContent = fromHead ? "Votes (all prompts)" : "Weighted votes";
      const body = table.querySelector("tbody");
      body.replaceChildren();
      data.rows.forEach((row) => {
        const tr = document.createElement("tr");
        // The head gives no intervals (its uncertainty is not estimated): a dash rather than a made-up one.
        const interval = fromHead ? "–" : `+${Math.round(row.ci_upper - row.rating)} / −${Math.round(row.rating - row.ci_lower)}`;
        [row.model, Math.round(row.rating), interval, fromHead ? row.votes : row.weighted_votes]
          .forEach((value) => { const td = document.createElement("td"); td.textContent = String(value); tr.append(td); });
        body.append(tr);
      });
      table.hidden = data.rows.length === 0;
      if (fromHead) {
        status.textContent = `Ranked by the prompt-to-leaderboard head, trained on ${data.p2l.votes} votes. ${data.intervals}`;
        return;
      }
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
  // Sortable columns: each heading is a button (keyboard: Tab, then Enter or Space); the cells carry
  // their sort value in data-value, so "+12 / −9" sorts by width and "–" sorts last.
  const table = document.getElementById("leaderboard-table");
  if (!table) return;
  const headings = Array.from(table.tHead.rows[0].cells);
  const body = table.tBodies[0];
  headings.forEach((th, column) => {
    th.querySelector("button").addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      const numeric = th.dataset.type === "number";
      const value = (tr) => tr.cells[column].dataset.value;
      const rows = Array.from(body.rows);
      rows.sort((x, y) => {
        const a = value(x), b = value(y);
        if (a === "" || b === "") return (a === "") - (b === "");  // blanks last, either way
        const order = numeric ? Number(a) - Number(b) : a.localeCompare(b);
        return ascending ? order : -order;
      });
      body.append(...rows);
      headings.forEach((other) => other.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  });
})();

(function () {
  const node = document.getElementById("leaderboard-data");
  if (!node || !window.Plotly) return;
  const board = JSON.parse(node.textContent);
  const history = JSON.parse(document.getElementById("history-data").textContent);
  if (!board.rows.length) return;
  // Colours from the page's own variables, so light and dark mode both read well.
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const fg = color("--fg"), line = color("--line"), card = color("--card"), accent = color("--accent");
  const axis = (title, extra) => Object.assign({
    title: { text: title, standoff: 8 }, automargin: true, gridcolor: line, zerolinecolor: line, linecolor: line,
  }, extra || {});
  const layout = (x, y, extra) => Object.assign({
    margin: { l: 10, r: 10, t: 10, b: 10 }, height: 380, showlegend: false,
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { color: fg },
    hoverlabel: { bgcolor: card, font: { color: fg } }, xaxis: x, yaxis: y,
  }, extra || {});
  const config = { displayModeBar: false, responsive: true };
  const styled = board.style_control && board.style_fitted;
  const key = styled ? "style_" : "";
  const rows = board.rows;
  const names = rows.map((r) => r.model);
  const rating = (r) => r[key + "rating"];

  // Rating over time: one line per model shown in the table, its interval as error bars.
  const shown = new Set(names);
  const series = Object.entries(history.models).filter(([model]) => shown.has(model));
  Plotly.newPlot("chart-history", series.map(([model, points]) => {
    const usable = points.filter((p) => p[key + "rating"] !== undefined);
    return {
      type: "scatter", mode: "lines+markers", name: model, x: usable.map((p) => p.day),
      y: usable.map((p) => p[key + "rating"]),
      error_y: { type: "data", symmetric: false, array: usable.map((p) => p[key + "ci_upper"] - p[key + "rating"]),
                 arrayminus: usable.map((p) => p[key + "rating"] - p[key + "ci_lower"]), thickness: 1 },
      hovertemplate: `${model}<br>%{x|%-d %B %Y}: %{y:.0f}<extra></extra>`,
    };
  }), layout(axis("date (end of day, UTC)", { type: "date", tickformat: "%-d %b %Y" }),
             axis(styled ? "style-controlled rating" : "rating"),
             { showlegend: true, legend: { orientation: "h", y: -0.25 } }), config);

  Plotly.newPlot("chart-ratings", [{
    type: "scatter", mode: "markers", x: names, y: rows.map(rating), marker: { color: accent },
    error_y: { type: "data", symmetric: false, array: rows.map((r) => r.ci_plus), arrayminus: rows.map((r) => r.ci_minus) },
    hovertemplate: "%{x}: %{y:.0f}<extra></extra>",
  }], layout(axis("model", { tickangle: -30 }), axis(styled ? "style-controlled rating" : "rating")), config);

  const compute = (r) => r.compute_tokens_per_answer || r.tokens_per_answer;
  const withCompute = rows.filter(compute);
  Plotly.newPlot("chart-compute", [{
    type: "scatter", mode: "markers+text", x: withCompute.map(compute), y: withCompute.map(rating),
    text: withCompute.map((r) => r.model), textposition: "top center", cliponaxis: false, marker: { color: accent },
  }], layout(axis("generated tokens per answer (log scale)", { type: "log" }), axis(styled ? "style-controlled rating" : "rating"),
             withCompute.length ? {} : { annotations: [{ text: "No compute measured yet (or codenamed models only)",
                                                          showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5 }] }), config);

  if (!board.matrices) return;
  const heat = (id, z, extra, title) => Plotly.newPlot(id, [Object.assign({
    type: "heatmap", x: board.models, y: board.models, z: z, xgap: 1, ygap: 1,
    hovertemplate: "%{y} vs %{x}: %{z}<extra></extra>", texttemplate: "%{z}", colorbar: { title: { text: title } },
  }, extra)], layout(axis("model B (column)", { side: "bottom", tickangle: -30 }), axis("model A (row)", { autorange: "reversed" })), config);
  // Win fractions diverge around one half (blue: A wins more); counts run from zero, which is the card's own colour, never red.
  heat("chart-wins", board.win_fraction, { colorscale: "RdBu", reversescale: true, zmin: 0, zmax: 1, zmid: 0.5 }, "win fraction");
  heat("chart-counts", board.battle_counts, { colorscale: [[0, card], [1, accent]], zmin: 0 }, "battles");

  Plotly.newPlot("chart-average", [{
    type: "bar", x: board.models, y: board.average_win_rate, marker: { color: accent },
    hovertemplate: "%{x}: %{y:.0%}<extra></extra>",
  }], layout(axis("model", { tickangle: -30 }), axis("predicted win rate", { range: [0, 1], tickformat: ".0%" })), config);
})();

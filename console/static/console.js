// The console's charts and the book table. Data comes from the page (JSON script tags) or the console's
// /api/book/* routes, which read the scoring service. Plotly is served by the console itself.
"use strict";

const COLOURS = { Low: "#1d6b35", Medium: "#b07500", High: "#a4161a" };
const pct = (v) => (v === null || v === undefined ? "-" : (100 * v).toFixed(1) + "%");
const num = (v) => (v === null || v === undefined ? "-" : Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en") : Number(v.toFixed(2)).toLocaleString("en"));
const readJson = (id) => JSON.parse(document.getElementById(id).textContent);
// No mode bar: no "share"/cloud/edit-in-Chart-Studio link can send data off the console, and no 20 toolbar
// buttons stand between a keyboard user and the filters.
const config = { displaylogo: false, responsive: true, displayModeBar: false, showLink: false, showSendToCloud: false,
  showEditInChartStudio: false, showTips: false };
// Plotly renders labels and hover text as a small HTML dialect (links included): data is escaped before it.
// Long feature words wrapped on word boundaries (after escaping, so the <br> is the only markup): on a phone
// the bar charts keep room for their bars.
const wrap = (text, width = window.innerWidth < 600 ? 22 : 48) => text.split(" ").reduce((lines, word) => {
  const last = lines[lines.length - 1];
  if (last && (last + " " + word).length <= width) lines[lines.length - 1] = last + " " + word; else lines.push(word);
  return lines;
}, []).join("<br>");
// A horizontal bar chart tall enough for its (wrapped) labels, so they never overlap.
const barHeight = (labels, perBar = 1) => Math.max(320, 90 + labels.reduce((n, l) => n + Math.max(perBar * 14, l.split("<br>").length * 15) + 8, 0));
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// One panel per segment, each on its own count axis: High and Medium are a few percent of the book and would be a
// pixel high (and unclickable) on the Low bars' scale.
const PANELS = { Low: ["y", [0, 0.28]], Medium: ["y2", [0.36, 0.64]], High: ["y3", [0.72, 1]] };

function histogramTraces(h) {
  const mids = h.edges.slice(0, -1).map((e, i) => (e + h.edges[i + 1]) / 2);
  return ["Low", "Medium", "High"].map((s) => ({
    type: "bar", name: s, x: mids, y: h.counts[s], yaxis: PANELS[s][0], marker: { color: COLOURS[s] },
    hovertemplate: "score %{x:.1%}: %{y:,} customers<extra>" + s + "</extra>",
  }));
}

function histogramLayout(extra) {
  const axes = {};
  Object.entries(PANELS).forEach(([s, [axis, domain]]) => {
    axes[axis === "y" ? "yaxis" : "yaxis" + axis.slice(1)] = { domain, title: { text: s }, rangemode: "tozero", fixedrange: true };
  });
  return { barmode: "overlay", bargap: 0.05, xaxis: { title: { text: "score" }, tickformat: ".0%", anchor: "y" }, showlegend: false, ...axes, ...extra };
}

function cutoffLines(s) {
  return [s.medium, s.high].map((x) => ({ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#333" } }));
}

// ---- the book page
function bookPage() {
  const summary = readJson("summary");
  const width = summary.histogram.edges[1] - summary.histogram.edges[0];
  const state = { sort: "score", order: "desc", offset: 0, limit: 50 };
  const hist = document.getElementById("histogram");
  Plotly.newPlot(hist, histogramTraces(summary.histogram), histogramLayout({ shapes: cutoffLines(summary), margin: { t: 10 } }), config);
  hist.on("plotly_click", (ev) => {
    const x = ev.points[0].x;
    document.getElementById("f-min").value = Math.max(0, x - width / 2).toFixed(3);
    document.getElementById("f-max").value = Math.min(1, x + width / 2).toFixed(3);
    state.offset = 0;
    loadTable();
  });

  const scatter = document.getElementById("scatter");
  async function loadScatter() {
    const xs = document.getElementById("x"), ys = document.getElementById("y");
    const x = xs.value, y = ys.value;
    const xl = xs.options[xs.selectedIndex].text, yl = ys.options[ys.selectedIndex].text;
    const params = new URLSearchParams({ x, y, limit: 3000, ...filters() });
    const d = await (await fetch("/api/book/scatter?" + params)).json();
    const traces = ["Low", "Medium", "High"].map((s) => {
      const idx = d.segments.map((g, i) => (g === s ? i : -1)).filter((i) => i >= 0);
      return { type: "scatter", mode: "markers", name: s, x: idx.map((i) => d.xs[i]), y: idx.map((i) => d.ys[i]),
        customdata: idx.map((i) => esc(d.ids[i])), ids: idx.map((i) => d.ids[i]), marker: { color: COLOURS[s], size: 6, opacity: 0.7 },
        hovertemplate: "customer %{customdata}<br>" + esc(xl) + " %{x}<br>" + esc(yl) + " %{y}<extra>" + s + "</extra>" };
    });
    Plotly.react(scatter, traces, { xaxis: { title: { text: esc(xl) } }, yaxis: { title: { text: esc(yl) } }, margin: { t: 10 } }, config);
    scatter.dataset.points = d.ids.length;
    document.getElementById("scatter-status").textContent = "Showing " + d.ids.length.toLocaleString("en") + " of " +
      d.total.toLocaleString("en") + " customers, including " + d.segments.filter((g) => g === "High").length.toLocaleString("en") +
      " High (every High customer, up to the limit).";
  }
  document.getElementById("x").addEventListener("change", loadScatter);
  document.getElementById("y").addEventListener("change", loadScatter);

  function filters() {
    const out = {};
    new FormData(document.getElementById("filters")).forEach((v, k) => { if (v !== "") out[k] = v; });
    return out;
  }
  const body = document.querySelector("#book-table tbody");
  const status = document.getElementById("table-status");
  async function loadTable() {
    const params = new URLSearchParams({ ...filters(), sort: state.sort, order: state.order, limit: state.limit, offset: state.offset });
    const r = await fetch("/api/book/customers?" + params);
    const d = await r.json();
    if (!r.ok) { status.textContent = "Filter refused: " + JSON.stringify(d.detail); return; }
    status.textContent = d.total.toLocaleString("en") + " customers match; showing " + (state.offset + 1) + " to " + (state.offset + d.rows.length) + ".";
    body.replaceChildren(...d.rows.map((row) => {
      const tr = document.createElement("tr");
      const link = document.createElement("a");
      link.href = "/customers/" + encodeURIComponent(row.customer_id);
      link.textContent = row.customer_id;
      const cells = [link, pct(row.score), row.segment, row.rules || "-", ...summary.activity.concat(summary.key_features).map((f) => num(row.values[f.name]))];
      cells.forEach((c) => { const td = document.createElement("td"); if (typeof c === "string") td.textContent = c; else td.append(c); tr.append(td); });
      return tr;
    }));
  }
  document.querySelectorAll("#book-table th button").forEach((b) => b.addEventListener("click", () => {
    const col = b.dataset.sort;
    state.order = state.sort === col && state.order === "desc" ? "asc" : "desc";
    state.sort = col; state.offset = 0;
    document.querySelectorAll("#book-table th").forEach((o) => o.removeAttribute("aria-sort"));
    b.closest("th").setAttribute("aria-sort", state.order === "desc" ? "descending" : "ascending");
    loadTable();
  }));
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); state.offset = 0; loadTable(); loadScatter(); });
  document.getElementById("more").addEventListener("click", () => { state.offset += state.limit; loadTable(); });
  loadTable();
  loadScatter().then(() => scatter.on("plotly_click", (ev) => { window.location = "/customers/" + encodeURIComponent(ev.points[0].id); }));
}

// ---- the client view
function customerPage() {
  const { profile: p, histogram } = readJson("profile");
  const c = p.contributions.slice().sort((a, b) => Math.abs(a.contribution) - Math.abs(b.contribution));
  const labels = [...c.map((x) => wrap(esc(x.words))), "all other features"];
  const values = [...c.map((x) => x.contribution), p.other];
  Plotly.newPlot("contributions", [{
    type: "bar", orientation: "h", y: labels, x: values, marker: { color: values.map((v) => (v > 0 ? "#a4161a" : "#1a5fb4")) },
    customdata: [...c.map((x) => esc("value " + x.value + ", typical " + x.typical)), ""], hovertemplate: "%{y}<br>%{customdata}<br>%{x:+.2f} log-odds<extra></extra>",
  }], { height: barHeight(labels), margin: { t: 10 }, yaxis: { automargin: true }, xaxis: { title: { text: "contribution to the score (log-odds)" } } }, config);
  const words = p.comparisons.map((x) => wrap(esc(x.words)));
  Plotly.newPlot("comparison", [
    { type: "bar", orientation: "h", name: "among all customers", y: words, x: p.comparisons.map((x) => x.pct_all), marker: { color: "#12263f" } },
    { type: "bar", orientation: "h", name: "within " + p.segment, y: words, x: p.comparisons.map((x) => x.pct_segment), marker: { color: COLOURS[p.segment] } },
  ], { barmode: "group", height: barHeight(words, 2), margin: { t: 10 }, yaxis: { automargin: true }, xaxis: { title: { text: "percentile" }, range: [0, 100] }, legend: { orientation: "h", y: -0.25 } }, config);
  Plotly.newPlot("distribution", histogramTraces(histogram), histogramLayout({
    margin: { t: 30 },
    shapes: [...cutoffLines(p), { type: "line", x0: p.score, x1: p.score, yref: "paper", y0: 0, y1: 1, line: { color: "#000", width: 3 } }],
    annotations: [{ x: p.score, yref: "paper", y: 1.05, text: "this customer", showarrow: false }],
  }), config);
}

// ---- what-if on the client view: the service scores the edited vector; the answer is shown as text only
function whatIf() {
  const form = document.getElementById("what-if");
  const out = document.getElementById("what-if-result");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren("Scoring...");
    const r = await fetch("/api/what-if/" + encodeURIComponent(form.dataset.customer), { method: "POST", body: new FormData(form) });
    const d = await r.json();
    if (!r.ok) { out.replaceChildren("Not scored: " + (typeof d.detail === "string" ? d.detail : JSON.stringify(d.detail))); return; }
    const said = (x) => pct(x.score) + " (" + x.segment + (x.offboard ? ", on the list" : ", not listed") + ")";
    const line = document.createElement("p");
    line.id = "what-if-score";
    line.textContent = "Score " + said(d.before) + " becomes " + said(d.after) + " with " +
      d.changes.map((c) => c.words + " = " + c.to.toLocaleString("en")).join(" and ") + ".";
    const list = document.createElement("ol");
    list.id = "what-if-reasons";
    (d.after.reasons.length ? d.after.reasons : ["No reason above the typical customer's."]).forEach((t) => {
      const li = document.createElement("li"); li.textContent = t; list.append(li);
    });
    out.replaceChildren(line, list);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("what-if")) whatIf();
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", () => window.print());
  if (document.getElementById("summary")) bookPage();
  if (document.getElementById("profile")) customerPage();
});

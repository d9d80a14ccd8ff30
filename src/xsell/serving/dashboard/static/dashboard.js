// The xsell dashboard: plain fetch against the server's own JSON routes.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const cart = new Map(); // item id -> item

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

async function getJson(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  const body = await response.json();
  if (!response.ok) {
    const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

const money = (value) => (value === null || value === undefined ? "" : Number(value).toFixed(2));
const label = (item) => `${item.name ?? item.item_id} (${item.item_id})`;

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function searchBox(input, list, choose) {
  input.addEventListener("input", debounce(async () => {
    const q = input.value.trim();
    list.replaceChildren();
    if (!q) return;
    const found = await getJson(`/dashboard/api/items?q=${encodeURIComponent(q)}`);
    for (const item of found.items) {
      const li = el("li", { "data-item": item.item_id }, `${label(item)} · ${item.category ?? ""} · ${money(item.price)}`);
      li.addEventListener("click", () => { choose(item); list.replaceChildren(); input.value = ""; });
      list.append(li);
    }
  }, 150));
}

function renderCart() {
  const ul = $("#cart");
  ul.replaceChildren();
  for (const item of cart.values()) {
    const remove = el("button", { "data-remove": item.item_id }, "×");
    remove.addEventListener("click", () => { cart.delete(item.item_id); renderCart(); refresh(); });
    ul.append(el("li", { "data-cart": item.item_id }, label(item), " ", remove));
  }
}

function rules() {
  const number = (id) => { const v = $(id).value; return v === "" ? null : Number(v); };
  const out = {
    in_stock_only: $("#rule-in-stock").checked,
    complements_only: $("#rule-complements").checked,
    deny: $("#rule-deny").value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  if (number("#rule-min-price") !== null) out.min_price = number("#rule-min-price");
  if (number("#rule-max-price") !== null) out.max_price = number("#rule-max-price");
  if (number("#rule-per-category") !== null) out.max_per_category = number("#rule-per-category");
  return out;
}

async function answerColumn(side) {
  const column = $(`#column-${side}`);
  const body = $("tbody", column);
  const trace = $(".trace", column);
  const status = $(".status", column);
  body.replaceChildren();
  trace.replaceChildren();
  if (!cart.size) { status.textContent = "Add items to the cart."; return; }
  const request = {
    items: [...cart.keys()],
    k: Number($("#k").value) || 8,
    mode: $("#mode").value,
    model: $(`#model-${side}`).value,
    ...rules(),
  };
  const customer = $("#customer").value.trim();
  if (customer) request.customer = customer;
  try {
    const answer = await getJson("/dashboard/api/basket", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    status.textContent = `${answer.model} · ${answer.items.length} suggestions · ${answer.server_ms} ms server time`;
    for (const item of answer.items) {
      body.append(el("tr", { class: "suggestion" },
        el("td", {}, label(item)), el("td", {}, money(item.price)), el("td", {}, item.score.toFixed(4)),
        el("td", {}, item.source), el("td", {}, item.repeat ? "repeat" : "new"),
        el("td", { class: "reasons" }, item.reasons.join("; "))));
    }
    for (const [rule, removed] of Object.entries(answer.trace ?? {})) {
      trace.append(el("li", { "data-rule": rule }, `${rule}: removed ${removed.length}`, removed.length ? ` (${removed.slice(0, 8).join(", ")})` : ""));
    }
    if (!trace.children.length) trace.append(el("li", { "data-rule": "none" }, "no rule removed anything"));
  } catch (error) {
    status.textContent = String(error.message);
    status.classList.add("error");
  }
}

function refresh() { answerColumn("left"); answerColumn("right"); }

async function showItem(item) {
  $("#item-title").textContent = label(item);
  const id = encodeURIComponent(item.item_id);
  const complements = await getJson(`/v1/items/${id}/complements?k=10`);
  $("#item-complements tbody").replaceChildren(...complements.items.map((s) =>
    el("tr", {}, el("td", {}, label(s)), el("td", {}, money(s.price)), el("td", { class: "reasons" }, s.reasons.join("; ")))));
  const bundles = await getJson(`/v1/items/${id}/bundles?k=5`);
  $("#item-bundles tbody").replaceChildren(...bundles.bundles.map((b) =>
    el("tr", {}, el("td", {}, b.items.map(label).join(" + ")), el("td", {}, money(b.combined_price)),
      el("td", {}, Object.entries(b.strength).map(([k, v]) => `${k} ${Number(v).toFixed(3)}`).join(", ")))));
}

async function showModels() {
  const found = await getJson("/dashboard/api/models");
  $("#models").replaceChildren(...found.models.map((m) => el("div", { class: "panel model" },
    el("h3", {}, `${m.name}: ${m.model}`),
    el("p", {}, `bundle ${m.bundle} · version ${m.model_version} · ${m.n_items} items · saved ${m.saved_at ?? "?"} · trained on ${m.fitted_on ?? "?"}`),
    el("p", { class: "muted" }, `parameters ${JSON.stringify(m.params)}`),
    el("p", { class: "muted" }, `figures ${JSON.stringify(m.metrics)}`))));
  const headline = found.headline;
  if (headline) {
    $("#headline").replaceChildren(
      el("h3", {}, `The shop (${headline.store})`),
      el("table", {}, el("tbody", {}, ...headline.rows.map((r) =>
        el("tr", { class: "figure" }, el("th", {}, r.figure), el("td", {}, r.value))))),
      ...headline.notes.map((n) => el("p", { class: "muted" }, n)));
  } else {
    $("#headline").replaceChildren(el("p", { class: "muted" }, "No shop figures: start the server with --store STORE (the store the bundle was trained from)."));
  }
  const board = found.leaderboard;
  if (board) {
    Plotly.newPlot("leaderboard-chart", [{ type: "bar", x: board.models, y: board.values }],
      { title: { text: `Latest leaderboard (${board.protocol}, ${board.metric})` }, height: 340 }, { displaylogo: false });
  } else {
    $("#leaderboard-chart").replaceChildren(el("p", { class: "muted" }, "No leaderboard: start the server with --store STORE of an `xsell evaluate` run."));
  }
}

const history = [];
async function showLive() {
  const now = await getJson("/dashboard/api/live");
  const before = history.at(-1);
  history.push(now);
  const rate = before ? (now.requests - before.requests) / Math.max(now.time - before.time, 1e-3) : 0;
  const ms = (s) => (s === null ? "n/a" : `≤ ${(1000 * s).toFixed(0)} ms`);
  const rows = [
    ["requests per second", rate.toFixed(1)], ["requests", now.requests],
    ["latency p50 / p95 / p99", `${ms(now.latency_s.p50)} / ${ms(now.latency_s.p95)} / ${ms(now.latency_s.p99)}`],
    ["cache hit rate", now.cache_hit_rate === null ? "n/a" : `${(100 * now.cache_hit_rate).toFixed(1)} %`],
    ["events accepted / applied", `${now.events_accepted} / ${now.events_applied}`],
    ["errors (5xx / 4xx)", `${now.server_errors} / ${now.client_errors}`],
  ];
  $("#live tbody").replaceChildren(...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  if (history.length > 1) {
    Plotly.react("live-chart", [{ x: history.slice(1).map((h) => new Date(1000 * h.time)), y: history.slice(1).map((h, i) => (h.requests - history[i].requests) / Math.max(h.time - history[i].time, 1e-3)), mode: "lines" }],
      { title: { text: "requests per second" }, height: 280 }, { displaylogo: false });
  }
}

async function showExperiment() {
  if (!$("#experiment-arms")) return;
  const report = await getJson("/v1/experiment/report");
  $("#experiment-method").textContent = `Control ${report.control}; 95 % intervals by ${report.method}.`;
  const columns = ["arm", "sessions", "impressions", "ctr", "cart_rate", "attach_rate", "revenue_per_session"];
  const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? v : v.toFixed(4)) : v ?? "n/a");
  $("#experiment-arms tbody").replaceChildren(el("tr", {}, ...columns.map((c) => el("th", {}, c))),
    ...report.arms.map((a) => el("tr", { class: "arm" }, ...columns.map((c) => el("td", {}, fmt(a[c]))))));
  $("#experiment-uplift tbody").replaceChildren(el("tr", {}, ...["arm", "metric", "difference", "95 % interval", "significant"].map((c) => el("th", {}, c))),
    ...report.uplift.map((u) => el("tr", {}, el("td", {}, u.arm), el("td", {}, u.metric), el("td", {}, fmt(u.difference)),
      el("td", {}, `[${fmt(u.difference_low)}, ${fmt(u.difference_high)}]`), el("td", {}, u.significant ? "yes" : "no"))));
  const srm = report.sample_ratio;
  $("#experiment-srm").textContent = `Sample ratio: p = ${fmt(srm.p_value)}${srm.mismatch ? " — MISMATCH, do not trust the uplift" : " (no mismatch)"}`;
  const pct = (v) => (typeof v === "number" ? 100 * v : 0);
  const traces = [...new Set(report.uplift.map((u) => u.arm))].map((arm) => {
    const rows = report.uplift.filter((u) => u.arm === arm);
    return { type: "bar", name: `${arm} vs ${report.control}`, x: rows.map((u) => u.metric), y: rows.map((u) => pct(u.relative)),
      error_y: { type: "data", symmetric: false, array: rows.map((u) => pct(u.relative_high) - pct(u.relative)), arrayminus: rows.map((u) => pct(u.relative) - pct(u.relative_low)) } };
  });
  Plotly.newPlot("experiment-chart", traces, { title: { text: "relative uplift, % (95 % interval)" }, height: 360 }, { displaylogo: false });
}

const shows = { models: showModels, live: showLive, experiment: showExperiment };
let liveTimer = null;

function openTab(name) {
  for (const button of document.querySelectorAll("nav button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.id === `tab-${name}`);
  clearInterval(liveTimer);
  if (name === "live") liveTimer = setInterval(showLive, 2000);
  if (shows[name]) shows[name]().catch((error) => console.warn(error));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => openTab(button.dataset.tab));
  searchBox($("#search"), $("#search-results"), (item) => { cart.set(item.item_id, item); renderCart(); refresh(); });
  searchBox($("#item-search"), $("#item-results"), showItem);
  for (const input of document.querySelectorAll("#tab-basket input:not(#search), #tab-basket select")) {
    input.addEventListener("change", refresh);
  }
  refresh();
});

// The Sluice console (docs/console.md). It uses only the JSON API of the
// admin address it was served from; it loads nothing else.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const OUTCOMES = ["delivered", "rejected", "tempfailed", "discarded", "quarantined"];
  const COLORS = { delivered: "#3a3", rejected: "#c44", tempfailed: "#d90", discarded: "#777", quarantined: "#86b" };

  async function api(path, opts) {
    const r = await fetch(path, Object.assign({ credentials: "same-origin", cache: "no-store" }, opts || {}));
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) { location.reload(); }
    return { ok: r.ok, status: r.status, body: body };
  }

  function dur(ns) {
    if (ns >= 1e9) return (ns / 1e9).toFixed(2) + " s";
    if (ns >= 1e6) return (ns / 1e6).toFixed(1) + " ms";
    return (ns / 1e3).toFixed(0) + " µs";
  }
  function size(n) {
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1024) return (n / 1024).toFixed(1) + " KiB";
    return n + " B";
  }
  function time(s) { const d = new Date(s); return isNaN(d) ? "" : d.toLocaleTimeString(); }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

  // ---- views ----
  const views = ["overview", "transactions", "detail", "try", "policy"];
  function route() {
    const h = location.hash.replace(/^#\/?/, "");
    let v = "overview", arg = "";
    if (h.startsWith("tx/")) { v = "detail"; arg = h.slice(3); }
    else if (views.includes(h)) v = h;
    for (const n of views) $("view-" + n).hidden = n !== v;
    for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.id === "nav-" + (v === "detail" ? "transactions" : v));
    if (v === "overview") loadOverview();
    if (v === "transactions") loadTransactions();
    if (v === "detail") loadDetail(arg);
    if (v === "policy") loadPolicy();
  }
  window.addEventListener("hashchange", route);

  // ---- overview ----
  // The chart stacks the outcomes as bars: each series is drawn as the
  // running total up to it, the largest first, so every band shows its own
  // share; the legend shows each outcome's own count.
  let chart = null, raw = null;
  const STACK = OUTCOMES.slice().reverse(); // drawn first: the whole stack
  function drawChart(series) {
    raw = series.counts;
    const cum = OUTCOMES.map((o, k) => series.minutes.map((_, i) => OUTCOMES.slice(0, k + 1).reduce((a, x) => a + series.counts[x][i], 0)));
    const data = [series.minutes].concat(STACK.map((o) => cum[OUTCOMES.indexOf(o)]));
    const box = $("chart");
    const width = Math.max(300, box.clientWidth || 800);
    if (!window.uPlot) return;
    if (chart) { chart.setData(data); if (Math.abs(chart.width - width) > 10) chart.setSize({ width: width, height: 220 }); return; }
    const bars = uPlot.paths.bars({ size: [0.8, 30] });
    chart = new uPlot({
      width: width, height: 220,
      cursor: { points: { show: false } },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max)] } },
      axes: [{}, { label: "messages / min" }],
      series: [{}].concat(STACK.map((o) => ({
        label: o, stroke: COLORS[o], fill: COLORS[o], width: 0, paths: bars, points: { show: false },
        value: (u, v, si, i) => (i == null || !raw ? "--" : raw[o][i]),
      }))),
    }, data, box);
  }

  async function loadOverview() {
    const r = await api("/api/overview");
    if (!r.ok || !r.body) return;
    const o = r.body;
    $("generation").textContent = o.generation;
    $("ready").textContent = o.ready ? "serving" : "not ready";
    $("policy-file").textContent = o.policy;
    const lr = o.last_reload;
    if (lr) {
      $("last-reload").textContent = lr.status + " (generation " + lr.generation + ")";
      $("last-reload-diags").hidden = !lr.diagnostics;
      $("last-reload-diags").textContent = lr.diagnostics || "";
    }
    $("upstream-name").textContent = o.upstream;
    renderUpstream(o);
    const br = $("breakers"); clear(br);
    if (!o.open_breakers.length) br.appendChild(el("li", "none", "muted"));
    for (const p of o.open_breakers) br.appendChild(el("li", p, "error"));
    $("kept").textContent = o.kept;
    const tb = $("plugins").tBodies[0]; clear(tb);
    for (const p of o.plugins) {
      const tr = el("tr");
      for (const c of [p.plugin, p.calls, dur(p.p50_ns), dur(p.p99_ns), p.faults, p.faults_total]) tr.appendChild(el("td", c));
      tb.appendChild(tr);
    }
    drawChart(o.series);
  }
  function renderUpstream(o) {
    const h = o.upstream_health;
    if (!h) return;
    const okT = h.last_ok && !h.last_ok.startsWith("0001") ? new Date(h.last_ok) : null;
    const errT = h.last_error && !h.last_error.startsWith("0001") ? new Date(h.last_error) : null;
    let s = "no commands yet", cls = "muted";
    if (okT && (!errT || okT > errT)) { s = "ok (last answer " + okT.toLocaleTimeString() + ")"; cls = ""; }
    else if (errT) { s = "failing since " + errT.toLocaleTimeString(); cls = "error"; }
    $("upstream-health").textContent = s;
    $("upstream-health").className = cls;
    $("upstream-error").textContent = errT ? h.error + " at " + errT.toLocaleTimeString() + " (" + h.errors + " of " + h.commands + " commands failed)" : "none";
  }
  setInterval(() => { if (!$("view-overview").hidden) loadOverview(); }, 5000);

  $("reload-btn").addEventListener("click", () => { $("reload-confirm").hidden = false; });
  $("reload-no").addEventListener("click", () => { $("reload-confirm").hidden = true; });
  $("reload-yes").addEventListener("click", async () => {
    $("reload-confirm").hidden = true;
    $("reload-status").textContent = "reloading…";
    $("reload-result").hidden = false;
    const r = await api("/api/reload", { method: "POST" });
    const b = r.body || { status: "failed", diagnostics: "HTTP " + r.status };
    $("reload-status").textContent = "Reload " + b.status + (b.status === "failed" ? ": the running policy keeps serving (generation " + b.generation + ")" : ": generation " + b.generation);
    $("reload-status").className = b.status === "failed" ? "error" : "";
    $("reload-diags").textContent = b.diagnostics || b.error || "";
    $("reload-diags").hidden = !(b.diagnostics || b.error);
    loadOverview();
  });

  // ---- transactions ----
  const MAX_ROWS = 500;
  let source = null, sourceQuery = null;
  function filterQuery() {
    const p = new URLSearchParams();
    for (const [k, id] of [["address", "f-address"], ["verdict", "f-verdict"], ["queue_id", "f-queue"]]) {
      const v = $(id).value.trim();
      if (v) p.set(k, v);
    }
    return p.toString();
  }
  function row(e) {
    const tr = el("tr");
    tr.dataset.id = e.id;
    tr.dataset.outcome = e.outcome;
    tr.appendChild(el("td", time(e.time)));
    tr.appendChild(el("td", e.client + (e.helo ? " (" + e.helo + ")" : "")));
    tr.appendChild(el("td", e.from || "<>"));
    tr.appendChild(el("td", (e.rcpts || []).concat((e.refused_rcpts || []).map((r) => "✗" + r)).join(", ")));
    tr.appendChild(el("td", size(e.size)));
    const v = el("td"); v.appendChild(el("span", e.outcome, "outcome o-" + e.outcome)); tr.appendChild(v);
    tr.appendChild(el("td", e.reply, "mono"));
    tr.appendChild(el("td", e.queue_id || "", "mono"));
    tr.addEventListener("click", () => { location.hash = "#/tx/" + e.id; });
    return tr;
  }
  async function loadTransactions() {
    const q = filterQuery();
    const r = await api("/api/transactions?limit=200" + (q ? "&" + q : ""));
    if (!r.ok) return;
    const tb = $("tx").tBodies[0]; clear(tb);
    for (const e of r.body.transactions) tb.appendChild(row(e));
    $("tx-empty").hidden = tb.rows.length > 0;
    listen(q);
  }
  function listen(q) {
    if (source && sourceQuery === q) return;
    if (source) source.close();
    sourceQuery = q;
    source = new EventSource("/api/events" + (q ? "?" + q : ""));
    source.onopen = () => { $("live").className = "live on"; };
    source.onerror = () => { $("live").className = "live off"; };
    source.addEventListener("transaction", (ev) => {
      const e = JSON.parse(ev.data);
      const tb = $("tx").tBodies[0];
      if (tb.querySelector('tr[data-id="' + e.id + '"]')) return;
      tb.insertBefore(row(e), tb.firstChild);
      while (tb.rows.length > MAX_ROWS) tb.deleteRow(tb.rows.length - 1);
      $("tx-empty").hidden = true;
      if (!$("view-overview").hidden) scheduleOverview();
    });
    source.addEventListener("resync", () => loadTransactions());
  }
  let overviewTimer = null;
  function scheduleOverview() {
    if (overviewTimer) return;
    overviewTimer = setTimeout(() => { overviewTimer = null; loadOverview(); }, 1000);
  }
  $("filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadTransactions(); });

  // ---- detail ----
  async function loadDetail(id) {
    const r = await api("/api/transactions/" + encodeURIComponent(id));
    const dl = $("d-fields"); clear(dl);
    const tl = $("timeline"); clear(tl);
    $("d-id").textContent = "#" + id;
    if (!r.ok) { $("d-outcome").textContent = (r.body && r.body.error) || "not found"; $("d-outcome").className = "error"; return; }
    const e = r.body;
    $("d-outcome").textContent = e.outcome;
    $("d-outcome").className = "outcome o-" + e.outcome;
    const fields = [["time", new Date(e.time).toLocaleString()], ["session", e.session], ["client", e.client], ["HELO", e.helo],
      ["sender", e.from || "<>"], ["recipients", (e.rcpts || []).join(", ")], ["refused recipients", (e.refused_rcpts || []).join(", ")],
      ["size", size(e.size)], ["reply", e.reply], ["queue id", e.queue_id || ""], ["duration", dur(e.duration_ns)]];
    for (const [k, v] of fields) { if (v === "" && k !== "queue id") continue; dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
    const total = Math.max(1, e.steps.reduce((a, s) => a + s.duration_ns, 0));
    let at = 0;
    for (const s of e.steps) {
      const d = el("div", null, "step");
      d.dataset.plugin = s.plugin; d.dataset.verdict = s.verdict;
      d.appendChild(el("span", s.phase + " · " + s.plugin + " → " + s.verdict + " · " + dur(s.duration_ns), "label"));
      const track = el("span", null, "track");
      const bar = el("span", null, "bar v-" + s.verdict + (s.error ? " fault" : ""));
      bar.style.left = (100 * at / total).toFixed(2) + "%";
      bar.style.width = (100 * s.duration_ns / total).toFixed(2) + "%";
      bar.title = s.error || "";
      track.appendChild(bar); d.appendChild(track);
      if (s.error) d.appendChild(el("span", s.error, "error"));
      tl.appendChild(d);
      at += s.duration_ns;
    }
    if (!e.steps.length) tl.appendChild(el("p", "No plugin ran.", "muted"));
    if (e.steps_dropped) tl.appendChild(el("p", "… and " + e.steps_dropped + " more steps, not kept.", "muted"));
    const hb = $("d-headers").tBodies[0]; clear(hb);
    $("d-headers-box").hidden = !(e.headers && e.headers.length);
    for (const h of e.headers || []) { const tr = el("tr"); tr.appendChild(el("td", h.name)); tr.appendChild(el("td", h.value, "mono")); hb.appendChild(tr); }
  }

  // ---- try a message ----
  $("t-file").addEventListener("change", async () => {
    const f = $("t-file").files[0];
    if (f) $("t-message").value = await f.text();
  });
  $("try").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("try-error").hidden = true;
    $("t-run").disabled = true;
    const req = { client_ip: $("t-ip").value.trim(), helo: $("t-helo").value.trim(), from: $("t-from").value.trim(),
      rcpts: $("t-rcpts").value.split(/[\s,]+/).filter(Boolean), message: $("t-message").value };
    const r = await api("/api/try", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req) });
    $("t-run").disabled = false;
    if (!r.ok) { $("try-error").textContent = (r.body && r.body.error) || "HTTP " + r.status; $("try-error").hidden = false; $("try-result").hidden = true; return; }
    const t = r.body;
    $("try-result").hidden = false;
    $("try-action").textContent = t.action;
    $("try-action").className = "outcome o-" + t.action;
    $("try-reply").textContent = t.code + " " + (t.enhanced || "") + " " + t.text + " (at " + t.phase + ")";
    const tb = $("try-steps").tBodies[0]; clear(tb);
    for (const s of t.steps) {
      const tr = el("tr");
      for (const c of [s.phase, s.plugin, s.verdict, dur(s.duration_ns), s.rcpt || "", s.error || ""]) tr.appendChild(el("td", c));
      tb.appendChild(tr);
    }
    const ul = $("try-rcpts"); clear(ul);
    for (const x of t.rcpt_replies) ul.appendChild(el("li", x.rcpt + ": " + x.action + " (" + x.code + " " + (x.enhanced || "") + " " + x.text + ")"));
    const tg = $("try-tags"); clear(tg);
    for (const k of Object.keys(t.tags).sort()) tg.appendChild(el("li", k + " = " + t.tags[k]));
    const m = t.message || "";
    const end = m.indexOf("\r\n\r\n");
    $("try-headers").textContent = (end >= 0 ? m.slice(0, end) : m).replace(/\r\n/g, "\n");
    $("try-json").textContent = JSON.stringify(t, null, 2);
  });

  // ---- policy ----
  async function loadPolicy() {
    const r = await api("/api/policy");
    if (!r.ok) return;
    const p = r.body;
    $("p-gen").textContent = p.generation;
    $("p-file").textContent = p.file;
    $("p-changed").hidden = !p.changed_on_disk;
    $("p-source").textContent = p.source;
    const tb = $("p-files").tBodies[0]; clear(tb);
    for (const f of p.files) {
      const tr = el("tr");
      for (const c of [f.kind + (f.secret ? " (secret: not shown)" : ""), f.path, f.error || size(f.size), f.sha256 || ""]) tr.appendChild(el("td", c));
      tb.appendChild(tr);
    }
  }

  route();
  listen(filterQuery()); // rows arrive while another view is open
})();

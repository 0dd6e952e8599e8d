// The git-keepsake dashboard: one ES module, no build step, nothing from the network.
//
// Records can come from someone else's remote: every string from a record reaches the page as a
// text node (textContent, createTextNode) or an attribute value, never as HTML. Nothing here
// uses innerHTML.
//
// Served by `git keepsake ui`, it reads the JSON API (/api/...). Inside a report written by
// `git keepsake report`, the same code reads the data embedded in the page instead.

const embedded = document.getElementById("keepsake-data");
const REPORT = embedded ? JSON.parse(embedded.textContent) : null;
const app = document.getElementById("app");
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
  "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#ad494a", "#637939", "#e6550d", "#7b4173",
  "#3182bd", "#31a354", "#756bb1", "#636363", "#843c39"];

// ---------- DOM helpers ----------

/** An element; `props` sets properties (className, href, ...) and `data` its dataset. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "data") Object.assign(node.dataset, v);
    else if (k === "on") for (const [ev, f] of Object.entries(v)) node.addEventListener(ev, f);
    else node[k] = v;
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

/** Replaces `node`'s children, skipping the null ones (sections a page leaves out). */
function put(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function short(id) { return String(id || "").slice(0, 7); }

/** A value as `ls` shows it: strings bare, the rest as JSON. */
function show(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number") return formatNumber(v);
  return JSON.stringify(v);
}

function formatNumber(x) {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? x.toExponential(4) : String(Number(x.toPrecision(6)));
}

function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function isScalar(v) { return v === null || typeof v !== "object"; }

function humanSize(n) {
  if (typeof n !== "number") return "";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

// ---------- data ----------

class ApiError extends Error {
  constructor(message, hint) { super(message); this.hint = hint; }
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new ApiError(`${url}: ${r.status} ${text.slice(0, 200)}`); }
  if (!r.ok) throw new ApiError(body.error || `HTTP ${r.status}`, body.hint);
  return { body, headers: r.headers };
}

const data = {
  async list({ filters = [], sort = "created", remote = "" } = {}) {
    if (REPORT) return { rows: sortRows(REPORT.experiments, sort), warnings: [] };
    const q = new URLSearchParams();
    for (const f of filters) if (f.trim()) q.append("filter", f);
    q.set("sort", sort);
    if (remote) q.set("remote", remote);
    const { body, headers } = await getJSON(`/api/experiments?${q}`);
    let warnings = [];
    try { warnings = JSON.parse(headers.get("x-keepsake-warnings") || "[]"); } catch { /* none */ }
    return { rows: body, warnings };
  },
  async experiment(id) {
    if (REPORT) {
      const full = Object.keys(REPORT.details).find((k) => k.startsWith(id));
      if (!full) throw new ApiError(`experiment ${id} is not in this report`);
      return REPORT.details[full];
    }
    return (await getJSON(`/api/experiments/${encodeURIComponent(id)}`)).body;
  },
  async diff(id, against) {
    if (REPORT) throw new ApiError("code diffs are not part of a report");
    const q = against ? `?against=${encodeURIComponent(against)}` : "";
    return (await getJSON(`/api/experiments/${encodeURIComponent(id)}/diff${q}`)).body;
  },
  async remotes() {
    if (REPORT) return [];
    return (await getJSON("/api/remotes")).body;
  },
};

/** The value `ls --sort` orders by (keepsake_core::model::filter::lookup), for the report. */
function lookup(row, key) {
  switch (key) {
    case "created": case "started": return Date.parse(row.created) / 1000;
    case "step": return row.latest_checkpoint ? row.latest_checkpoint.step : 0;
    case "user": case "host": case "command": case "id": return row[key];
    case "status": return row.running ? "running" : "stopped";
  }
  const c = row.best_checkpoint || row.latest_checkpoint;
  const metric = c && dig(c.metrics, key);
  if (metric !== undefined) return metric;
  return dig(row.params, key);
}

function dig(map, key) {
  if (!map) return undefined;
  if (Object.prototype.hasOwnProperty.call(map, key)) return map[key];
  const dot = key.indexOf(".");
  if (dot < 0) return undefined;
  const head = map[key.slice(0, dot)];
  return head && typeof head === "object" ? dig(head, key.slice(dot + 1)) : undefined;
}

function sortRows(rows, sort) {
  const desc = sort.startsWith("-");
  const key = desc ? sort.slice(1) : sort;
  const keyed = rows.map((r, i) => [lookup(r, key), i, r]);
  keyed.sort((a, b) => {
    const an = a[0] === undefined || a[0] === null, bn = b[0] === undefined || b[0] === null;
    if (an || bn) return an && bn ? a[1] - b[1] : an ? 1 : -1;
    let o = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
    if (desc) o = -o;
    return o || a[1] - b[1];
  });
  return keyed.map((k) => k[2]);
}

/** Scalar params whose values differ across `rows` (as `ls` picks its PARAMS). */
function differingParams(paramMaps, all) {
  const values = new Map();
  for (const p of paramMaps) {
    for (const [k, v] of Object.entries(p || {})) {
      if (!isScalar(v)) continue;
      if (!values.has(k)) values.set(k, []);
      values.get(k).push(JSON.stringify(v));
    }
  }
  return [...values.entries()]
    .filter(([, vs]) => all || (vs.length > 1 && vs.some((v) => v !== vs[0])))
    .map(([k]) => k)
    .sort();
}

// ---------- router ----------

const state = {
  filters: [""],
  sort: "created",
  remote: "",
  allParams: false,
  page: 0,
  pageSize: 100,
  selected: new Set(),
  hidden: new Set(),
  shown: new Set(),
};
let pollTimer = null;
let renders = 0;
let chooserOpen = false;
// The last listing, so paging, selecting and choosing columns do not read it again.
let cached = { key: null, listing: null };

function route() {
  clearTimeout(pollTimer);
  const hash = location.hash.replace(/^#\/?/, "");
  const page = hash.split("/")[0];
  document.body.dataset.page = page || "experiments";
  // A hand-typed address may hold a bad `%` sequence: an error on the page, not a stuck one.
  const done = Promise.resolve().then(() => {
    const arg = decodeURIComponent(hash.split("/").slice(1).join("/"));
    return page === "e" ? experimentPage(arg)
      : page === "compare" ? comparePage(arg.split(",").filter(Boolean))
      : experimentsPage();
  });
  done.catch((e) => {
    put(app, el("p", { className: "error", id: "page-error" }, e.message, e.hint ? `\nhint: ${e.hint}` : ""));
  }).finally(() => {
    // For tests and bench/ui_render.py: when the page was last fully rendered, and how long
    // after navigation started.
    document.body.dataset.readyAt = String(Math.round(performance.now()));
    document.body.dataset.ready = `${Date.now()}.${++renders}`;
  });
}

// ---------- experiments page ----------

async function experimentsPage() {
  const t0 = performance.now();
  const errorBox = el("div", { className: "error", id: "filter-error" });
  let listing;
  const key = JSON.stringify([state.filters, state.sort, state.remote]);
  try {
    listing = cached.key === key ? cached.listing
      : await data.list({ filters: state.filters, sort: state.sort, remote: state.remote });
    cached = { key, listing };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    errorBox.textContent = e.message + (e.hint ? `\nhint: ${e.hint}` : "");
    listing = { rows: [], warnings: [], failed: true };
  }
  const rows = listing.rows;
  const remotes = await data.remotes().catch(() => []);

  // The toolbar: filters (the grammar of `ls --filter`), remote, params, paging.
  const filterInputs = el("div", { className: "filters" }, state.filters.map((f, i) =>
    el("input", {
      type: "text", value: f, placeholder: "filter, e.g. loss < 0.5 or lr = 0.01", className: "filter",
      on: {
        keydown: (ev) => { if (ev.key === "Enter") { state.filters[i] = ev.target.value; state.page = 0; route(); } },
        change: (ev) => { state.filters[i] = ev.target.value; },
      },
    })));
  const toolbar = el("div", { className: "toolbar" },
    filterInputs,
    REPORT ? null : el("button", { id: "apply-filter", on: { click: () => { state.filters = [...filterInputs.querySelectorAll("input")].map((i) => i.value); state.page = 0; route(); } } }, "Apply"),
    REPORT ? null : el("button", { on: { click: () => { state.filters.push(""); route(); } } }, "+ filter"),
    REPORT ? null : el("button", { id: "reload", on: { click: () => { cached = { key: null }; route(); } } }, "Reload"),
    REPORT ? null : el("label", {}, "Experiments: ",
      el("select", { id: "remote", on: { change: (ev) => { state.remote = ev.target.value; state.page = 0; state.selected.clear(); route(); } } },
        el("option", { value: "", selected: state.remote === "" }, "this clone"),
        remotes.map((r) => el("option", { value: r, selected: state.remote === r }, `remote ${r}`)))),
    el("label", {}, el("input", { type: "checkbox", id: "all-params", checked: state.allParams, on: { change: (ev) => { state.allParams = ev.target.checked; route(); } } }), " all params"),
    el("button", {
      id: "compare", disabled: state.selected.size < 2 || state.selected.size > 20,
      on: { click: () => { location.hash = `#/compare/${[...state.selected].join(",")}`; } },
    }, `Compare selected (${state.selected.size})`),
  );
  if (REPORT) filterInputs.replaceChildren(el("span", { className: "muted" }, REPORT.title || "report"));

  // Columns: fixed ones, a column per param that differs, the primary metric(s).
  const paramKeys = differingParams(rows.map((r) => r.params), state.allParams);
  const metricKeys = [...new Set(rows.flatMap((r) => {
    const c = r.best_checkpoint;
    return c && c.primary_metric ? [c.primary_metric.name] : [];
  }))].sort();
  if (state.allParams) {
    for (const r of rows) {
      const c = r.best_checkpoint || r.latest_checkpoint;
      for (const k of Object.keys((c && c.metrics) || {})) if (!metricKeys.includes(k)) metricKeys.push(k);
    }
  }
  const columns = [
    { key: "id", title: "Experiment", cell: (r) => el("a", { href: `#/e/${r.id}`, className: "id" }, short(r.id)) },
    { key: "created", title: "Created", cell: (r) => r.created.replace("T", " ").replace(/\.\d+Z$/, "Z") },
    { key: "status", title: "Status", cell: (r) => el("span", { className: r.running ? "status-running" : "" }, r.running ? "running" : "stopped") },
    // As `ls`: user and host only when they differ (the column chooser shows them anyway).
    ...(new Set(rows.map((r) => r.user)).size > 1 || state.shown.has("user") ? [{ key: "user", title: "User", cell: (r) => r.user }] : []),
    ...(new Set(rows.map((r) => r.host)).size > 1 || state.shown.has("host") ? [{ key: "host", title: "Host", cell: (r) => r.host }] : []),
    ...paramKeys.map((k) => ({ key: k, title: k, group: "param", cell: (r) => show(dig(r.params, k)), numeric: true })),
    ...metricKeys.map((k) => ({ key: k, title: `best ${k}`, group: "metric", cell: (r) => show(dig(r.best_checkpoint && r.best_checkpoint.metrics, k)), numeric: true })),
    { key: "best", title: "Best checkpoint", sortKey: null, cell: (r) => r.best_checkpoint ? `${short(r.best_checkpoint.id)} (step ${r.best_checkpoint.step})` : "" },
    { key: "step", title: "Latest checkpoint", cell: (r) => {
      const c = r.latest_checkpoint;
      if (!c) return "";
      const m = metricKeys.filter((k) => dig(c.metrics, k) !== undefined).map((k) => `${k}=${show(dig(c.metrics, k))}`);
      return `${short(c.id)} (step ${c.step})${m.length ? " " + m.join(" ") : ""}`;
    } },
    { key: "checkpoints", title: "Checkpoints", sortKey: null, cell: (r) => String(r.num_checkpoints), numeric: true },
  ];
  const choices = [...columns.filter((c) => c.key !== "id")];
  for (const [key, title] of [["user", "User"], ["host", "Host"]]) if (!columns.some((c) => c.key === key)) choices.splice(2, 0, { key, title, optional: true });
  const chooser = el("details", { className: "columns", open: chooserOpen }, el("summary", {}, "Columns"),
    choices.map((c) => el("label", {},
      el("input", {
        type: "checkbox", checked: !c.optional && !state.hidden.has(c.key), data: { column: c.key },
        on: { change: (ev) => {
          chooserOpen = true;
          if (ev.target.checked) { state.hidden.delete(c.key); state.shown.add(c.key); } else { state.hidden.add(c.key); state.shown.delete(c.key); }
          route();
        } },
      }),
      " ", c.title)));
  const shown = columns.filter((c) => !state.hidden.has(c.key));

  const sortKey = state.sort.replace(/^-/, "");
  const desc = state.sort.startsWith("-");
  const head = el("tr", {},
    el("th", {}, el("input", {
      type: "checkbox", title: "select this page",
      on: { change: (ev) => { for (const r of pageRows) { if (ev.target.checked) state.selected.add(r.id); else state.selected.delete(r.id); } route(); } },
    })),
    shown.map((c) => {
      const key = c.sortKey === undefined ? c.key : c.sortKey;
      const th = el("th", { className: key ? "sortable" : "", data: { key: key || "" } }, c.title);
      if (key && key === sortKey) th.classList.add("sorted", ...(desc ? ["desc"] : []));
      if (key) th.addEventListener("click", () => { state.sort = key === sortKey && !desc ? `-${key}` : key; state.page = 0; route(); });
      return th;
    }));

  const pages = Math.max(1, Math.ceil(rows.length / state.pageSize));
  state.page = Math.min(state.page, pages - 1);
  const start = state.page * state.pageSize;
  const pageRows = rows.slice(start, start + state.pageSize);
  const body = el("tbody", {}, pageRows.map((r) => el("tr", { data: { id: r.id } },
    el("td", {}, el("input", {
      type: "checkbox", className: "select", checked: state.selected.has(r.id),
      on: { change: (ev) => { if (ev.target.checked) state.selected.add(r.id); else state.selected.delete(r.id); updateCompare(); } },
    })),
    shown.map((c) => {
      const v = c.cell(r);
      return el("td", { className: c.numeric && /^-?[\d.]+(e[-+]?\d+)?$/.test(v) ? "num" : "" }, v);
    }))));
  const compareButton = toolbar.querySelector("#compare");
  function updateCompare() {
    compareButton.disabled = state.selected.size < 2 || state.selected.size > 20;
    compareButton.textContent = `Compare selected (${state.selected.size})`;
  }

  const pager = el("div", { className: "pager" },
    el("button", { id: "prev", disabled: state.page === 0, on: { click: () => { state.page--; route(); } } }, "‹ prev"),
    el("span", { id: "row-count", data: { total: rows.length, start: rows.length ? start + 1 : 0, end: start + pageRows.length } },
      rows.length ? `rows ${start + 1}–${start + pageRows.length} of ${rows.length}` : "no experiments"),
    el("button", { id: "next", disabled: state.page >= pages - 1, on: { click: () => { state.page++; route(); } } }, "next ›"),
    el("label", {}, "per page ", el("select", { id: "page-size", on: { change: (ev) => { state.pageSize = Number(ev.target.value); state.page = 0; route(); } } },
      [50, 100, 500, 1000].map((n) => el("option", { value: n, selected: n === state.pageSize }, String(n))))));

  put(app, 
    el("h1", {}, REPORT ? "Experiments (report)" : "Experiments"),
    toolbar, errorBox,
    listing.warnings.length ? el("ul", { className: "error", id: "warnings" }, listing.warnings.map((w) => el("li", {}, w))) : null,
    chooser, pager,
    el("div", { className: "tablewrap" }, el("table", { id: "experiments" }, el("thead", {}, head), body)),
    REPORT && REPORT.compare && REPORT.compare.length >= 2 ? el("section", { id: "report-compare" }) : null,
  );
  if (REPORT && REPORT.compare && REPORT.compare.length >= 2) {
    await renderCompare(document.getElementById("report-compare"), REPORT.compare);
  }
  document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
}

// ---------- charts ----------

/** A line chart of `series` ({id, label, color, points: [[x, y]...]}), as SVG. */
function lineChart(title, series, { log = false, width = 440, height = 260, xLabel = "step" } = {}) {
  const m = { l: 56, r: 12, t: 24, b: 32 };
  const ty = (y) => (log ? (y > 0 ? Math.log10(y) : null) : y);
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => num(x) !== null && num(ty(y)) !== null);
  const root = svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, "data-metric": title, "data-series": series.length });
  root.append(svg("text", { x: m.l, y: 15, class: "title" }, title + (log ? " (log)" : "")));
  if (!pts.length) {
    root.append(svg("text", { x: m.l, y: height / 2 }, "no numeric values"));
  }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => ty(p[1]));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!pts.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const X = (x) => m.l + ((x - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (y) => height - m.b - ((y - y0) / (y1 - y0)) * (height - m.t - m.b);
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4, yy = Y(yv);
    root.append(svg("line", { x1: m.l, x2: width - m.r, y1: yy, y2: yy, class: "grid" }));
    root.append(svg("text", { x: m.l - 4, y: yy + 3, "text-anchor": "end" }, formatNumber(log ? 10 ** yv : yv)));
    const xv = x0 + ((x1 - x0) * i) / 4;
    root.append(svg("text", { x: X(xv), y: height - m.b + 14, "text-anchor": "middle" }, formatNumber(Math.round(xv * 100) / 100)));
  }
  root.append(svg("line", { x1: m.l, x2: m.l, y1: m.t, y2: height - m.b, class: "axis" }));
  root.append(svg("line", { x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b, class: "axis" }));
  root.append(svg("text", { x: width - m.r, y: height - 4, "text-anchor": "end" }, xLabel));
  for (const s of series) {
    const good = s.points.filter(([x, y]) => num(x) !== null && num(ty(y)) !== null);
    const d = good.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)},${Y(ty(y)).toFixed(1)}`).join("");
    const path = svg("path", { d: d || "M0,0", class: "series", stroke: s.color, "data-experiment": s.id, "data-points": good.length });
    path.append(svg("title", {}, s.label));
    root.append(path);
    // Dots (with their tooltips) only while they stay readable and cheap to draw.
    if (good.length > 200) continue;
    for (const [x, y] of good) {
      const dot = svg("circle", { cx: X(x).toFixed(1), cy: Y(ty(y)).toFixed(1), r: good.length > 60 ? 1.2 : 2.5, fill: s.color });
      dot.append(svg("title", {}, `${s.label}\n${xLabel} ${formatNumber(x)}: ${formatNumber(y)}`));
      root.append(dot);
    }
  }
  return root;
}

function smooth(points, alpha) {
  if (!alpha) return points;
  let last = null;
  return points.map(([x, y]) => {
    if (num(y) === null) return [x, y];
    last = last === null ? y : alpha * last + (1 - alpha) * y;
    return [x, last];
  });
}

/** Every metric name over the checkpoints of `details`, in first-seen order. */
function metricNames(details) {
  const names = [];
  for (const d of details) for (const c of d.checkpoints || []) for (const k of Object.keys(c.metrics || {})) if (!names.includes(k)) names.push(k);
  return names;
}

function seriesOf(d, metric, color, label) {
  const points = (d.checkpoints || []).map((c) => [c.step, (c.metrics || {})[metric]]).filter(([, y]) => num(y) !== null);
  points.sort((a, b) => a[0] - b[0]);
  return { id: d.id, label, color, points };
}

// ---------- experiment page ----------

async function experimentPage(id) {
  const d = await data.experiment(id);
  const k = d.keepsake || {};
  const render = (d) => {
    const fields = [
      ["ID", d.id], ["Created", d.created], ["Status", k.status],
      ["User", d.user], ["Host", d.host], ["Command", d.command], ["Path", d.path],
      ["Python version", d.python_version], ["Keepsake version", d.keepsake_version],
      ["Git baseline", k.git_commit ? `${k.git_commit}${k.git_dirty ? " (with uncommitted changes)" : ""}` : "(none)"],
      ["Storage", d.config ? d.config.repository || d.config.storage : ""],
      ["Code", k.files ? `${k.files.key} (${humanSize(k.files.size)})` : "(in git)"],
    ];
    const metrics = metricNames([d]);
    const best = k.best_checkpoint;
    const ckTable = el("table", { id: "checkpoints" },
      el("thead", {}, el("tr", {}, ["", "Step", "Checkpoint", "Created", ...metrics, "Path", "Files"].map((h) => el("th", {}, h)))),
      el("tbody", {}, (d.checkpoints || []).map((c) => el("tr", { className: c.id === best ? "best" : "", data: { id: c.id } },
        el("td", {}, c.id === best ? "★ best" : ""),
        el("td", { className: "num" }, String(c.step)),
        el("td", { className: "id" }, short(c.id)),
        el("td", {}, c.created),
        metrics.map((m) => el("td", { className: "num" }, show((c.metrics || {})[m]))),
        el("td", {}, c.path || ""),
        el("td", {}, c.files ? `${humanSize(c.files.size)} (${c.files.key})` : "")))));
    const charts = el("div", { className: "charts", id: "charts" },
      metrics.map((m) => lineChart(m, [seriesOf(d, m, PALETTE[0], short(d.id))])));
    return [fields, ckTable, charts];
  };
  const [fields, ckTable, charts] = render(d);
  const diffBox = el("pre", { className: "diff", id: "diff" }, "…");
  const against = el("input", { type: "text", placeholder: "baseline, or another experiment's ID", id: "diff-against" });
  const loadDiff = async () => {
    try {
      const r = await data.diff(d.id, against.value.trim());
      diffLines(diffBox, r.diff === null ? "(the baseline commit is not in this clone)" : r.diff || "(no difference)");
    } catch (e) { diffBox.textContent = e.message; }
  };
  against.addEventListener("keydown", (ev) => { if (ev.key === "Enter") loadDiff(); });
  put(app, 
    el("h1", {}, "Experiment ", el("span", { className: "id" }, d.id)),
    el("dl", { className: "fields", id: "fields" }, fields.flatMap(([a, b]) => [el("dt", {}, a), el("dd", {}, b || "")])),
    el("h2", {}, "Params"),
    el("table", { id: "params" }, el("tbody", {}, Object.entries(d.params || {}).map(([p, v]) => el("tr", {}, el("th", {}, p), el("td", {}, show(v)))))),
    el("h2", {}, "Checkpoints"), ckTable,
    el("h2", {}, "Metrics"), charts,
    REPORT ? null : el("h2", {}, "Code diff"),
    REPORT ? null : el("div", { className: "toolbar" }, "against ", against, el("button", { on: { click: loadDiff } }, "Diff")),
    REPORT ? null : diffBox,
    el("h2", {}, "Commands"),
    el("div", { className: "commands" }, (k.commands || []).map((c) => [el("div", { className: "muted" }, c.what), el("pre", {}, c.command)])),
    el("details", {}, el("summary", {}, "Python packages"),
      el("table", {}, el("tbody", {}, Object.entries(d.python_packages || {}).map(([p, v]) => el("tr", {}, el("td", {}, p), el("td", {}, v)))))),
  );
  if (!REPORT) loadDiff();
  // A running experiment's page follows its checkpoints as they land.
  if (k.running && !REPORT) {
    const poll = async () => {
      if (!location.hash.startsWith("#/e/")) return;
      try {
        const fresh = await data.experiment(d.id);
        const [, t, c] = render(fresh);
        document.getElementById("checkpoints").replaceWith(t);
        document.getElementById("charts").replaceWith(c);
        if (!(fresh.keepsake || {}).running) return;
      } catch { /* try again */ }
      pollTimer = setTimeout(poll, 3000);
    };
    pollTimer = setTimeout(poll, 3000);
  }
}

function diffLines(pre, text) {
  pre.replaceChildren(...text.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del"
      : line.startsWith("@@") ? "hunk" : "";
    return el("span", { className: cls }, line + "\n");
  }));
}

// ---------- compare page ----------

async function comparePage(ids) {
  const root = el("section", {});
  put(app, el("h1", {}, `Compare ${ids.length} experiments`), root);
  await renderCompare(root, ids);
}

async function renderCompare(root, ids) {
  if (ids.length < 2 || ids.length > 20) throw new ApiError(`compare takes 2 to 20 experiments, not ${ids.length}`);
  const details = await Promise.all(ids.map((id) => data.experiment(id)));
  const diffKeys = differingParams(details.map((d) => d.params), false);
  const label = (d) => diffKeys.length ? diffKeys.map((k) => `${k}=${show(d.params[k])}`).join(", ") : short(d.id);
  const colors = new Map(details.map((d, i) => [d.id, PALETTE[i % PALETTE.length]]));
  const metrics = metricNames(details);
  const opts = { log: false, smoothing: 0, onlyDiff: true };

  const legend = el("div", { className: "legend", id: "legend" }, details.map((d) => {
    const sw = el("span", { className: "swatch" });
    sw.style.background = colors.get(d.id);
    return el("span", { data: { id: d.id } }, sw, el("a", { href: `#/e/${d.id}`, className: "id" }, short(d.id)), " ", label(d));
  }));
  const charts = el("div", { className: "charts", id: "compare-charts" });
  const drawCharts = () => charts.replaceChildren(...metrics.map((m) => lineChart(m,
    details.map((d) => {
      const s = seriesOf(d, m, colors.get(d.id), label(d));
      s.points = smooth(s.points, opts.smoothing);
      return s;
    }), { log: opts.log })));
  drawCharts();
  const controls = el("div", { className: "toolbar" },
    el("label", {}, el("input", { type: "checkbox", id: "log-scale", on: { change: (ev) => { opts.log = ev.target.checked; drawCharts(); } } }), " log scale"),
    el("label", {}, "smoothing ", el("input", { type: "range", id: "smoothing", min: 0, max: 0.95, step: 0.05, value: 0, on: { input: (ev) => { opts.smoothing = Number(ev.target.value); drawCharts(); } } })));

  // Params and metrics side by side.
  const table = el("table", { id: "compare-table" });
  const drawTable = () => {
    const keys = differingParams(details.map((d) => d.params), !opts.onlyDiff);
    const bestOf = (d) => (d.checkpoints || []).find((c) => c.id === (d.keepsake || {}).best_checkpoint) || (d.checkpoints || []).slice(-1)[0];
    const mKeys = metrics.filter((m) => {
      const vs = details.map((d) => JSON.stringify(((bestOf(d) || {}).metrics || {})[m]));
      return !opts.onlyDiff || vs.some((v) => v !== vs[0]);
    });
    table.replaceChildren(
      el("thead", {}, el("tr", {}, el("th", {}, ""), details.map((d) => {
        const th = el("th", { className: "id" }, short(d.id));
        th.style.borderTop = `3px solid ${colors.get(d.id)}`;
        return th;
      }))),
      el("tbody", {},
        keys.map((k) => el("tr", { data: { param: k } }, el("th", {}, k), details.map((d) => el("td", {}, show(dig(d.params, k)))))),
        mKeys.map((m) => el("tr", { data: { metric: m } }, el("th", {}, `best ${m}`), details.map((d) => el("td", { className: "num" }, show(((bestOf(d) || {}).metrics || {})[m])))))));
  };
  drawTable();

  // Parallel coordinates: differing numeric params, then the primary metric.
  const primary = ((details.flatMap((d) => d.checkpoints || []).find((c) => c.primary_metric) || {}).primary_metric || {}).name || metrics[0];
  const bestValue = (d) => {
    const c = (d.checkpoints || []).find((c) => c.id === (d.keepsake || {}).best_checkpoint) || (d.checkpoints || []).slice(-1)[0];
    return c ? (c.metrics || {})[primary] : undefined;
  };
  const parallel = parallelPlot(details, diffKeys, primary, bestValue, colors, label);

  // Scatter: any param against any metric.
  const allParams = differingParams(details.map((d) => d.params), true);
  const xSel = el("select", { id: "scatter-x" }, allParams.map((k) => el("option", { value: k, selected: k === diffKeys[0] }, k)));
  const ySel = el("select", { id: "scatter-y" }, metrics.map((m) => el("option", { value: m, selected: m === primary }, m)));
  const scatterBox = el("div", { id: "scatter" });
  const drawScatter = () => {
    const x = xSel.value, y = ySel.value;
    const pts = details.map((d) => {
      const c = (d.checkpoints || []).find((c) => c.id === (d.keepsake || {}).best_checkpoint) || (d.checkpoints || []).slice(-1)[0];
      return { id: d.id, label: label(d), color: colors.get(d.id), points: [[categorical(details, x, d), c ? (c.metrics || {})[y] : null]] };
    });
    scatterBox.replaceChildren(lineChart(`${y} vs ${x}`, pts, { xLabel: x }));
  };
  xSel.addEventListener("change", drawScatter);
  ySel.addEventListener("change", drawScatter);
  drawScatter();

  put(root,
    legend, controls,
    el("h2", {}, "Metrics over step"), charts,
    el("h2", {}, "Params and metrics"),
    el("label", {}, el("input", { type: "checkbox", id: "only-diff", checked: true, on: { change: (ev) => { opts.onlyDiff = ev.target.checked; drawTable(); } } }), " only differences"),
    table,
    el("h2", {}, `Params → ${primary || "metric"}`), parallel,
    el("h2", {}, "Scatter"), el("div", { className: "toolbar" }, "x ", xSel, " y ", ySel), scatterBox,
  );
}

/** A param's value as a number: itself, or its index among the values seen (for strings). */
function categorical(details, key, d) {
  const v = dig(d.params, key);
  if (num(v) !== null) return v;
  const seen = [...new Set(details.map((e) => JSON.stringify(dig(e.params, key))))].sort();
  return seen.indexOf(JSON.stringify(v));
}

function parallelPlot(details, keys, primary, bestValue, colors, label) {
  const axes = [...keys.map((k) => ({ name: k, value: (d) => categorical(details, k, d) })),
    ...(primary ? [{ name: primary, value: bestValue }] : [])];
  const width = Math.max(320, 140 * axes.length), height = 260, m = { t: 30, b: 30, l: 50, r: 50 };
  const root = svg("svg", { class: "chart", id: "parallel", width, height, "data-axes": axes.length });
  if (axes.length < 2) {
    root.append(svg("text", { x: 10, y: 40 }, "needs a param that differs and a metric"));
    return root;
  }
  const X = (i) => m.l + (i * (width - m.l - m.r)) / (axes.length - 1);
  const ranges = axes.map((a) => {
    const vs = details.map(a.value).filter((v) => num(v) !== null);
    let lo = Math.min(...vs), hi = Math.max(...vs);
    if (!vs.length) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 1; hi += 1; }
    return [lo, hi];
  });
  const Y = (i, v) => height - m.b - ((v - ranges[i][0]) / (ranges[i][1] - ranges[i][0])) * (height - m.t - m.b);
  axes.forEach((a, i) => {
    root.append(svg("line", { x1: X(i), x2: X(i), y1: m.t, y2: height - m.b, class: "axis" }));
    root.append(svg("text", { x: X(i), y: m.t - 10, "text-anchor": "middle", class: "title" }, a.name));
    root.append(svg("text", { x: X(i) + 4, y: m.t + 4 }, formatNumber(ranges[i][1])));
    root.append(svg("text", { x: X(i) + 4, y: height - m.b + 14 }, formatNumber(ranges[i][0])));
  });
  for (const d of details) {
    const vs = axes.map((a) => a.value(d));
    const pts = vs.map((v, i) => (num(v) === null ? null : `${X(i).toFixed(1)},${Y(i, v).toFixed(1)}`));
    if (pts.some((p) => p === null)) continue;
    const line = svg("polyline", { points: pts.join(" "), class: "series", stroke: colors.get(d.id), "data-experiment": d.id });
    line.append(svg("title", {}, label(d)));
    root.append(line);
  }
  return root;
}

window.addEventListener("hashchange", route);
route();

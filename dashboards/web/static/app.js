"use strict";
// The page: one fetch of the view, then server-sent events; everything drawn as SVG/HTML here.
const T = {
  zh: {title: "一屏统览", posture: "安全态势", trend: "趋势", open_warnings: "未关闭预警",
    ipv6: "IPv6 部署率（按区县）", extranet: "电子政务外网（市—区县—乡镇—村）", warnings: "预警",
    level: "级别", status: "状态", rule: "规则", summary: "摘要", where: "位置", seen: "次数",
    tenants: "租户态势", audit: "审计日志", users: "用户管理", user: "用户名", password: "密码",
    save: "保存", logout: "退出", cancel: "取消", confirm: "确认", comment: "处置说明（必填）",
    acknowledge: "确认", resolve: "解除", live: "实时连接", other: "English",
    red: "红色", orange: "橙色", yellow: "黄色", blue: "蓝色",
    open: "未处理", acknowledged: "已确认", resolved: "已解除",
    normal: "正常", failover: "已切换备用", isolated: "中断", flapping: "抖动", degraded: "降级", unknown: "未知",
    compliance: "合规", links: "链路", dr: "灾备", score: "得分", villages: "村",
    owed: "承诺带宽", used: "实际占用", primary: "主用", backup: "备用", none: "无",
    intact: "审计链完整", broken: "审计链被破坏！", deductions: "扣分项", no_deductions: "未发现问题",
    county: "区县", townships: "乡镇", nodata: "暂无数据", updated: "更新于"},
  en: {title: "City at a glance", posture: "Security posture", trend: "Trend", open_warnings: "Open warnings",
    ipv6: "IPv6 adoption by county", extranet: "E-government extranet (city–county–township–village)",
    warnings: "Warnings", level: "Level", status: "Status", rule: "Rule", summary: "Summary", where: "Where",
    seen: "Seen", tenants: "Tenant posture", audit: "Audit trail", users: "Users", user: "User",
    password: "Password", save: "Save", logout: "Log out", cancel: "Cancel", confirm: "Confirm",
    comment: "Comment (required)", acknowledge: "Acknowledge", resolve: "Resolve", live: "Live",
    other: "中文", red: "Red", orange: "Orange", yellow: "Yellow", blue: "Blue",
    open: "open", acknowledged: "acknowledged", resolved: "resolved",
    normal: "normal", failover: "failover", isolated: "isolated", flapping: "flapping", degraded: "degraded",
    unknown: "unknown", compliance: "compliance", links: "links", dr: "DR", score: "score", villages: "villages",
    owed: "owed", used: "used", primary: "primary", backup: "backup", none: "none",
    intact: "audit chain intact", broken: "audit chain BROKEN", deductions: "Deductions",
    no_deductions: "nothing known is wrong", county: "County", townships: "Townships", nodata: "no data yet",
    updated: "updated"},
};
const LEVELS = ["red", "orange", "yellow", "blue"];
const STATES = ["normal", "failover", "flapping", "degraded", "isolated", "unknown"];
const SVG = "http://www.w3.org/2000/svg";
let lang = localStorage.getItem("yw-lang") || "zh";
let me = null, view = null;
const t = k => (T[lang][k] ?? k);
const $ = id => document.getElementById(id);

function el(tag, attrs = {}, ...kids) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k === "style") e.style.cssText = v;  // CSSOM: the CSP forbids style attributes
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const k of kids) if (k) e.append(k);
  return e;
}
function clear(e) { while (e.firstChild) e.firstChild.remove(); return e; }
function bps(v) {
  if (v === null || v === undefined) return "—";
  for (const [u, d] of [["G", 1e9], ["M", 1e6], ["k", 1e3]]) if (v >= d) return (v / d).toFixed(1) + u;
  return v.toFixed(0);
}
function scoreClass(s) { return s >= 90 ? "good" : s >= 70 ? "warn" : "bad"; }

async function api(path, body) {
  const opts = body === undefined ? {credentials: "same-origin"} : {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf}, body: JSON.stringify(body)};
  const r = await fetch(path, opts);
  if (r.status === 401) { location.href = "/login"; throw new Error("login required"); }
  const doc = await r.json();
  if (!r.ok) throw new Error(doc.error || r.statusText);
  return doc;
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach(e => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach(e => { e.placeholder = t(e.dataset.i18nPlaceholder); });
  $("lang").textContent = t("other");
  $("live").title = t("live");
  if (view) render(view);
}

// --- drawing -------------------------------------------------------------------
function drawGauge(score) {
  const g = clear($("gauge")), r = 50, c = 2 * Math.PI * r, cls = scoreClass(score);
  g.append(el("svg:circle", {cx: 60, cy: 60, r, class: "ring-bg"}));
  g.append(el("svg:circle", {cx: 60, cy: 60, r, class: "ring " + cls,
    "stroke-dasharray": `${c * score / 100} ${c}`, transform: "rotate(-90 60 60)"}));
  g.append(el("svg:text", {x: 60, y: 66, class: "gauge-text " + cls, id: "city-score", text: score.toFixed(1)}));
}
function drawComponents(comp) {
  const box = clear($("components"));
  for (const [k, v] of Object.entries(comp)) {
    box.append(el("div", {class: "bar-row"}, el("span", {text: t(k)}),
      el("span", {class: "bar"}, el("span", {class: "fill " + (v === null ? "" : scoreClass(v)), style: `width:${v ?? 0}%`})),
      el("span", {class: "num", text: v === null ? "—" : v.toFixed(0)})));
  }
}
function drawTrend(points) {
  const g = clear($("trend"));
  if (points.length < 2) { g.append(el("svg:text", {x: 4, y: 34, class: "muted", text: t("nodata")})); return; }
  const t0 = points[0][0], t1 = points[points.length - 1][0] || t0 + 1;
  const xy = points.map(([ts, s]) => `${(300 * (ts - t0) / Math.max(1, t1 - t0)).toFixed(1)},${(58 - 56 * s / 100).toFixed(1)}`);
  g.append(el("svg:polyline", {points: `0,58 ${xy.join(" ")} 300,58`, class: "trend-area"}));
  g.append(el("svg:polyline", {points: xy.join(" "), class: "trend-line"}));
}
function drawLevels(levels) {
  const box = clear($("levels"));
  for (const l of LEVELS) box.append(el("div", {class: `tile lvl-${l}`, id: `level-${l}`},
    el("b", {text: levels[l]}), el("span", {text: t(l)})));
}
function drawIpv6(counties) {
  const box = clear($("ipv6"));
  for (const c of counties) {
    const v = c.ipv6 === null ? null : c.ipv6 * 100;
    box.append(el("div", {class: "bar-row"}, el("span", {text: c.name}),
      el("span", {class: "bar"}, el("span", {class: "fill v6", style: `width:${v ?? 0}%`})),
      el("span", {class: "num", text: v === null ? "—" : v.toFixed(0) + "%"})));
  }
}
function drawLegend() {
  const box = clear($("legend"));
  for (const s of STATES) box.append(el("span", {}, el("i", {class: `st-${s}`}), document.createTextNode(t(s))));
}
function drawMap(v) {
  // The city on top; one column per county; its townships below it, each with
  // a strip showing its villages by link state (villages are drilled into).
  const svg = clear($("map")), cols = v.counties.length || 1;
  const colW = 190, rowH = 26, top = 70;
  const maxT = Math.max(1, ...v.counties.map(c => c.townships.length));
  const W = cols * colW, H = top + 62 + maxT * rowH + 10;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.style.height = `${Math.min(H, 900)}px`;
  const cx = W / 2;
  svg.append(el("svg:rect", {x: cx - 70, y: 4, width: 140, height: 28, rx: 6, class: "node city"}));
  svg.append(el("svg:text", {x: cx, y: 23, class: "label center", text: v.city.name}));
  v.counties.forEach((c, i) => {
    const x = i * colW + 8, mid = x + (colW - 16) / 2;
    svg.append(el("svg:path", {d: `M${cx},32 C${cx},52 ${mid},44 ${mid},${top}`, class: `wire st-${c.state}`}));
    const g = el("svg:g", {class: "county", "data-county": c.id, tabindex: 0,
      on: {click: () => openCounty(c.id)}});
    g.append(el("svg:rect", {x, y: top, width: colW - 16, height: 50, rx: 6, class: `node st-${c.state}`}));
    g.append(el("svg:text", {x: x + 8, y: top + 18, class: "label", text: `${c.name}  ${c.score.toFixed(0)}`}));
    g.append(el("svg:text", {x: x + 8, y: top + 34, class: "small", text: `${t(c.state)} · ${bps(Math.max(c.primary_bps ?? 0, c.backup_bps ?? 0))} / ${bps(c.owed_bps)}`}));
    const used = c.owed_bps ? Math.min(1, Math.max(c.primary_bps ?? 0, c.backup_bps ?? 0) / c.owed_bps) : 0;
    g.append(el("svg:rect", {x: x + 8, y: top + 40, width: colW - 32, height: 4, class: "gauge-bg"}));
    g.append(el("svg:rect", {x: x + 8, y: top + 40, width: (colW - 32) * used, height: 4, class: "gauge-fill"}));
    g.append(el("svg:title", {text: `${c.name}: ${t(c.state)}; ${t("used")} ${bps(c.primary_bps)} (${t("primary")}) ${bps(c.backup_bps)} (${t("backup")}) / ${t("owed")} ${bps(c.owed_bps)}; ${c.warnings} ${t("warnings")}`}));
    svg.append(g);
    c.townships.forEach((tw, j) => {
      const y = top + 62 + j * rowH;
      const tg = el("svg:g", {class: "township", "data-township": tw.id, on: {click: () => openCounty(c.id)}});
      tg.append(el("svg:rect", {x: x + 4, y, width: colW - 24, height: rowH - 4, rx: 4, class: `node twp st-${tw.state}`}));
      tg.append(el("svg:text", {x: x + 10, y: y + 15, class: "small", text: tw.name.slice(0, 8)}));
      const total = Object.values(tw.villages).reduce((a, b) => a + b, 0);
      let vx = x + 96;
      for (const s of STATES) {
        const n = tw.villages[s] || 0;
        if (!n) continue;
        const w = 66 * n / total;
        tg.append(el("svg:rect", {x: vx, y: y + 6, width: w, height: 10, class: `strip st-${s}`}));
        vx += w;
      }
      tg.append(el("svg:title", {text: `${tw.name}: ${t(tw.state)}; ${total} ${t("villages")}: ` +
        STATES.filter(s => tw.villages[s]).map(s => `${t(s)} ${tw.villages[s]}`).join(", ")}));
      svg.append(tg);
    });
  });
}
function whereOf(ctx) {
  return ["county", "township", "tenant", "zone", "device"].filter(k => ctx[k]).map(k => ctx[k]).join(" / ");
}
function drawWarnings(ws) {
  const body = clear($("warnings").tBodies[0]);
  for (const w of ws) {
    const actions = el("td", {class: "actions"});
    if (me.role === "operator") {
      if (w.status === "open") actions.append(el("button", {class: "ack", "data-ack": w.id, text: t("acknowledge"),
        on: {click: ev => { ev.stopPropagation(); act(w, "acknowledge"); }}}));
      actions.append(el("button", {class: "resolve", "data-resolve": w.id, text: t("resolve"),
        on: {click: ev => { ev.stopPropagation(); act(w, "resolve"); }}}));
    }
    body.append(el("tr", {id: `w-${w.id}`, "data-status": w.status, class: `lvl-row-${w.level}`,
      on: {click: () => openWarning(w.id)}},
      el("td", {}, el("span", {class: `badge lvl-${w.level}`, text: t(w.level)})),
      el("td", {class: "status", text: t(w.status) + (w.ack_by ? ` (${w.ack_by})` : "")}),
      el("td", {text: w.rule}), el("td", {text: w.summary}), el("td", {text: whereOf(w.context)}),
      el("td", {class: "num", text: w.count}), actions));
  }
}
function drawTenants(ts) {
  const box = clear($("tenants"));
  for (const x of ts) box.append(el("button", {class: `chip ${scoreClass(x.score)}`, "data-tenant": x.code,
    text: `${x.name} ${x.score.toFixed(0)}`, on: {click: () => openExplain("tenant", x.code, x.name)}}));
}
function render(v) {
  view = v;
  $("city-name").textContent = v.city.name;
  $("updated").textContent = `${t("updated")} ${new Date(v.generated).toLocaleTimeString()}`;
  drawGauge(v.city.score); drawComponents(v.city.components); drawTrend(v.trend);
  drawLevels(v.levels); drawIpv6(v.counties); drawLegend(); drawMap(v);
  drawWarnings(v.warnings); drawTenants(v.tenants);
}

// --- drill-downs -----------------------------------------------------------------
function drawer(...kids) { const b = clear($("drawer-body")); kids.forEach(k => b.append(k)); $("drawer").hidden = false; }
function explainBlock(x) {
  const list = el("table", {class: "deductions"});
  for (const d of x.deductions) list.append(el("tr", {}, el("td", {class: "num", text: `-${d.points}`}),
    el("td", {text: t(d.component)}), el("td", {text: d.subject}), el("td", {class: "muted", text: d.reason})));
  return el("div", {}, el("h3", {text: `${t("score")} ${x.score}`}),
    el("h4", {text: x.deductions.length ? t("deductions") : t("no_deductions")}), list);
}
async function openExplain(kind, name, label) {
  const x = await api(`/api/explain/${kind}/${encodeURIComponent(name)}`);
  drawer(el("h2", {text: label || name}), explainBlock(x));
}
async function openCounty(id) {
  const d = await api(`/api/county/${encodeURIComponent(id)}`);
  const c = view.counties.find(c => c.id === id);
  const grid = el("div", {class: "villages"});
  for (const tw of d.townships) {
    grid.append(el("h4", {text: `${tw.name} (${tw.villages.length} ${t("villages")})`}));
    const row = el("div", {class: "village-row"});
    for (const v of tw.villages) row.append(el("span", {class: `dot st-${v.state}`, title: `${v.name}: ${t(v.state)}`}));
    grid.append(row);
  }
  drawer(el("h2", {id: "drawer-title", text: `${c ? c.name : id}`}), explainBlock(d.posture), grid);
}
async function openWarning(id) {
  const w = await api(`/api/warnings/${encodeURIComponent(id)}`);
  const ctx = el("table", {});
  for (const [k, v] of Object.entries(w.context)) ctx.append(el("tr", {}, el("td", {text: k}), el("td", {text: v})));
  drawer(el("h2", {}, el("span", {class: `badge lvl-${w.level}`, text: t(w.level)}), document.createTextNode(` ${w.name}`)),
    el("p", {text: w.summary}), el("p", {class: "muted", text: w.description}),
    el("p", {text: `${t(w.status)}${w.ack_by ? ` — ${w.ack_by}: ${w.ack_comment}` : ""}`}), ctx,
    w.context.county ? el("button", {text: t("county"), on: {click: () => openCounty(w.context.county)}}) : null);
}
function act(w, verb) {
  $("act-title").textContent = `${t(verb)} ${w.id}`;
  $("act-summary").textContent = w.summary;
  $("act-comment").value = ""; $("act-error").textContent = "";
  const dlg = $("act-dialog");
  dlg.onclose = async () => {
    if (dlg.returnValue !== "ok") return;
    try { await api(`/api/warnings/${encodeURIComponent(w.id)}/${verb}`, {comment: $("act-comment").value}); }
    catch (e) { alert(e.message); }
  };
  dlg.showModal();
}

// --- the other roles ----------------------------------------------------------------
async function loadAudit() {
  const a = await api("/api/audit");
  $("audit-intact").textContent = a.intact ? t("intact") : t("broken");
  $("audit-intact").className = a.intact ? "good" : "error";
  const body = clear($("audit").tBodies[0]);
  for (const r of a.records) body.append(el("tr", {class: r.outcome},
    el("td", {text: r.time.slice(0, 19)}), el("td", {text: r.actor}), el("td", {text: r.action}),
    el("td", {text: r.target}), el("td", {text: r.outcome})));
}
async function loadUsers() {
  const us = await api("/api/users");
  const body = clear($("users").tBodies[0]);
  for (const u of us) body.append(el("tr", {}, el("td", {text: u.name}), el("td", {text: u.role}),
    el("td", {}, el("button", {text: "×", on: {click: async () => { await api(`/api/users/${encodeURIComponent(u.name)}/delete`, {}); loadUsers(); }}}))));
}

// --- start -------------------------------------------------------------------------
async function start() {
  me = await api("/api/me");
  $("me").textContent = `${me.user} (${me.role})`;
  document.body.dataset.role = me.role;
  $("lang").addEventListener("click", ev => { ev.preventDefault(); lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("yw-lang", lang); applyLang(); });
  $("logout").addEventListener("click", async () => { await api("/api/logout", {}); location.href = "/login"; });
  $("drawer-close").addEventListener("click", () => { $("drawer").hidden = true; });
  $("act-dialog").addEventListener("cancel", () => {});
  if (me.role === "auditor") { $("audit-card").hidden = false; loadAudit(); setInterval(loadAudit, 10000); }
  if (me.role === "admin") {
    $("users-card").hidden = false; loadUsers();
    $("user-form").addEventListener("submit", async ev => {
      ev.preventDefault();
      try { await api("/api/users", {name: $("new-name").value, role: $("new-role").value, password: $("new-password").value});
        $("user-error").textContent = ""; loadUsers(); }
      catch (e) { $("user-error").textContent = e.message; }
    });
  }
  applyLang();
  render(await api("/api/view"));
  window.ywFirstRender = performance.now();  // page-load figure for bench/web_view.py
  const es = new EventSource("/api/stream");
  es.addEventListener("open", () => { $("live").className = "live on"; });
  es.addEventListener("error", () => { $("live").className = "live off"; });
  es.addEventListener("view", ev => {
    const v = JSON.parse(ev.data);
    render(v);
    window.ywLastUpdate = {at: Date.now(), version: ev.lastEventId};  // update-latency figure
  });
  es.addEventListener("expired", () => { es.close(); location.href = "/login"; });
}
start();

// The page at `/`: sends a pasted document to /v1/classify-document or a file to /v1/classify-file, shows the
// rows with their evidence, and builds CSV/JSONL downloads from the response. Plain DOM, no libraries.
"use strict";

const KEY_STORE = "policy-tagger-api-key";
const WEAK_SHARE = 0.25; // clauses under this share of a label's strongest are underlined, not filled: less noise
const state = { labels: [], names: {}, rows: [], doc: "", model: "" };
const $ = (id) => document.getElementById(id);

class ApiProblem extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "className") node.className = value; else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function englishName(id) { return id.replace(/_/g, " "); }

function labelTitle(id) {
  const label = state.names[id];
  return label ? `${label.name_zh} · ${englishName(id)}` : id;
}

function authHeaders() {
  const key = $("api-key").value.trim();
  if (/[^\x21-\x7e]/.test(key)) throw new ApiProblem(0, "An API key holds only ASCII letters, digits and signs.");
  return key ? { "X-API-Key": key } : {};
}

function describe(detail) {
  if (Array.isArray(detail)) return detail.map((p) => (p.where ? `${p.where}: ${p.problem}` : p.problem)).join("; ");
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

const STATUS_TEXT = {
  401: "This server needs a valid API key: enter it in the key field above. 需要有效的访问密钥。",
  413: "Too large for this server 超出服务限制",
  415: "This file type cannot be read 不支持的文件类型",
  422: "The server could not use this input 输入无法处理",
  503: "The server is busy or its model is unavailable; try again in a moment 服务繁忙",
};

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (error) {
    throw new ApiProblem(0, `Could not reach the server (${error.message}). 无法连接服务。`);
  }
  if (response.ok) return response.json();
  let detail = response.statusText;
  try { detail = describe((await response.json()).detail); } catch (_) { /* not our JSON error shape */ }
  if (response.status === 401) showKeyField();
  const what = STATUS_TEXT[response.status] || `HTTP ${response.status}`;
  throw new ApiProblem(response.status, response.status === 401 ? what : `${what}: ${detail}`);
}

function showKeyField() {
  $("key-row").hidden = false;
  $("api-key").focus();
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function loadLabels() {
  const data = await api("/v1/labels");
  state.labels = data.labels.map((l) => l.id);
  state.names = Object.fromEntries(data.labels.map((l) => [l.id, l]));
  state.model = data.model;
  $("model").textContent = `model ${data.model}`;
}

function request() {
  const file = $("file").files[0];
  const evidence = "true";
  if (file) {
    const form = new FormData();
    form.append("file", file);
    form.append("evidence", evidence);
    return { path: "/v1/classify-file", doc: file.name, options: { method: "POST", body: form } };
  }
  const text = $("text").value;
  if (!text.trim()) return null;
  return { path: "/v1/classify-document", doc: "document",
           options: { method: "POST", headers: { "Content-Type": "application/json" },
                      body: JSON.stringify({ text, id: "document", evidence: true }) } };
}

async function tag() {
  const asked = request();
  if (!asked) { showError("Paste a document or choose a file first. 请先粘贴文档或选择文件。"); return; }
  showError("");
  $("tag").disabled = true;
  $("status").textContent = "Tagging… 标注中";
  const started = performance.now();
  try {
    if (!state.labels.length) await loadLabels();
    const data = await api(asked.path, asked.options);
    state.rows = data.results;
    state.doc = asked.doc;
    render(data);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    $("status").textContent = `${data.results.length} paragraphs tagged in ${seconds} s`;
  } catch (error) {
    $("status").textContent = "";
    showError(error.message);
  } finally {
    $("tag").disabled = false;
  }
}

function render(data) {
  renderSummary(data.summary, data.results);
  renderParagraphs(data.results);
  $("results").hidden = false;
}

function renderSummary(summary, rows) {
  const first = rows[0] || {};
  const facts = [state.doc, `${summary.paragraphs} paragraphs 段`];
  if (first.region) facts.push(first.region);
  if (first.year) facts.push(`${first.year}年`);
  $("doc-info").textContent = facts.join(" · ");
  const body = $("summary").tBodies[0];
  body.replaceChildren();
  for (const id of state.labels) {
    const count = summary.label_counts[id] || 0;
    const share = summary.paragraphs ? count / summary.paragraphs : 0;
    const bar = el("span", { className: `bar l-${id}` });
    bar.style.width = `${Math.round(share * 100)}%`;
    body.append(el("tr", { className: count ? "found" : "none" },
      el("td", {}, el("span", { className: `chip l-${id}` }, state.names[id].name_zh), ` ${englishName(id)}`),
      el("td", { className: "num" }, String(count)),
      el("td", { className: "share" }, el("span", { className: "track" }, bar), ` ${Math.round(share * 100)}%`)));
  }
}

function renderParagraphs(rows) {
  const body = $("paragraphs").tBodies[0];
  body.replaceChildren();
  let section;
  rows.forEach((row, i) => {
    if (row.section && row.section !== section) {
      body.append(el("tr", { className: "section" }, el("th", { colspan: "4" }, row.section)));
    }
    section = row.section;
    body.append(el("tr", { className: "paragraph" },
      el("td", { className: "num" }, String(row.paragraph ?? i)),
      el("td", { className: "text" }, ...highlighted(row.text, row.evidence || {})),
      el("td", { className: "labels" }, ...labelChips(row.labels)),
      el("td", { className: "scores" }, scoreList(row))));
  });
}

function labelChips(labels) {
  if (!labels.length) return [el("span", { className: "no-label" }, "—")];
  return labels.map((id) => el("span", { className: `chip l-${id}`, title: state.names[id]?.definition || id },
    state.names[id]?.name_zh || id, el("small", {}, englishName(id))));
}

function scoreList(row) {
  const list = el("ul", {});
  const ordered = Object.entries(row.scores).sort((a, b) => b[1] - a[1]);
  for (const [id, score] of ordered) {
    list.append(el("li", { className: row.labels.includes(id) ? "on" : "", title: labelTitle(id) },
      `${englishName(id)} ${score.toFixed(2)}`));
  }
  return list;
}

// Evidence offsets count Unicode code points (Python), so the text is cut by code points, not UTF-16 units.
function highlighted(text, evidence) {
  const chars = Array.from(text);
  const cover = chars.map(() => []);
  for (const [label, clauses] of Object.entries(evidence)) {
    const top = Math.max(...clauses.map((c) => c.weight));
    for (const clause of clauses) {
      const entry = { label, weight: clause.weight, start: clause.start, weak: clause.weight < WEAK_SHARE * top };
      for (let i = clause.start; i < clause.end && i < chars.length; i++) cover[i].push(entry);
    }
  }
  const parts = [];
  let start = 0;
  for (let i = 1; i <= chars.length; i++) {
    if (i < chars.length && sameCover(cover[i], cover[start])) continue;
    parts.push(segment(chars.slice(start, i).join(""), cover[start]));
    start = i;
  }
  return parts;
}

// One mark per clause: two neighbouring clauses of the same label stay apart, each with its own weight.
function sameCover(a, b) {
  return a.length === b.length && a.every((entry, k) => entry === b[k]);
}

function segment(text, cover) {
  if (!cover.length) return document.createTextNode(text);
  const title = cover.map((e) => `${labelTitle(e.label)} (${e.weight.toFixed(2)})`).join("; ");
  const strong = cover.find((e) => !e.weak);
  const className = strong ? `l-${strong.label}` : `l-${cover[0].label} weak`;
  return el("mark", { className, title, "data-labels": cover.map((e) => e.label).join(" ") }, text);
}

const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]; // as the CLI's CSV writer: shown as text, not run

function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = typeof value === "object" ? JSON.stringify(value) : String(value);
  if (typeof value === "string" && FORMULA_STARTS.some((s) => text.startsWith(s))) text = "'" + text;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function flatRow(row) {
  const flat = {};
  for (const [name, value] of Object.entries(row)) {
    if (name === "scores") continue;
    flat[name] = name === "labels" ? value.join(";") : value;
  }
  for (const id of state.labels) flat[`score_${id}`] = row.scores[id];
  return flat;
}

function csvText(rows) {
  const flats = rows.map(flatRow);
  const columns = [...new Set(flats.flatMap((f) => Object.keys(f)))];
  const lines = [columns.map(csvCell).join(","), ...flats.map((f) => columns.map((c) => csvCell(f[c])).join(","))];
  return "\ufeff" + lines.join("\r\n") + "\r\n"; // the BOM makes Excel read the Chinese text as UTF-8
}

function jsonlText(rows) {
  return rows.map((row) => JSON.stringify(row)).join("\n") + "\n";
}

function download(content, type, suffix) {
  const blob = new Blob([content], { type });
  const url = URL.createObjectURL(blob);
  const base = (state.doc || "document").replace(/\.[^.]*$/, "");
  const link = el("a", { href: url, download: `${base}.tagged.${suffix}` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function chooseFile() {
  const file = $("file").files[0];
  $("clear-file").hidden = !file;
  $("text").disabled = Boolean(file);
  $("status").textContent = file ? `will tag the file ${file.name} 将标注文件` : "";
}

function start() {
  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) $("api-key").value = saved;
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem(KEY_STORE, $("api-key").value.trim());
    showError("");
    loadLabels().catch((error) => showError(error.message));
  });
  $("tag").addEventListener("click", tag);
  $("file").addEventListener("change", chooseFile);
  $("clear-file").addEventListener("click", () => { $("file").value = ""; chooseFile(); });
  $("download-csv").addEventListener("click", () => download(csvText(state.rows), "text/csv;charset=utf-8", "csv"));
  $("download-jsonl").addEventListener("click",
    () => download(jsonlText(state.rows), "application/x-ndjson;charset=utf-8", "jsonl"));
  loadLabels().catch((error) => {
    if (error.status === 401) showError("Enter the API key to use this server. 请输入访问密钥。");
    else showError(error.message);
  });
}

document.addEventListener("DOMContentLoaded", start);

// pagerag's page: ask with cited pages, the page viewer, search and the library, over the /v1 API.
// Plain script, no build step, nothing from elsewhere: it ships inside the package and works offline.
"use strict";

const KEY = "pagerag.key"; // the bearer key, kept for this tab only (sessionStorage)
const HISTORY = 6; // earlier turns sent with a follow-up question
const VIEWS = ["ask", "search", "library"];

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false && c !== ""));
  return node;
}

const basename = (path) => String(path).split(/[\\/]/).pop();
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pageName(hit) {
  const printed = hit.label !== null && hit.label !== undefined && hit.label !== hit.page;
  return `page ${hit.page}${printed ? ` (printed ${hit.label})` : ""}`;
}

// ------------------------------------------------------------------ the API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders(headers = {}) {
  const key = sessionStorage.getItem(KEY);
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

async function api(path, { method = "GET", json, body, signal } = {}) {
  const headers = authHeaders(json === undefined ? {} : { "Content-Type": "application/json" });
  const payload = json === undefined ? body : JSON.stringify(json);
  const response = await fetch(path, { method, headers, body: payload, signal });
  if (!response.ok) throw await failure(response);
  return response;
}

async function failure(response) {
  let code = "error";
  let message = `${response.status} ${response.statusText}`;
  try {
    ({ code, message } = (await response.json()).error);
  } catch {
    // not an API error body: keep the status line
  }
  if (response.status === 401) openKeyDialog(message);
  return new ApiError(response.status, code, message);
}

const getJson = async (path, options) => (await api(path, options)).json();

// Server-sent events from a POST (EventSource only GETs): yields {event, data}.
async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = /\r\n\r\n|\n\n/.exec(buffer))) {
      const block = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      let event = "message";
      const data = [];
      for (const line of block.split(/\r\n|\n/)) {
        const colon = line.indexOf(":");
        if (colon === 0) continue; // a comment (keep-alive ping)
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// Images: plain URLs, or with a key set, fetched with the header and shown from blob URLs.
async function showImage(img, url) {
  img.dataset.want = url || "";
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  if (!url) return;
  if (!sessionStorage.getItem(KEY)) {
    img.src = url;
    return;
  }
  try {
    const blob = await (await api(url)).blob();
    if (img.dataset.want === url) img.src = URL.createObjectURL(blob);
  } catch {
    // no image: the alt text and the caption say what the page is
  }
}

function releaseImages(root) {
  for (const img of root.querySelectorAll("img")) {
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  }
}

function thumbnail(url) {
  const img = el("img", { class: "thumb", alt: "", loading: "lazy", decoding: "async" });
  if (url) showImage(img, url);
  else img.classList.add("missing");
  return img;
}

// A retrieved page as a button that opens it: thumbnail, file, page, score (a source or a search hit).
function pageCard(hit, context) {
  const n = hit.n ? `${hit.n}` : "";
  return el(
    "button",
    { type: "button", class: "card", onclick: () => openPage(hit.doc_id, hit.page, context()) },
    n && el("span", { class: "n", "aria-hidden": "true" }, n),
    thumbnail(hit.thumbnail),
    el(
      "span",
      { class: "meta" },
      el("span", { class: "file" }, n && el("span", { class: "sr-only" }, `Source ${n}: `), basename(hit.source)),
      el("span", {}, pageName(hit)),
      el("span", { class: "score" }, `score ${hit.score.toFixed(2)}`),
    ),
  );
}

// ------------------------------------------------------------------ views

function route(moveFocus) {
  const wanted = location.hash.slice(1);
  const name = VIEWS.includes(wanted) ? wanted : wanted ? null : "ask";
  if (!name) return; // an in-page anchor (the skip link), not a view
  for (const view of VIEWS) $(`#view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "library") loadLibrary();
  if (moveFocus) $(`#${name}-title`).focus();
}

// ------------------------------------------------------------------ ask

const conversation = []; // [question, answer] turns: the follow-up's history
let asking = false;

function askStatus(text) {
  $("#ask-status").textContent = text;
}

function linkCitations(node, text, citations, idOf, open) {
  const cited = new Map(citations.map((c) => [c.n, c]));
  node.replaceChildren();
  let last = 0;
  for (const match of text.matchAll(/\[(\d+(?:\s*[,;-]\s*\d+)*)\]/g)) {
    node.append(text.slice(last, match.index), "[");
    for (const part of match[1].split(/(\d+)/)) {
      const hit = /^\d+$/.test(part) ? cited.get(Number(part)) : undefined;
      if (!hit) {
        node.append(part);
        continue;
      }
      const label = `source ${hit.n}: ${basename(hit.source)}, ${pageName(hit)}`;
      node.append(
        el(
          "a",
          {
            href: `#${idOf(hit.n)}`,
            class: "citation",
            "data-testid": "citation",
            "aria-label": label,
            title: label,
            onclick: (event) => {
              event.preventDefault();
              open(hit);
            },
          },
          part,
        ),
      );
    }
    node.append("]");
    last = match.index + match[0].length;
  }
  node.append(text.slice(last));
}

function newTurn(question) {
  const n = $("#conversation").children.length + 1;
  const answer = el("div", {
    class: "answer",
    "data-testid": "answer",
    "aria-live": "polite",
    "aria-busy": "true",
  });
  const sources = el("ol", { class: "sources", "aria-label": `Sources of answer ${n}` });
  const turn = el(
    "article",
    { class: "turn", "aria-label": `Question ${n}` },
    el("p", { class: "asked" }, el("span", { class: "who" }, "Q"), question),
    answer,
    sources,
  );
  $("#conversation").append(turn);
  return { n, question, answer, sources, text: "" };
}

function showSources(turn, hits) {
  const context = () => ({ question: turn.question, answer: turn.text });
  releaseImages(turn.sources);
  const item = (hit, i) => el("li", { id: `t${turn.n}-s${hit.n || i + 1}`, class: "source" }, pageCard(hit, context));
  turn.sources.replaceChildren(...hits.map(item));
}

function finishTurn(turn, done) {
  turn.text = done.answer;
  const open = (hit) => openPage(hit.doc_id, hit.page, { question: turn.question, answer: turn.text });
  linkCitations(turn.answer, done.answer, done.citations, (n) => `t${turn.n}-s${n}`, open);
  turn.answer.classList.toggle("unanswered", !done.answered);
  if (done.citations.length) showSources(turn, done.citations);
  else if (done.hits.length) {
    showSources(turn, done.hits);
    turn.sources.before(el("p", { class: "hint" }, "Closest pages (none answered the question):"));
  }
  askStatus(
    done.answered ? `Answered from ${plural(done.citations.length, "page")}.` : "No answer in these documents.",
  );
}

async function ask(question) {
  if (!question || asking) return;
  asking = true;
  $("#ask-button").disabled = true;
  const turn = newTurn(question);
  const history = conversation.slice(-HISTORY);
  $("#question").value = "";
  askStatus("Answering…");
  try {
    const response = await api("/v1/ask", { method: "POST", json: { question, history, stream: true } });
    for await (const { event, data } of events(response)) {
      if (event === "token") {
        turn.text += data.text;
        turn.answer.textContent = turn.text;
      } else if (event === "citations") {
        showSources(turn, data);
      } else if (event === "done") {
        finishTurn(turn, data);
        conversation.push([question, data.answer]);
      } else if (event === "error") {
        throw new ApiError(400, data.error.code, data.error.message);
      }
    }
  } catch (err) {
    turn.answer.classList.add("failed");
    turn.answer.textContent = `Could not answer: ${err.message}`;
    askStatus("");
  } finally {
    turn.answer.setAttribute("aria-busy", "false");
    $("#ask-button").disabled = false;
    asking = false;
  }
}

// ------------------------------------------------------------------ page viewer

const viewer = { doc: "", page: 1, count: 1, question: "", answer: "", seq: 0, opener: null };
const served = new Map(); // doc_id -> whether its source file can be downloaded

async function openPage(docId, page, context = {}) {
  const dialog = $("#viewer");
  Object.assign(viewer, { doc: docId, question: context.question || "", answer: context.answer || "" });
  if (!dialog.open) {
    viewer.opener = document.activeElement;
    dialog.showModal();
    $("#close-viewer").focus();
  }
  await showPage(page);
}

function note(text) {
  $("#evidence-note").textContent = text;
}

async function showPage(page) {
  const seq = ++viewer.seq;
  const img = $("#page-image");
  $("#boxes").replaceChildren();
  note("Loading…");
  let info;
  try {
    info = await getJson(`/v1/pages/${viewer.doc}/${page}`);
  } catch (err) {
    if (seq === viewer.seq) note(err.message);
    return;
  }
  if (seq !== viewer.seq) return;
  Object.assign(viewer, { page: info.page, count: info.page_count });
  const name = info.title || basename(info.source);
  $("#viewer-title").textContent = `${name} — ${pageName(info)} of ${info.page_count}`;
  img.alt = `Page ${info.page} of ${basename(info.source)}`;
  showImage(img, info.image);
  $("#page-text").textContent = info.text || "(this page has no text)";
  const kind = $("#text-kind");
  kind.textContent = info.ocr ? "OCR" : "native";
  kind.title = info.ocr ? "read from the image by OCR (may hold errors)" : "the document's own text layer";
  kind.classList.toggle("ocr", info.ocr);
  const [prev, next] = [$("#prev-page"), $("#next-page")];
  prev.disabled = info.page <= 1;
  next.disabled = info.page >= info.page_count;
  // A disabled button drops the focus: hand it to its partner, so arrows and Tab go on from here.
  if (document.activeElement === document.body || document.activeElement?.disabled) {
    (prev.disabled ? next : prev).focus();
  }
  if (!info.image) note("This page has no image.");
  else await showEvidence(seq, info);
  offerDownload(seq, info);
}

async function showEvidence(seq, info) {
  if (!viewer.question && !viewer.answer) {
    note("");
    return;
  }
  const query = new URLSearchParams({ question: viewer.question, answer: viewer.answer });
  let found;
  try {
    found = await getJson(`/v1/pages/${info.doc_id}/${info.page}/evidence?${query}`);
  } catch {
    if (seq === viewer.seq) note(""); // no evidence service: the page alone
    return;
  }
  if (seq !== viewer.seq) return;
  const pct = (value, whole) => `${(100 * value) / whole}%`;
  const boxes = found.boxes.map((b) => {
    const box = el("div", { class: "highlight", "data-testid": "highlight", title: b.text });
    Object.assign(box.style, {
      left: pct(b.x0, found.width),
      top: pct(b.y0, found.height),
      width: pct(b.x1 - b.x0, found.width),
      height: pct(b.y1 - b.y0, found.height),
    });
    return box;
  });
  $("#boxes").replaceChildren(...boxes);
  note(
    boxes.length
      ? `Highlighted: ${plural(boxes.length, "word")} that the question or the answer use.`
      : "No word of the question or the answer on this page.",
  );
}

async function offerDownload(seq, info) {
  const link = $("#download");
  link.hidden = true;
  const url = `/v1/documents/${info.doc_id}/file`;
  if (!served.has(info.doc_id)) {
    const probe = new AbortController();
    try {
      const response = await fetch(url, { headers: authHeaders(), signal: probe.signal });
      served.set(info.doc_id, response.ok);
    } catch {
      served.set(info.doc_id, false);
    } finally {
      probe.abort(); // the status is all we wanted
    }
  }
  if (seq !== viewer.seq || !served.get(info.doc_id)) return;
  const name = basename(info.source);
  $("#download-name").textContent = name;
  link.href = url;
  link.download = name;
  link.hidden = false;
}

async function downloadWithKey(event) {
  const link = event.currentTarget;
  if (!sessionStorage.getItem(KEY) || link.href.startsWith("blob:")) return;
  event.preventDefault();
  const blob = await (await api(link.getAttribute("href"))).blob();
  const temp = el("a", { href: URL.createObjectURL(blob), download: link.download, hidden: true });
  document.body.append(temp);
  temp.click();
  temp.remove();
  setTimeout(() => URL.revokeObjectURL(temp.href), 10000);
}

function closeViewer() {
  const img = $("#page-image");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  viewer.seq++;
  if (viewer.opener && viewer.opener.isConnected) viewer.opener.focus();
}

// ------------------------------------------------------------------ search

function loadDocumentFilter(docs) {
  const select = $("#filter-doc");
  const chosen = select.value;
  const options = docs.map((d) => el("option", { value: d.doc_id }, basename(d.source)));
  select.replaceChildren(el("option", { value: "" }, "All documents"), ...options);
  select.value = docs.some((d) => d.doc_id === chosen) ? chosen : "";
}

async function search(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const query = form.query.value.trim();
  if (!query) return;
  const filters = {};
  if (form.doc.value) filters.doc = form.doc.value;
  if (form.page.value.trim()) filters.page = form.page.value.replace(/\s+/g, "");
  if (form.lang.value) filters.lang = form.lang.value;
  const status = $("#search-status");
  const list = $("#hits");
  status.textContent = "Searching…";
  let found;
  try {
    found = await getJson("/v1/search", {
      method: "POST",
      json: {
        query,
        k: Number(form.k.value) || 12,
        mode: form.mode.value,
        filters: Object.keys(filters).length ? filters : undefined,
      },
    });
  } catch (err) {
    status.textContent = `Search failed: ${err.message}`;
    return;
  }
  releaseImages(list);
  const context = () => ({ question: query, answer: "" });
  const item = (hit) =>
    el("li", { class: "hit", "data-testid": "hit" }, pageCard(hit, context), el("p", { class: "snippet" }, hit.snippet));
  list.replaceChildren(...found.hits.map(item));
  status.textContent = found.hits.length
    ? `${plural(found.hits.length, "page")} for “${query}”.`
    : `No page matches “${query}” with these filters.`;
}

// ------------------------------------------------------------------ library

let libraryLoads = 0;

async function loadLibrary() {
  const seq = ++libraryLoads;
  let docs;
  let jobs;
  try {
    [docs, jobs] = await Promise.all([getJson("/v1/documents"), getJson("/v1/jobs")]);
  } catch (err) {
    $("#library-status").textContent = `Could not load the library: ${err.message}`;
    return;
  }
  if (seq !== libraryLoads) return;
  showDocuments(docs.documents);
  showProblems(jobs.jobs);
  loadDocumentFilter(docs.documents);
}

function when(iso) {
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return el("time", { datetime: iso }, text);
}

function showDocuments(docs) {
  const body = $("#documents");
  const rows = docs.map((doc) =>
    el(
      "tr",
      { "data-testid": "document" },
      el(
        "th",
        { scope: "row" },
        el(
          "button",
          {
            type: "button",
            class: "link",
            title: "Open the first page",
            onclick: () => openPage(doc.doc_id, 1),
          },
          basename(doc.source),
        ),
        doc.title ? el("span", { class: "title" }, doc.title) : null,
      ),
      el("td", { "data-label": "Type" }, doc.kind),
      el("td", { "data-label": "Pages" }, String(doc.pages)),
      el("td", { "data-label": "Indexed" }, when(doc.indexed_at)),
      el(
        "td",
        {},
        el(
          "button",
          {
            type: "button",
            class: "quiet danger",
            "aria-label": `Remove ${basename(doc.source)}`,
            onclick: () => remove(doc),
          },
          "Remove",
        ),
      ),
    ),
  );
  body.replaceChildren(...rows);
  $("#documents-caption").textContent = `Documents (${docs.length})`;
  if (!docs.length) {
    body.append(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No documents yet: add some above.")));
  }
}

function showProblems(jobs) {
  const items = [];
  for (const job of jobs.slice(0, 10)) {
    if (job.error) items.push(el("li", {}, el("strong", {}, job.label || job.id), `: ${job.error}`));
    for (const problem of job.failed || []) {
      items.push(el("li", {}, el("strong", {}, basename(problem.path)), `: ${problem.reason}`));
    }
  }
  $("#problem-list").replaceChildren(...items);
  $("#problems").hidden = !items.length;
}

async function remove(doc) {
  const name = basename(doc.source);
  if (!window.confirm(`Remove “${name}” from the index?\nIts pages leave search at once.`)) return;
  try {
    await api(`/v1/documents/${doc.doc_id}`, { method: "DELETE" });
    $("#library-status").textContent = `Removed ${name}.`;
  } catch (err) {
    $("#library-status").textContent = `Could not remove ${name}: ${err.message}`;
  }
  served.delete(doc.doc_id);
  await loadLibrary();
  $("#library-title").focus();
}

function showJob(job) {
  const box = $("#job");
  const finished = job.state === "done" || job.state === "failed";
  const problems = [...(job.failed || []), ...(job.skipped || [])];
  const state = !finished ? "ingesting" : job.state === "done" && problems.length ? "done, with problems" : job.state;
  const lines = [el("p", {}, el("strong", {}, job.label), ` — ${state}`)];
  if (!finished) {
    const bar = el("progress", {
      max: Math.max(job.files_total, 1),
      value: job.files_done,
      "aria-label": "Files ingested",
    });
    const rate = job.pages_per_second ? ` · ${job.pages_per_second} pages/s` : "";
    const now = job.current ? ` · now ${basename(job.current)}` : "";
    const done = `${job.files_done} of ${plural(job.files_total, "file")} · ${plural(job.pages_done, "page")}`;
    lines.push(bar, el("p", { class: "hint" }, `${done}${rate}${now}`));
  } else if (job.state === "done" && (job.indexed || !problems.length)) {
    const parts = [`${plural(job.indexed, "document")} indexed (${plural(job.pages_indexed, "page")})`];
    if (job.unchanged) parts.push(`${job.unchanged} unchanged`);
    parts.push(`in ${job.seconds.toFixed(1)} s`);
    lines.push(el("p", {}, parts.join(", ") + "."));
  }
  if (job.error) lines.push(el("p", { class: "error" }, job.error));
  for (const problem of problems) {
    lines.push(el("p", { class: "error" }, `${basename(problem.path)}: ${problem.reason}`));
  }
  box.replaceChildren(...lines);
}

async function upload(files) {
  if (!files.length) return;
  const refused = $("#upload-error");
  refused.textContent = "";
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  $("#job").replaceChildren(el("p", {}, `Uploading ${files.map((f) => f.name).join(", ")}…`));
  let job;
  try {
    job = await getJson("/v1/ingest", { method: "POST", body: form });
  } catch (err) {
    $("#job").replaceChildren();
    refused.textContent = `Upload refused: ${err.message}`;
    return;
  }
  for (;;) {
    let state;
    try {
      state = await getJson(job.status);
    } catch (err) {
      refused.textContent = `Lost track of the ingest job: ${err.message}`;
      return;
    }
    showJob(state);
    if (state.state === "done" || state.state === "failed") break;
    await sleep(400);
  }
  await loadLibrary();
}

function setUpDrop() {
  const zone = $("#drop");
  const over = (on) => (event) => {
    event.preventDefault();
    zone.classList.toggle("over", on);
  };
  zone.addEventListener("dragenter", over(true));
  zone.addEventListener("dragover", over(true));
  zone.addEventListener("dragleave", over(false));
  zone.addEventListener("drop", (event) => {
    over(false)(event);
    upload([...event.dataTransfer.files]);
  });
  // A file dropped beside the zone must not replace the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  $("#upload").addEventListener("change", (event) => {
    upload([...event.target.files]);
    event.target.value = "";
  });
}

// ------------------------------------------------------------------ the key

function updateKeyButton() {
  const set = Boolean(sessionStorage.getItem(KEY));
  $("#key-button").textContent = set ? "API key ✓" : "API key";
  $("#key-button").setAttribute("aria-label", set ? "API key (set)" : "API key (not set)");
}

function openKeyDialog(reason) {
  const dialog = $("#key-dialog");
  if (dialog.open) return;
  $("#key-reason").textContent = reason || "This server may need a key. It is kept in this tab only.";
  $("#key").value = sessionStorage.getItem(KEY) || "";
  dialog.showModal();
}

function keyChosen() {
  const choice = $("#key-dialog").returnValue;
  const key = $("#key").value.trim();
  if (choice === "save" && key) sessionStorage.setItem(KEY, key);
  else if (choice === "forget") sessionStorage.removeItem(KEY);
  else return;
  served.clear();
  updateKeyButton();
  loadLibrary();
}

// ------------------------------------------------------------------ start

function start() {
  window.addEventListener("hashchange", () => route(true));
  $(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("#main").focus();
  });
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask($("#question").value.trim());
  });
  $("#question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("#ask-form").requestSubmit();
    }
  });
  $("#new-conversation").addEventListener("click", () => {
    conversation.length = 0;
    releaseImages($("#conversation"));
    $("#conversation").replaceChildren();
    askStatus("New conversation.");
    $("#question").focus();
  });
  $("#search-form").addEventListener("submit", search);
  $("#prev-page").addEventListener("click", () => showPage(viewer.page - 1));
  $("#next-page").addEventListener("click", () => showPage(viewer.page + 1));
  $("#close-viewer").addEventListener("click", () => $("#viewer").close());
  $("#viewer").addEventListener("close", closeViewer);
  document.addEventListener("keydown", (event) => {
    if (!$("#viewer").open || $("#key-dialog").open) return;
    if (event.target.closest("input, textarea, select")) return;
    if (event.key === "ArrowLeft" && viewer.page > 1) showPage(viewer.page - 1);
    if (event.key === "ArrowRight" && viewer.page < viewer.count) showPage(viewer.page + 1);
  });
  $("#download").addEventListener("click", downloadWithKey);
  $("#key-button").addEventListener("click", () => openKeyDialog(""));
  $("#key-dialog").addEventListener("close", keyChosen);
  setUpDrop();
  updateKeyButton();
  route(false);
  if (location.hash !== "#library") loadLibrary(); // the search's document filter
}

start();

// Herald console: a page per hash (#live, #dead-letters, #users, #tenants, #catalog, #fanouts,
// #trace).
// Data comes only from /v1/admin/... with the admin key from sessionStorage; every value is
// written with textContent (never as HTML).
"use strict";

const KEY = "heraldAdminKey";
const $ = (id) => document.getElementById(id);
let liveTimer = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell ?? "";
    tr.appendChild(td);
  }
  return tr;
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY);
  if (!key) throw new Unauthorized("no key");
  const headers = { Authorization: `Bearer ${key}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(path, {
    method: options.method || "GET", headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (answer.status === 401 || answer.status === 403) {
    signOut("That key is not an admin key (" + answer.status + ").");
    throw new Unauthorized(String(answer.status));
  }
  const body = await answer.json().catch(() => ({}));
  return { status: answer.status, body };
}

function message(body) {
  return body && body.message ? body.message : "request failed";
}

// --- sign in / out ------------------------------------------------------------------------
function signOut(reason) {
  sessionStorage.removeItem(KEY);
  if (liveTimer) { clearInterval(liveTimer); liveTimer = null; }
  stopFanoutPolling();
  for (const page of document.querySelectorAll(".page")) page.hidden = true;
  for (const tbody of document.querySelectorAll("tbody")) tbody.replaceChildren();
  $("trace-timeline").replaceChildren();
  $("key-secret").replaceChildren();
  $("live-build").textContent = "";
  $("user-view").hidden = true;
  $("tenant-view").hidden = true;
  $("catalog-view").hidden = true;
  $("catalog-status").textContent = "";
  $("fanout-view").hidden = true;
  $("fanout-status").textContent = "";
  $("fanout-cancel-status").textContent = "";
  fanout = null;
  $("tpl-preview").textContent = "";
  $("tpl-error").textContent = "";
  tenant = null;
  $("nav").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    const { status, body } = await api("/v1/admin/stats");
    if (status !== 200) { signOut(message(body)); return; }
  } catch (error) {
    if (!(error instanceof Unauthorized)) signOut("The producer did not answer.");
    return;
  }
  $("login").hidden = true;
  $("nav").hidden = false;
  show();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("login-key").value.trim());
  $("login-key").value = "";
});
$("logout").addEventListener("click", () => signOut(""));

// --- pages ----------------------------------------------------------------------------------
function show() {
  if (!sessionStorage.getItem(KEY)) return;
  const [name, arg] = (location.hash.slice(1) || "live").split("=");
  const pages = { live: startLive, "dead-letters": loadDeadLetters, users: () => {},
                  tenants: loadTenants, catalog: () => {}, fanouts: resumeFanout, trace: () => { if (arg) trace(decodeURIComponent(arg)); } };
  const page = name in pages ? name : "live";
  for (const section of document.querySelectorAll(".page")) {
    section.hidden = section.id !== `page-${page}`;
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.page === page);
  }
  if (page !== "live" && liveTimer) { clearInterval(liveTimer); liveTimer = null; }
  if (page !== "fanouts") stopFanoutPolling();
  pages[page]();
}
window.addEventListener("hashchange", show);

// --- Live -------------------------------------------------------------------------------------
function figure(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 1 ? `${(value * 1000).toFixed(1)} ms` : `${value.toFixed(2)} s`;
}

async function refreshLive() {
  let answer;
  try { answer = await api("/v1/admin/stats"); } catch { return; }
  if (answer.status !== 200) { $("live-updated").textContent = message(answer.body); return; }
  const stats = answer.body;
  for (const [name, value] of Object.entries(stats.flows)) {
    const node = $(`flow-${name}`); if (node) node.textContent = figure(value);
  }
  for (const [name, value] of Object.entries(stats.levels)) {
    const node = $(`level-${name}`); if (node) node.textContent = figure(value);
  }
  $("latency-p50").textContent = seconds(stats.latency.p50);
  $("latency-p99").textContent = seconds(stats.latency.p99);
  $("gateways").replaceChildren(...stats.gateways.map((g) => row([g.replica, g.connections])));
  $("replicas").replaceChildren(...stats.replicas.map(
    (r) => row([r.service, r.replica, `${r.ageSeconds} s ago`])));
  $("live-updated").textContent = "updated " + new Date(stats.at).toLocaleTimeString();
  showBuild(stats.build);
  showRedisMemory(stats.redisMemory, stats.levels.consumerHolding);
}

// Redis's fill ("41 % of 40.0 MiB", or the bytes used without a maxmemory), its policy (an
// evicting one is refused: shown as such), and whether a consumer holds events back.
function showRedisMemory(memory, holding) {
  const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
  if (memory) {
    $("redis-memory").textContent = memory.maxBytes > 0
      ? `${Math.round(memory.fraction * 100)} % of ${mib(memory.maxBytes)}`
      : `${mib(memory.usedBytes)} (no maxmemory)`;
    $("redis-policy").textContent = memory.evictionRefused
      ? `${memory.policy}: evicts, refused` : memory.policy;
  }
  $("level-consumerHolding").textContent =
    holding === null || holding === undefined ? "–" : holding > 0 ? "holding back" : "taking events";
}

// The build of the producer answering: "Herald <version> · <short commit>", the full commit
// in the tooltip.
function showBuild(build) {
  if (!build) return;
  const commit = String(build.commit);
  $("live-build").textContent = `Herald ${build.version} · ${commit.slice(0, 7)}`;
  $("live-build").title = `version ${build.version}, commit ${commit}`;
}

function startLive() {
  refreshLive();
  if (!liveTimer) liveTimer = setInterval(refreshLive, 1000);
}

// --- Dead letters -------------------------------------------------------------------------------
async function loadDeadLetters() {
  const reason = $("dl-reason").value;
  const limit = $("dl-limit").value || "50";
  const query = new URLSearchParams({ limit });
  if (reason) query.set("reason", reason);
  $("dl-status").textContent = "loading…";
  let answer;
  try { answer = await api(`/v1/admin/dead-letters?${query}`); } catch { return; }
  if (answer.status !== 200) { $("dl-status").textContent = message(answer.body); return; }
  const rows = answer.body.deadLetters;
  $("dl-all").checked = false;
  $("dl-rows").replaceChildren(...rows.map((d) => {
    const box = el("input"); box.type = "checkbox"; box.value = d.id; box.className = "dl-pick";
    const body = el("details"); body.appendChild(el("summary", `${d.bytes} bytes`));
    body.appendChild(el("pre", d.body));
    const tr = row([box, d.id, d.reason, d.detail || "", d.routingKey, d.deaths, body]);
    tr.dataset.id = d.id;
    return tr;
  }));
  $("dl-status").textContent = `${rows.length} dead letter(s)` + (reason ? ` with reason ${reason}` : "");
}

function picked() {
  return [...document.querySelectorAll(".dl-pick:checked")].map((box) => box.value);
}

async function settle(action) {
  const ids = picked();
  if (!ids.length) { $("dl-status").textContent = "select messages first"; return; }
  const verb = action === "replay" ? "Replay" : "Purge (delete for good)";
  if (!window.confirm(`${verb} ${ids.length} dead letter(s)?`)) return;
  let answer;
  try {
    answer = await api(`/v1/admin/dead-letters/${action}`, { method: "POST", body: { ids } });
  } catch { return; }
  if (answer.status !== 200) { $("dl-status").textContent = message(answer.body); return; }
  const done = answer.body.replayed || answer.body.purged || [];
  await loadDeadLetters();
  $("dl-status").textContent = `${action === "replay" ? "replayed" : "purged"} ${done.length}` +
    (answer.body.notFound.length ? `; not found: ${answer.body.notFound.join(", ")}` : "");
}

$("dl-form").addEventListener("submit", (event) => { event.preventDefault(); loadDeadLetters(); });
$("dl-replay").addEventListener("click", () => settle("replay"));
$("dl-purge").addEventListener("click", () => settle("purge"));
$("dl-all").addEventListener("change", () => {
  for (const box of document.querySelectorAll(".dl-pick")) box.checked = $("dl-all").checked;
});

// --- Users ----------------------------------------------------------------------------------------
function userPath() {
  const tenant = encodeURIComponent($("user-tenant").value.trim());
  const user = encodeURIComponent($("user-id").value.trim());
  return [`/v1/admin/users/${user}`, `tenantId=${tenant}`];
}

async function lookUp() {
  const [path, query] = userPath();
  let answer;
  try { answer = await api(`${path}?${query}`); } catch { return; }
  if (answer.status !== 200) {
    $("user-view").hidden = true; $("user-status").textContent = message(answer.body); return;
  }
  const user = answer.body;
  $("user-status").textContent = `${user.tenantId} / ${user.userId}`;
  const total = user.connections.reduce((sum, c) => sum + c.connections, 0);
  $("user-connections").textContent = String(total);
  $("user-gateways").textContent = user.connections.length
    ? "on " + user.connections.map((c) => `${c.replica} (${c.connections})`).join(", ")
    : "not connected to any gateway";
  $("user-pending").textContent = String(user.pending);
  $("user-history").replaceChildren(...user.notifications.map((n) => {
    const link = el("a", n.eventId); link.href = `#trace=${encodeURIComponent(n.eventId)}`;
    return row([n.createdAt, n.status, n.type, n.message, link]);
  }));
  $("user-view").hidden = false;
}

$("user-form").addEventListener("submit", (event) => { event.preventDefault(); lookUp(); });
$("test-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [path, query] = userPath();
  let answer;
  try {
    answer = await api(`${path}/test-notification?${query}`,
                       { method: "POST", body: { text: $("test-text").value } });
  } catch { return; }
  if (answer.status !== 202) { $("test-status").textContent = message(answer.body); return; }
  const link = el("a", answer.body.eventId);
  link.href = `#trace=${encodeURIComponent(answer.body.eventId)}`;
  $("test-status").replaceChildren(el("span", "sent: event "), link);
  setTimeout(lookUp, 500);
});

// --- Tenants and keys (the front door's admin API) ---------------------------------------------
let tenant = null;

function button(label, onClick, cls) {
  const b = el("button", label, cls); b.type = "button"; b.addEventListener("click", onClick);
  return b;
}

async function loadTenants() {
  let answer;
  try { answer = await api("/v1/admin/tenants"); } catch { return; }
  if (answer.status === 404 || answer.status === 405) return;  // not served by this producer
  if (answer.status !== 200) { $("tenants-status").textContent = message(answer.body); return; }
  const tenants = answer.body.tenants || [];
  $("tenants-status").textContent = `${tenants.length} tenant(s)`;
  $("tenants-table").hidden = false;
  $("tenants-rows").replaceChildren(...tenants.map((t) => {
    const tr = row([t.tenantId, t.name ?? "", t.ratePerSecond ?? "", t.burst ?? "", t.createdAt ?? "",
                    button("Keys and limits", () => openTenant(t))]);
    tr.dataset.tenant = t.tenantId;
    return tr;
  }));
  if (tenant) openTenant(tenants.find((t) => t.tenantId === tenant.tenantId) || tenant);
}

async function openTenant(t) {
  tenant = t;
  $("tenant-name").textContent = t.tenantId;
  $("limits-rate").value = t.ratePerSecond ?? 0;
  $("limits-burst").value = t.burst ?? 0;
  $("tenant-view").hidden = false;
  let answer;
  try { answer = await api(`/v1/admin/tenants/${encodeURIComponent(t.tenantId)}/keys`); } catch { return; }
  if (answer.status !== 200) { $("key-secret").textContent = message(answer.body); return; }
  $("keys-rows").replaceChildren(...(answer.body.keys || []).map((k) => {
    const revoke = k.revokedAt ? "" : button("Revoke", () => revokeKey(k), "danger");
    const tr = row([k.keyId, k.prefix ?? "", k.name ?? "", (k.scopes || []).join(" "), k.createdAt ?? "",
                    k.revokedAt ?? "", revoke]);
    tr.dataset.key = k.keyId;
    return tr;
  }));
}

async function revokeKey(k) {
  if (!window.confirm(`Revoke key ${k.keyId} of ${k.tenantId}? Callers using it are refused at once.`)) return;
  let answer;
  try { answer = await api(`/v1/admin/keys/${encodeURIComponent(k.keyId)}/revoke`, { method: "POST", body: {} }); } catch { return; }
  $("key-secret").textContent = answer.status === 200 ? `revoked ${k.keyId}` : message(answer.body);
  openTenant(tenant);
}

$("limits-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { ratePerSecond: Number($("limits-rate").value), burst: Number($("limits-burst").value) };
  let answer;
  try { answer = await api(`/v1/admin/tenants/${encodeURIComponent(tenant.tenantId)}/limits`, { method: "PUT", body }); } catch { return; }
  $("key-secret").textContent = answer.status === 200 ? "limits set" : message(answer.body);
  if (answer.status === 200) { tenant = answer.body; loadTenants(); }
});

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const scopes = [...document.querySelectorAll(".key-scope:checked")].map((box) => box.value);
  const body = { scopes };
  if ($("key-name").value.trim()) body.name = $("key-name").value.trim();
  let answer;
  try { answer = await api(`/v1/admin/tenants/${encodeURIComponent(tenant.tenantId)}/keys`, { method: "POST", body }); } catch { return; }
  if (answer.status !== 201) { $("key-secret").textContent = message(answer.body); return; }
  // Shown once: the producer keeps only its hash.
  $("key-secret").replaceChildren(el("span", `new key ${answer.body.keyId} (copy it now, it is not shown again): `),
                                  el("code", answer.body.key));
  openTenant(tenant);
});

// --- Types & templates (/v1/event-types, /v1/templates) -----------------------------------------
// One tenant at a time, named as on the Users page (the operator key names it: ?tenantId=).
let catalogTenant = null;
let previewTimer = null;
let previewSeq = 0;

function catalogPath(path) {
  const sep = path.includes("?") ? "&" : "?";
  return `${path}${sep}tenantId=${encodeURIComponent(catalogTenant)}`;
}

// Why a write was refused: the first detail's message (a template's reason), else the message.
function refusal(body) {
  const detail = body && Array.isArray(body.details) && body.details[0];
  if (detail && detail.message) return detail.field ? `${detail.field}: ${detail.message}` : detail.message;
  return message(body);
}

function yesNo(value) { return value ? "yes" : "no"; }

async function loadCatalog() {
  catalogTenant = $("catalog-tenant").value.trim();
  $("catalog-status").textContent = "loading…";
  let types, templates;
  try {
    [types, templates] = await Promise.all([api(catalogPath("/v1/event-types")),
                                           api(catalogPath("/v1/templates"))]);
  } catch { return; }
  if (types.status !== 200 || templates.status !== 200) {
    $("catalog-view").hidden = true;
    $("catalog-status").textContent = message(types.status !== 200 ? types.body : templates.body);
    return;
  }
  const list = types.body.types;
  $("catalog-status").textContent = `${catalogTenant}: ${list.length} type(s), ` +
    `${templates.body.templates.length} template(s)`;
  $("types-rows").replaceChildren(...list.map((t) => {
    const actions = el("span");
    actions.append(button("Edit", () => editType(t)));
    // a built-in is not deleted: its tenant's redefinition is (404 when there is none)
    actions.append(button(t.builtin ? "Reset" : "Delete", () => deleteType(t), "danger"));
    const tr = row([t.type, t.priority, yesNo(t.transactional), t.digestWindowSeconds,
                    (t.digestBy || []).join(", "), t.defaultEnabled ? "on" : "off", t.quietHours,
                    yesNo(t.builtin), actions]);
    tr.dataset.type = t.type;
    return tr;
  }));
  const chosen = $("tpl-type").value;
  $("tpl-type").replaceChildren(...list.map((t) => el("option", t.type)));
  if (list.some((t) => t.type === chosen)) $("tpl-type").value = chosen;
  $("catalog-default-locale").textContent = templates.body.defaultLocale;
  $("default-locale").value = templates.body.defaultLocale;
  $("templates-rows").replaceChildren(...templates.body.templates.map((t) => {
    const actions = el("span");
    actions.append(button("Edit", () => editTemplate(t)));
    actions.append(button("Delete", () => deleteTemplate(t), "danger"));
    const source = el("code", t.source.length > 80 ? t.source.slice(0, 79) + "…" : t.source);
    const tr = row([t.type, t.locale, t.version, t.updatedAt, source, actions]);
    tr.dataset.template = `${t.type}/${t.locale}`;
    return tr;
  }));
  $("catalog-view").hidden = false;
}

function editType(t) {
  $("type-name").value = t.type;
  $("type-priority").value = t.priority;
  $("type-transactional").checked = t.transactional;
  $("type-default").checked = t.defaultEnabled;
  $("type-window").value = t.digestWindowSeconds;
  $("type-digest-by").value = (t.digestBy || []).join(", ");
  $("type-quiet").value = t.quietHours;
  $("type-status").textContent = `editing ${t.type}`;
  $("type-name").focus();
}

async function deleteType(t) {
  const what = t.builtin ? `Reset the built-in ${t.type} to its defaults` : `Delete the type ${t.type}`;
  if (!window.confirm(`${what}?`)) return;
  let answer;
  try { answer = await api(catalogPath(`/v1/event-types/${encodeURIComponent(t.type)}`), { method: "DELETE" }); } catch { return; }
  $("type-status").textContent = answer.status === 204 ? `deleted ${t.type}` : refusal(answer.body);
  if (answer.status === 204) loadCatalog();
}

$("type-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("type-name").value.trim();
  const body = {
    priority: $("type-priority").value,
    transactional: $("type-transactional").checked,
    defaultEnabled: $("type-default").checked,
    digestWindowSeconds: Number($("type-window").value || 0),
    digestBy: $("type-digest-by").value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  if ($("type-quiet").value) body.quietHours = $("type-quiet").value;
  let answer;
  try { answer = await api(catalogPath(`/v1/event-types/${encodeURIComponent(name)}`), { method: "PUT", body }); } catch { return; }
  if (answer.status !== 200 && answer.status !== 201) {
    $("type-status").textContent = refusal(answer.body);
    $("type-status").className = "error";
    return;
  }
  $("type-status").className = "ok";
  $("type-status").textContent = `${answer.status === 201 ? "created" : "saved"} ${answer.body.type}`;
  await loadCatalog();
  $("tpl-type").value = answer.body.type;
});

function editTemplate(t) {
  $("tpl-type").value = t.type;
  $("tpl-locale").value = t.locale;
  $("tpl-source").value = t.source;
  $("tpl-status").textContent = `editing ${t.type} / ${t.locale} (version ${t.version})`;
  schedulePreview(0);
  $("tpl-source").focus();
}

async function deleteTemplate(t) {
  if (!window.confirm(`Delete the template ${t.type} / ${t.locale}?`)) return;
  let answer;
  try {
    answer = await api(catalogPath(`/v1/templates/${encodeURIComponent(t.type)}/${encodeURIComponent(t.locale)}`),
                       { method: "DELETE" });
  } catch { return; }
  $("tpl-status").textContent = answer.status === 204 ? `deleted ${t.type} / ${t.locale}` : refusal(answer.body);
  if (answer.status === 204) loadCatalog();
}

// The sample values the editor's JSON box holds (an object), or throws with a readable reason.
function sampleValues() {
  const raw = $("tpl-sample").value.trim();
  if (!raw) return {};
  let value;
  try { value = JSON.parse(raw); } catch (error) { throw new Error(`sample values: not JSON (${error.message})`); }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("sample values: a JSON object");
  return value;
}

// What the producer checks a saved template against (common.catalog.sample_context): an
// event's fields with sample values, then the editor's sample values over them, key by key.
function sampleContext(type, locale, overrides) {
  return {
    type, eventId: "ev-sample", tenantId: catalogTenant || "tenant", actorId: "alice",
    recipientId: "bob", userId: "bob", postId: "post-1", commentId: null,
    text: "Looks great!", data: {}, locale, count: 1, others: 0, actors: ["alice"],
    ...overrides,
  };
}

function showTemplateError(reason) {
  $("tpl-preview").textContent = "";
  $("tpl-error").textContent = reason;
}

async function preview() {
  const seq = ++previewSeq;
  let data;
  try { data = sampleContext($("tpl-type").value, $("tpl-locale").value.trim(), sampleValues()); }
  catch (error) { showTemplateError(error.message); return; }
  let answer;
  try {
    answer = await api("/v1/templates/preview", { method: "POST", body: { template: $("tpl-source").value, data } });
  } catch { return; }
  if (seq !== previewSeq) return; // a newer keystroke's preview is on its way
  if (answer.status !== 200) { showTemplateError(refusal(answer.body)); return; }
  $("tpl-error").textContent = "";
  $("tpl-preview").textContent = answer.body.rendered;
}

function schedulePreview(delay = 250) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, delay);
}

for (const id of ["tpl-source", "tpl-sample", "tpl-locale"]) $(id).addEventListener("input", () => schedulePreview());
$("tpl-type").addEventListener("change", () => schedulePreview(0));

$("template-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const type = $("tpl-type").value;
  const locale = $("tpl-locale").value.trim();
  let sample;
  try { sample = sampleValues(); } catch (error) { showTemplateError(error.message); return; }
  const body = { source: $("tpl-source").value };
  if (Object.keys(sample).length) body.sample = sample;
  $("tpl-status").className = "";
  $("tpl-status").textContent = "saving…";
  $("tpl-error").textContent = "";
  let answer;
  try {
    answer = await api(catalogPath(`/v1/templates/${encodeURIComponent(type)}/${encodeURIComponent(locale)}`),
                       { method: "PUT", body });
  } catch { return; }
  if (answer.status !== 200) {
    $("tpl-status").textContent = "refused";
    $("tpl-status").className = "error";
    showTemplateError(refusal(answer.body));
    return;
  }
  $("tpl-error").textContent = "";
  $("tpl-status").className = "ok";
  $("tpl-status").textContent = `saved ${answer.body.type} / ${answer.body.locale}, version ${answer.body.version}`;
  const status = $("tpl-status").textContent;
  await loadCatalog();
  $("tpl-status").textContent = status;
});

$("locale-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let answer;
  try {
    answer = await api(catalogPath("/v1/templates/default-locale"),
                       { method: "PUT", body: { locale: $("default-locale").value.trim() } });
  } catch { return; }
  if (answer.status !== 200) { $("locale-status").textContent = refusal(answer.body); return; }
  $("locale-status").textContent = `default locale ${answer.body.defaultLocale}`;
  loadCatalog();
});

$("catalog-form").addEventListener("submit", (event) => { event.preventDefault(); loadCatalog(); });

// --- Fan-outs (/v1/fanouts/{eventId}) ------------------------------------------------------------
// One topic event's fan-out of one tenant (the operator key names it: ?tenantId=), refreshed
// every FANOUT_POLL_MS while it runs, at most FANOUT_MAX_POLLS times per look-up (then "Show"
// again resumes); cancelled with a confirmation (DELETE; 409 once every page was made).
const FANOUT_POLL_MS = 1000;
const FANOUT_MAX_POLLS = 600;
const FANOUT_FIELDS = ["state", "topic", "startedAt", "finishedAt", "pages", "recipients", "made",
                       "muted", "held", "duplicate", "failed"];
let fanout = null;       // {tenant, eventId, polls, seq}: what the page shows
let fanoutTimer = null;
let fanoutSeq = 0;

function stopFanoutPolling() {
  if (fanoutTimer) { clearTimeout(fanoutTimer); fanoutTimer = null; }
}

function fanoutPath(target) {
  return `/v1/fanouts/${encodeURIComponent(target.eventId)}?tenantId=${encodeURIComponent(target.tenant)}`;
}

function showFanout(body) {
  for (const name of FANOUT_FIELDS) {
    const value = body[name];
    $(`fanout-${name}`).textContent = value === null || value === undefined ? "–" : String(value);
  }
  $("fanout-state").className = `value ${["running", "done", "cancelled"].includes(body.state) ? body.state : ""}`;
  $("fanout-cancel").hidden = body.state !== "running";
  $("fanout-view").hidden = false;
}

async function pollFanout(target) {
  fanoutTimer = null;
  let answer;
  try { answer = await api(fanoutPath(target)); } catch { return; }
  if (target.seq !== fanoutSeq) return; // another look-up since
  if (answer.status !== 200) {
    $("fanout-view").hidden = true;
    $("fanout-status").textContent = message(answer.body);
    return;
  }
  const body = answer.body;
  showFanout(body);
  target.polls += 1;
  $("fanout-status").textContent = `${target.tenant} · event ${target.eventId}: ${body.state}`;
  $("fanout-updated").textContent = "updated " + new Date().toLocaleTimeString();
  if (body.state !== "running") return;
  if (target.polls >= FANOUT_MAX_POLLS) {
    $("fanout-updated").textContent += ` · stopped refreshing after ${target.polls} look-ups: press Show to resume`;
    return;
  }
  if (!$("page-fanouts").hidden) fanoutTimer = setTimeout(() => pollFanout(target), FANOUT_POLL_MS);
}

function lookUpFanout(tenant, eventId) {
  stopFanoutPolling();
  fanout = { tenant, eventId, polls: 0, seq: ++fanoutSeq };
  $("fanout-view").hidden = true; // nothing of the last one shown as this one's
  $("fanout-cancel-status").textContent = "";
  $("fanout-status").textContent = "loading…";
  return pollFanout(fanout);
}

// Back on the page: a running fan-out shown before is refreshed again.
function resumeFanout() {
  if (fanout && !fanoutTimer && $("fanout-state").textContent === "running") {
    fanout.polls = 0;
    pollFanout(fanout);
  }
}

$("fanout-form").addEventListener("submit", (event) => {
  event.preventDefault();
  lookUpFanout($("fanout-tenant").value.trim(), $("fanout-id").value.trim());
});

$("fanout-cancel").addEventListener("click", async () => {
  const target = fanout;
  if (!target) return;
  if (!window.confirm(`Cancel the fan-out of event ${target.eventId} (tenant ${target.tenant})?`)) return;
  $("fanout-cancel-status").textContent = "cancelling…";
  let answer;
  try { answer = await api(fanoutPath(target), { method: "DELETE" }); } catch { return; }
  if (target.seq !== fanoutSeq) return;
  // whatever look-up was in flight is now older than this answer: it is ignored
  stopFanoutPolling();
  fanout = { ...target, polls: 0, seq: ++fanoutSeq };
  if (answer.status === 200) {
    showFanout(answer.body);
    $("fanout-status").textContent = `${target.tenant} · event ${target.eventId}: ${answer.body.state}`;
    $("fanout-cancel-status").textContent =
      `cancelled after ${answer.body.pages} page(s): chunks taken from now on make nothing`;
    return;
  }
  if (answer.status === 409) {
    $("fanout-cancel-status").textContent =
      "not cancelled: this fan-out is already done (409), every page was made";
    pollFanout(fanout); // its final counts
    return;
  }
  $("fanout-cancel-status").textContent = message(answer.body);
  pollFanout(fanout);
});

// --- Trace ------------------------------------------------------------------------------------------
const DETAIL_SKIP = new Set(["stage", "at", "service", "replica"]);

async function trace(eventId) {
  $("trace-id").value = eventId;
  let answer;
  try { answer = await api(`/v1/admin/events/${encodeURIComponent(eventId)}/trace`); } catch { return; }
  if (answer.status !== 200) {
    $("trace-timeline").replaceChildren(); $("trace-status").textContent = message(answer.body);
    return;
  }
  const stages = answer.body.stages;
  const first = stages.length ? stages[0].at : 0;
  $("trace-status").textContent = `${stages.length} mark(s) for ${answer.body.eventId}`;
  $("trace-timeline").replaceChildren(...stages.map((mark) => {
    const li = el("li", null, mark.stage);
    li.dataset.stage = mark.stage;
    li.appendChild(el("span", mark.stage, "stage"));
    li.appendChild(el("span", `${new Date(mark.at).toISOString()} (+${(mark.at - first).toFixed(1)} ms)`, "when"));
    const extra = Object.entries(mark).filter(([k]) => !DETAIL_SKIP.has(k))
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`);
    li.appendChild(el("div", `${mark.service} ${mark.replica}` + (extra.length ? " · " + extra.join(" ") : "")));
    return li;
  }));
}

$("trace-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("trace-id").value.trim();
  if (location.hash === `#trace=${encodeURIComponent(id)}`) trace(id);
  else location.hash = `trace=${encodeURIComponent(id)}`;
});

// --- start --------------------------------------------------------------------------------------------
if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY)); else signOut("");

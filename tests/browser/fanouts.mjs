// The console's "Fan-outs" page (/console#fanouts) against the four services: sign in with the
// operator key, look up an unknown event (404 shown), then three real topic events sent
// meanwhile with a tenant key: one watched from running to done (the page refreshes itself
// and stops once it is over), one cancelled part-way from the page (confirmed, DELETE), one
// cancelled too late — the page still shows it running (its refreshes held back here) while it
// finishes — so the producer's 409 is shown as such. Screenshots in HERALD_ARTIFACTS. Prints
// one JSON object (the last line).
// Env: HERALD_PRODUCER_URL, HERALD_ADMIN_KEY, HERALD_API_KEY (a tenant key of `default` with
// events:write), HERALD_SMALL_TOPIC, HERALD_BIG_TOPIC.
import { env, launch, scaled, screenshotPath, sleep } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
const adminKey = env("HERALD_ADMIN_KEY");
const apiKey = env("HERALD_API_KEY");
const smallTopic = env("HERALD_SMALL_TOPIC");
const bigTopic = env("HERALD_BIG_TOPIC");
const browser = await launch();
const result = { screenshots: [], console: [], dialogs: [] };
const wait = { timeout: scaled(30_000) };

async function send(topic, eventId) {
  const answer = await fetch(`${producer}/v1/events`, {
    method: "POST", headers: { "X-API-Key": apiKey, "Content-Type": "application/json" },
    body: JSON.stringify({ type: "SYSTEM", actorId: "alice", topic, text: "alice posted", eventId }),
  });
  if (answer.status !== 202) throw new Error(`POST /v1/events: ${answer.status} ${await answer.text()}`);
  return (await answer.json()).eventId;
}

async function apiState(eventId) {
  const answer = await fetch(`${producer}/v1/fanouts/${eventId}?tenantId=default`,
                             { headers: { Authorization: `Bearer ${adminKey}` } });
  return answer.status === 200 ? answer.json() : { status: answer.status };
}

try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on("console", (m) => result.console.push(m.text()));
  page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => { result.dialogs.push(d.message()); d.accept(); });
  const requests = {};
  page.on("request", (r) => {
    const match = new URL(r.url()).pathname.match(/^\/v1\/fanouts\/(.+)$/);
    if (match) requests[`${r.method()} ${match[1]}`] = (requests[`${r.method()} ${match[1]}`] || 0) + 1;
  });
  const shot = async (name) => {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    result.screenshots.push(name);
  };
  const text = (id) => page.locator(`#${id}`).innerText();
  const textIs = async (id, ok) => {
    const until = Date.now() + wait.timeout;
    for (;;) {
      const value = await page.locator(`#${id}`).textContent();
      if (ok(value)) return value;
      if (Date.now() > until) throw new Error(`#${id} never passed ${ok}: ${JSON.stringify(value)}`);
      await page.waitForTimeout(50);
    }
  };
  // the cards and the Cancel button as one snapshot (read in one go, never half re-rendered)
  const view = () => page.locator("#fanout-view").evaluate((root) => {
    const out = { hidden: root.hidden };
    for (const node of root.querySelectorAll(".value")) out[node.id.replace("fanout-", "")] = node.textContent;
    out.cancelVisible = !root.hidden && !root.querySelector("#fanout-cancel").hidden;
    return out;
  });
  // polls the snapshot until ok(view) (the page refreshes itself; nothing is clicked)
  const viewIs = async (ok) => {
    const until = Date.now() + wait.timeout;
    for (;;) {
      const value = await view();
      if (ok(value)) return value;
      if (Date.now() > until) throw new Error(`the view never passed ${ok}: ${JSON.stringify(value)}`);
      await page.waitForTimeout(50);
    }
  };
  const show = async (eventId) => {
    await page.fill("#fanout-tenant", "default");
    await page.fill("#fanout-id", eventId);
    await page.click("#fanout-form button[type=submit]");
  };

  await page.goto(`${producer}/console#fanouts`);
  await page.fill("#login-key", adminKey);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#page-fanouts", { state: "visible", ...wait });
  result.navActive = await page.locator("nav a.active").innerText();

  // --- an event with no fan-out ----------------------------------------------------------
  await show("no-such-event");
  await textIs("fanout-status", (t) => t.includes("no fan-out"));
  result.unknown = { status: await text("fanout-status"), viewHidden: await page.locator("#fanout-view").isHidden() };

  // --- one watched from running to done --------------------------------------------------
  const watched = await send(smallTopic, "fan-watched");
  await show(watched);
  const samples = [];
  const until = Date.now() + wait.timeout;
  for (;;) {
    if (Date.now() > until) throw new Error(`never done: ${JSON.stringify(samples)}`);
    const { hidden, state, pages, topic } = await view();
    if (hidden || topic !== smallTopic) { await page.waitForTimeout(20); continue; }
    if (!samples.length || samples.at(-1).state !== state || samples.at(-1).pages !== pages) {
      samples.push({ state, pages });
      if (state === "running" && !result.runningShot) { await shot("fanouts-1-running"); result.runningShot = true; }
    }
    if (state === "done") break;
    if (Date.now() > until) throw new Error(`never done: ${JSON.stringify(samples)}`);
    await page.waitForTimeout(50);
  }
  result.watched = { eventId: watched, samples, view: await view(), status: await text("fanout-status") };
  const getsAtDone = requests[`GET ${watched}`];
  await sleep(2500); // a fan-out that is over is not asked about again
  result.watched.getsAtDone = getsAtDone;
  result.watched.getsLater = requests[`GET ${watched}`];
  await shot("fanouts-2-done");

  // --- one cancelled part-way from the page ----------------------------------------------
  const cancelled = await send(bigTopic, "fan-cancelled");
  await show(cancelled);
  result.beforeCancel = await viewIs((v) => !v.hidden && v.topic === bigTopic && Number(v.pages) >= 3);
  await page.click("#fanout-cancel");
  await textIs("fanout-state", (t) => t === "cancelled");
  result.cancelled = { eventId: cancelled, view: await view(), status: await text("fanout-cancel-status") };
  await shot("fanouts-3-cancelled");
  const getsAtCancel = requests[`GET ${cancelled}`];
  await sleep(2500);
  result.cancelled.api = await apiState(cancelled);
  result.cancelled.getsAtCancel = getsAtCancel;
  result.cancelled.getsLater = requests[`GET ${cancelled}`];
  result.cancelled.deletes = requests[`DELETE ${cancelled}`];

  // --- one cancelled too late: 409 shown as such ------------------------------------------
  const late = await send(smallTopic, "fan-late");
  await show(late);
  await viewIs((v) => !v.hidden && v.state === "running");
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await page.route(`**/v1/fanouts/${late}*`, async (route) => {
    if (route.request().method() === "GET") await gate;
    await route.continue();
  });
  const deadline = Date.now() + wait.timeout;
  while ((await apiState(late)).state !== "done") {
    if (Date.now() > deadline) throw new Error("the late fan-out never finished");
    await sleep(100);
  }
  result.late = { shownBefore: await text("fanout-state") };
  await page.click("#fanout-cancel");
  await textIs("fanout-cancel-status", (t) => t.includes("409"));
  result.late.status = await text("fanout-cancel-status");
  release();
  await textIs("fanout-state", (t) => t === "done");
  result.late.view = await view();
  result.late.deletes = requests[`DELETE ${late}`];
  await shot("fanouts-4-too-late");
  await page.unroute(`**/v1/fanouts/${late}*`);

  // --- markup in a value is text -----------------------------------------------------------
  await show("<b>x</b>");
  await textIs("fanout-status", (t) => t !== "loading…");
  result.markup = { status: await text("fanout-status"), elements: await page.locator("#fanout-status *").count() };

  // --- sign out: nothing left ------------------------------------------------------------------
  await page.click("#logout");
  await page.waitForSelector("#login", { state: "visible", ...wait });
  result.signedOut = { viewHidden: await page.locator("#fanout-view").isHidden(),
                       status: await text("fanout-status") };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

// The operator's console (/console) in Chromium against a live stack: signed out it shows
// nothing, a wrong key is refused, then every page with live data: Live (figures moving while
// the page itself sends events), Dead letters (replay one with the confirmation), Users (look
// up, send a test notification), Tenants and keys, Trace. Screenshots of each step in
// HERALD_ARTIFACTS. Prints one JSON object (the last line).
// Env: HERALD_PRODUCER_URL, HERALD_ADMIN_KEY, HERALD_API_KEY (a tenant key, for sending),
// HERALD_USER, HERALD_EVENT_ID, HERALD_DEAD_ID.
import { env, launch, scaled, screenshotPath } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
const adminKey = env("HERALD_ADMIN_KEY");
const apiKey = env("HERALD_API_KEY");
const user = env("HERALD_USER");
const eventId = env("HERALD_EVENT_ID");
const deadId = env("HERALD_DEAD_ID");
const browser = await launch();
const result = { screenshots: [], console: [], dialogs: [] };
const wait = { timeout: scaled(20_000) };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  page.on("console", (m) => result.console.push(m.text()));
  page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => { result.dialogs.push(d.message()); d.accept(); });
  const shot = async (name) => {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    result.screenshots.push(name);
  };
  const text = (id) => page.locator(`#${id}`).innerText();
  const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { ...wait, polling: 100 });
  const signIn = async (key) => {
    await page.fill("#login-key", key);
    await page.click("#login-form button[type=submit]");
  };

  // --- signed out: the shell, nothing else -------------------------------------------------
  await page.goto(`${producer}/console#live`);
  await page.waitForSelector("#login", { state: "visible", ...wait });
  result.signedOut = {
    navHidden: await page.locator("#nav").isHidden(),
    liveHidden: await page.locator("#page-live").isHidden(),
    statsWithoutKey: await page.evaluate(async () => (await fetch("/v1/admin/stats")).status),
  };
  await shot("console-0-signed-out");

  // --- a wrong key -------------------------------------------------------------------------
  await signIn("not-the-admin-key-at-all-0123456789");
  await waitFor(() => document.querySelector("#login-error").textContent.includes("403"));
  result.wrongKey = {
    error: await text("login-error"),
    navHidden: await page.locator("#nav").isHidden(),
    keyKept: await page.evaluate(() => sessionStorage.getItem("heraldAdminKey")),
    rows: await page.locator("tbody tr").count(),
  };
  await shot("console-1-wrong-key");

  // --- Live ----------------------------------------------------------------------------------
  await signIn(adminKey);
  await page.waitForSelector("#page-live", { state: "visible", ...wait });
  await waitFor(() => document.querySelectorAll("#replicas tr").length >= 4);
  await waitFor(() => [...document.querySelectorAll("#gateways tr td:last-child")]
    .some((td) => td.textContent === "1"));
  // Events sent meanwhile (from the page, as any app would) move the figures without a reload.
  const started = await page.evaluate(() => performance.timeOrigin);
  const sending = page.evaluate(async ([target, key]) => {
    for (let n = 0; n < 40; n++) {
      await fetch("/v1/events", { method: "POST", headers: { "X-API-Key": key }, body: JSON.stringify(
        { type: "LIKE", actorId: `fan${n}`, targetId: target, postId: `live${n}` }) });
      await new Promise((r) => setTimeout(r, 50));
    }
  }, [user, apiKey]);
  await waitFor(() => Number(document.querySelector("#flow-accepted").textContent) > 0
    && Number(document.querySelector("#flow-delivered").textContent) > 0);
  await sending;
  await waitFor(() => document.querySelector("#latency-p50").textContent !== "–");
  result.live = {
    accepted: await text("flow-accepted"), delivered: await text("flow-delivered"),
    buffered: await text("flow-buffered"), queue: await text("level-notifyQueue"),
    deadLetters: await text("level-deadLetters"), p50: await text("latency-p50"),
    p99: await text("latency-p99"),
    replicas: await page.locator("#replicas tr td:first-child").allInnerTexts(),
    gateways: await page.locator("#gateways tr").allInnerTexts(),
    sameDocument: (await page.evaluate(() => performance.timeOrigin)) === started,
    build: await text("live-build"),
    redisMemory: await text("redis-memory"), redisPolicy: await text("redis-policy"),
    consumer: await text("level-consumerHolding"), refused: await text("flow-refused"),
  };
  await shot("console-2-live");

  // --- Dead letters: replay one ---------------------------------------------------------------
  await page.click("nav a[data-page=dead-letters]");
  await page.waitForSelector(`#dl-rows tr[data-id="${deadId}"]`, wait);
  const row = page.locator(`#dl-rows tr[data-id="${deadId}"]`);
  result.deadLetter = { cells: await row.locator("td").allInnerTexts() };
  await row.locator("summary").click();
  await shot("console-3-dead-letters");
  await row.locator("input.dl-pick").check();
  await page.click("#dl-replay");
  await waitFor(() => document.querySelector("#dl-status").textContent.startsWith("replayed 1"));
  result.deadLetter.status = await text("dl-status");
  result.deadLetter.rowsLeft = await page.locator(`#dl-rows tr[data-id="${deadId}"]`).count();
  await shot("console-4-dead-letter-replayed");

  // --- Users ------------------------------------------------------------------------------------
  await page.click("nav a[data-page=users]");
  await page.fill("#user-id", user);
  await page.click("#user-form button[type=submit]");
  await page.waitForSelector("#user-view", { state: "visible", ...wait });
  await waitFor(() => document.querySelector("#user-connections").textContent === "1");
  result.user = { connections: await text("user-connections"), pending: await text("user-pending"),
                  gateways: await text("user-gateways"),
                  history: await page.locator("#user-history tr").count() };
  await page.fill("#test-text", "hello from the console test");
  await page.click("#test-form button[type=submit]");
  await waitFor(() => document.querySelector("#test-status").textContent.startsWith("sent: event"));
  result.user.testEventId = await page.locator("#test-status a").innerText();
  await shot("console-5-users");

  // --- Tenants and keys ---------------------------------------------------------------------------
  await page.click("nav a[data-page=tenants]");
  await page.waitForSelector("#page-tenants", { state: "visible", ...wait });
  await page.waitForSelector('#tenants-rows tr[data-tenant="default"]', wait);
  await page.locator('#tenants-rows tr[data-tenant="default"] button').click();
  await page.waitForSelector("#keys-rows tr[data-key]", wait);
  result.tenants = { status: await text("tenants-status"),
                     keys: await page.locator("#keys-rows tr[data-key]").count(),
                     scopes: await page.locator("#keys-rows tr[data-key] td:nth-child(4)").first().innerText() };
  await shot("console-6-tenants");

  // --- Trace ----------------------------------------------------------------------------------------
  await page.click("nav a[data-page=trace]");
  await page.fill("#trace-id", eventId);
  await page.click("#trace-form button[type=submit]");
  await page.waitForSelector("#trace-timeline li[data-stage=persisted]", wait);
  result.trace = await page.locator("#trace-timeline li").evaluateAll(
    (items) => items.map((li) => li.dataset.stage));
  await shot("console-7-trace");
  // The replayed dead letter's trace: rate-limited, dead-lettered, then buffered.
  await page.fill("#trace-id", deadId);
  await page.click("#trace-form button[type=submit]");
  await waitFor((id) => document.querySelector("#trace-status").textContent.endsWith(`for ${id}`)
    && [...document.querySelectorAll("#trace-timeline li")].some((li) => li.dataset.stage === "delivered"),
  deadId);
  result.deadTrace = await page.locator("#trace-timeline li").evaluateAll(
    (items) => items.map((li) => li.dataset.stage));
  await shot("console-8-trace-of-the-replayed-dead-letter");
  await page.fill("#trace-id", "no-such-event");
  await page.click("#trace-form button[type=submit]");
  await waitFor(() => document.querySelector("#trace-status").textContent.includes("no trace"));
  result.unknownTrace = await text("trace-status");

  // --- sign out: nothing left on the page --------------------------------------------------------
  await page.click("#logout");
  await page.waitForSelector("#login", { state: "visible", ...wait });
  result.signedOutAgain = {
    navHidden: await page.locator("#nav").isHidden(),
    rows: await page.locator("tbody tr").count(),
    timeline: await page.locator("#trace-timeline li").count(),
  };
  await shot("console-9-signed-out-again");
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));

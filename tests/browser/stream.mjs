// The page that matters: a page using the SDK receives a stream while the test kills and
// restarts gateways and while this scenario takes the page's network away. Command mode
// (tests/support/browser.py, Scenario): open, offline, wait, report, screenshot, close.
// Env: HERALD_PRODUCER_URL, HERALD_GATEWAYS (ws URLs, space-separated), HERALD_TOKEN.
import { readFile } from "node:fs/promises";
import { env, launch, scaled, screenshotPath, serve, sleep } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
let browser, context, page;
const consoleLines = [];

async function report() {
  return page.evaluate(() => {
    const shown = [...document.querySelectorAll("#list li")].map((li) => li.dataset.id);
    const client = window.__herald;
    return {
      shown,
      unique: new Set(shown).size,
      acked: [...window.__log.acked],
      owed: client.ledger.owed.size,
      state: client.state,
      url: client.url,
      opens: window.__log.opens,
      states: window.__log.states,
      errors: window.__log.errors,
      stats: client.stats,
      duplicatesSkipped: client.ledger.duplicates,
    };
  });
}

await serve({
  async open() {
    browser = await launch();
    context = await browser.newContext();
    page = await context.newPage();
    page.on("console", (m) => consoleLines.push(m.text()));
    page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
    // The page is written into a document of the producer's origin (loopback: Chromium's
    // local-network-access checks let it open a WebSocket to the loopback gateway).
    const params = { gateways: env("HERALD_GATEWAYS").split(" "), token: env("HERALD_TOKEN") };
    const html = (await readFile(new URL("./pages/stream.html", import.meta.url), "utf8"))
      .replace("__PARAMS__", JSON.stringify(params).replaceAll("<", "\\u003c"));
    await page.goto(`${producer}/healthz`);
    await page.setContent(html);
    try {
      await page.waitForFunction(() => window.__herald?.state === "open", null, { timeout: scaled(15_000) });
    } catch (err) {
      const seen = await page.evaluate(() => ({ state: window.__herald?.state, log: window.__log }));
      throw new Error(`not open: ${JSON.stringify(seen)}; console: ${consoleLines.join(" | ")}`);
    }
    return page.evaluate(() => ({ url: window.__herald.url, connects: window.__herald.stats.connects }));
  },
  async offline({ ms }) {
    await context.setOffline(true);
    await sleep(ms);
    const during = await page.evaluate(() => ({ state: window.__herald.state, onLine: navigator.onLine }));
    await context.setOffline(false);
    return { during };
  },
  async wait({ count, timeoutMs }) {
    try {
      await page.waitForFunction((n) => {
        const shown = document.querySelectorAll("#list li").length;
        return shown >= n && window.__log.acked.size >= n && window.__herald.ledger.owed.size === 0;
      }, count, { timeout: scaled(timeoutMs), polling: 100 });
      return { done: true, ...(await report()) };
    } catch {
      return { done: false, ...(await report()) };
    }
  },
  // open again: at least `connects` connections have authenticated (so not the one before)
  async waitOpen({ connects, timeoutMs = 20_000 }) {
    await page.waitForFunction((n) => window.__herald.state === "open" && window.__herald.stats.connects >= n,
      connects, { timeout: scaled(timeoutMs), polling: 50 });
    return page.evaluate(() => ({ url: window.__herald.url, connects: window.__herald.stats.connects }));
  },
  report,
  async screenshot({ name }) {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    return { path: screenshotPath(name) };
  },
  async close() {
    await browser?.close();
    return { console: consoleLines.slice(-50) };
  },
});

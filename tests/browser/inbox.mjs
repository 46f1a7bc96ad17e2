// <herald-inbox> on the producer's /demo page against a live stack: the first page, infinite
// scroll, mark read, keyboard, mark all read, a live arrival sent from the page's own form;
// then a second tab of the same user: opening the bell in one clears both badges (seen), a
// click in the other marks read in both, an archive in the first leaves both lists.
// Screenshots of each step in HERALD_ARTIFACTS. Prints one JSON object (the last line).
// Env: HERALD_PRODUCER_URL, HERALD_GATEWAYS, HERALD_TOKEN, HERALD_USER, HERALD_EXPECTED,
// HERALD_API_KEY (the demo form sends it as X-API-Key).
import { env, launch, scaled, screenshotPath } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
const expected = Number(env("HERALD_EXPECTED"));
const hash = new URLSearchParams({ user: env("HERALD_USER"), token: env("HERALD_TOKEN"), gateway: env("HERALD_GATEWAYS"), key: env("HERALD_API_KEY") });
const browser = await launch();
const result = { screenshots: [], console: [] };
const wait = { timeout: scaled(20_000) };
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
  page.on("console", (m) => result.console.push(m.text()));
  page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
  const shot = async (name) => {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    result.screenshots.push(name);
  };
  const inbox = page.locator("herald-inbox");
  const rows = inbox.locator("li[data-id]");
  const badge = inbox.locator(".badge");
  const badgeText = () => inbox.evaluate((el) => {
    const b = el.shadowRoot.querySelector(".badge");
    return b.hidden ? null : b.textContent;
  });
  const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { ...wait, polling: 100 });

  await page.goto(`${producer}/demo#${hash}`);
  await waitFor(() => document.querySelector("herald-inbox")?.shadowRoot.querySelector(".state")?.dataset.state === "open");
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelectorAll("li[data-id]").length >= 20);
  await waitFor((n) => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").textContent === String(n), expected);
  await page.waitForTimeout(300); // replays settle
  result.firstPage = await rows.count();
  result.badgeAtStart = await badgeText();
  result.bellLabel = await inbox.locator(".bell").getAttribute("aria-label");
  await shot("inbox-1-first-page");

  // infinite scroll: scroll the list to its end until every notification is there
  for (let n = 0; n < 20 && (await rows.count()) < expected; n++) {
    await inbox.evaluate((el) => {
      const list = el.shadowRoot.querySelector("ul");
      list.scrollTop = list.scrollHeight;
    });
    await page.waitForTimeout(250);
  }
  result.afterScroll = await rows.count();
  await shot("inbox-2-scrolled-to-the-end");

  // mark one read
  await inbox.evaluate((el) => { el.shadowRoot.querySelector("ul").scrollTop = 0; });
  await inbox.locator("li.unread button[data-read]").first().click();
  await waitFor((n) => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").textContent === String(n), expected - 1);
  result.badgeAfterMarkRead = await badgeText();
  await shot("inbox-3-one-marked-read");

  // keyboard: into the list, down a row, Escape closes and gives focus back to the bell
  await rows.first().focus();
  await page.keyboard.press("ArrowDown");
  result.focusAfterArrowDown = await inbox.evaluate((el) => el.shadowRoot.activeElement?.dataset?.id ?? null);
  await page.keyboard.press("Escape");
  result.focusAfterEscape = await inbox.evaluate((el) => el.shadowRoot.activeElement?.classList.contains("bell") ? "bell" : String(el.shadowRoot.activeElement?.tagName));
  result.expandedAfterEscape = await inbox.locator(".bell").getAttribute("aria-expanded");
  await page.keyboard.press("Enter"); // the bell has focus: opens the panel again
  result.expandedAfterEnter = await inbox.locator(".bell").getAttribute("aria-expanded");

  // mark all read
  await inbox.locator(".mark-all").click();
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").hidden);
  result.badgeAfterMarkAll = await badgeText();
  result.unreadRowsAfterMarkAll = await inbox.locator("li.unread").count();
  await shot("inbox-4-all-read");

  // a live arrival, sent from the demo page's own form
  await page.selectOption("#type", "COMMENT");
  await page.fill("#text", "hello from the form");
  await page.click("#send");
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelectorAll("li.unread").length === 1);
  result.liveMessage = await inbox.locator("li.unread .message").textContent();
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").textContent === "1");
  result.badgeAfterLive = await badgeText();
  await page.waitForTimeout(100);
  result.liveRegion = await inbox.locator("[role=status]").textContent();
  result.sent = await page.textContent("#sent");
  await shot("inbox-5-live-arrival");
  result.rowsAtEnd = await rows.count();
  void badge;

  // a second tab of the same user
  const tab = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
  tab.on("pageerror", (e) => result.console.push(`tab pageerror: ${e.message}`));
  await tab.goto(`${producer}/demo#${hash}`);
  const inTab = (fn, arg) => tab.waitForFunction(fn, arg, { ...wait, polling: 100 });
  await inTab(() => document.querySelector("herald-inbox")?.shadowRoot.querySelector(".state")?.dataset.state === "open");
  await inTab(() => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").textContent === "1");
  const tabInbox = tab.locator("herald-inbox");
  const tabBadge = () => tabInbox.evaluate((el) => {
    const b = el.shadowRoot.querySelector(".badge");
    return b.hidden ? null : b.textContent;
  });
  result.tabBadgeAtStart = await tabBadge();
  // opening the bell in the first tab: everything seen, both badges go
  await inbox.locator(".bell").click(); // closes
  await inbox.locator(".bell").click(); // opens: MARK_ALL seen
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").hidden);
  await inTab(() => document.querySelector("herald-inbox").shadowRoot.querySelector(".badge").hidden);
  result.badgesAfterBellOpen = [await badgeText(), await tabBadge()];
  // a click on the live row in the second tab: read in both
  await inTab(() => document.querySelector("herald-inbox").shadowRoot.querySelectorAll("li.unread").length === 1);
  await tabInbox.locator("li.unread .message").first().click();
  await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelectorAll("li.unread").length === 0);
  result.unreadRowsAfterTabRead = await inbox.locator("li.unread").count();
  // archive the newest row in the first tab: it leaves both lists
  const before = await tabInbox.locator("li[data-id]").count();
  const archivedId = await rows.first().getAttribute("data-id");
  await inbox.locator("li[data-id] button[data-archive]").first().click();
  await inTab((id) => !document.querySelector("herald-inbox").shadowRoot.querySelector(`li[data-id="${id}"]`), archivedId);
  result.tabRowsAfterArchive = [before, await tabInbox.locator("li[data-id]").count()];
  result.rowsAfterArchive = await rows.count();
  result.seqs = [await inbox.evaluate((el) => el._seq), await tabInbox.evaluate((el) => el._seq)];
  await tab.screenshot({ path: screenshotPath("inbox-6-second-tab"), fullPage: true });
  result.screenshots.push("inbox-6-second-tab");
} catch (err) {
  result.error = String(err?.stack ?? err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
if (result.error) process.exit(1);

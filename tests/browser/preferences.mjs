// <herald-inbox> on the producer's /demo page, in command mode (tests/support/browser.py,
// Scenario), for tests that act on the services between browser steps: the preferences panel
// (open, set a type on/off, quiet hours, time zone, save), the rows as shown (text, child
// elements, links), and what ran (dialogs, page errors). Commands: open, reload, prefs, save,
// rows, waitMessage, inspect, screenshot, close.
// Env: HERALD_PRODUCER_URL, HERALD_GATEWAYS, HERALD_TOKEN, HERALD_USER, HERALD_API_KEY.
import { env, launch, scaled, screenshotPath, serve } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
const wait = { timeout: scaled(20_000) };
const log = { console: [], dialogs: [], requests: [] };
let browser, page, inbox;

const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { ...wait, polling: 100 });

async function prefsState() {
  return inbox.evaluate((el) => {
    const form = el.shadowRoot.querySelector(".prefs");
    return {
      hidden: form.hidden,
      expanded: el.shadowRoot.querySelector(".prefs-toggle").getAttribute("aria-expanded"),
      types: [...form.querySelectorAll("input[data-type]")].map((box) => ({
        type: box.dataset.type, checked: box.checked, disabled: box.disabled,
        label: box.closest("label").textContent,
      })),
      quietOn: form.querySelector(".quiet-on").checked,
      start: form.querySelector(".quiet-start").value,
      end: form.querySelector(".quiet-end").value,
      timeZone: form.querySelector(".time-zone").value,
      status: form.querySelector(".prefs-status").textContent,
      statusIsError: form.querySelector(".prefs-status").hasAttribute("data-error"),
    };
  });
}

await serve({
  async open() {
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
    page.on("console", (m) => log.console.push(m.text()));
    page.on("pageerror", (e) => log.console.push(`pageerror: ${e.message}`));
    page.on("dialog", (d) => { log.dialogs.push(d.message()); d.dismiss(); });
    const hash = new URLSearchParams({ user: env("HERALD_USER"), token: env("HERALD_TOKEN"),
                                       gateway: env("HERALD_GATEWAYS"), key: env("HERALD_API_KEY") });
    await page.goto(`${producer}/demo#${hash}`);
    inbox = page.locator("herald-inbox");
    await waitFor(() => document.querySelector("herald-inbox")?.shadowRoot.querySelector(".state")?.dataset.state === "open");
    return {};
  },

  /** Opens the preferences panel; what it shows once loaded. */
  async prefs() {
    await inbox.locator(".prefs-toggle").click();
    await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelectorAll(".prefs input[data-type]").length > 0
      && document.querySelector("herald-inbox").shadowRoot.querySelector(".prefs-status").textContent === "");
    return prefsState();
  },

  /** Sets what is given ({types: {name: bool}, quiet: {start, end} | null, timeZone}), clicks Save. */
  async save({ types = {}, quiet, timeZone }) {
    for (const [type, on] of Object.entries(types)) {
      await inbox.locator(`.prefs input[data-type="${type}"]`).setChecked(on);
    }
    if (quiet !== undefined) {
      await inbox.locator(".prefs .quiet-on").setChecked(quiet !== null);
      if (quiet) {
        await inbox.locator(".prefs .quiet-start").fill(quiet.start);
        await inbox.locator(".prefs .quiet-end").fill(quiet.end);
      }
    }
    if (timeZone !== undefined) await inbox.locator(".prefs .time-zone").fill(timeZone);
    await inbox.locator(".prefs .save-prefs").click();
    await waitFor(() => {
      const text = document.querySelector("herald-inbox").shadowRoot.querySelector(".prefs-status").textContent;
      return text === "Saved" || text.startsWith("Not saved");
    });
    return prefsState();
  },

  /** Loads the page again (the inbox starts from the history). */
  async reload() {
    await page.reload();
    await waitFor(() => document.querySelector("herald-inbox")?.shadowRoot.querySelector(".state")?.dataset.state === "open");
    await waitFor(() => document.querySelector("herald-inbox").shadowRoot.querySelector("ul").getAttribute("aria-busy") === "false"
      && document.querySelector("herald-inbox").shadowRoot.querySelector(".load-more").hidden);
    return {};
  },

  /** The rows as shown: id, the message's text, its child elements, links in the row; the badge. */
  async rows() {
    const badge = await inbox.evaluate((el) => {
      const b = el.shadowRoot.querySelector(".badge");
      return b.hidden ? null : b.textContent;
    });
    return { badge, rows: await inbox.evaluate((el) => [...el.shadowRoot.querySelectorAll("li[data-id]")].map((li) => {
      const message = li.querySelector(".message");
      return { id: li.dataset.id, text: message.textContent, children: message.childElementCount,
               html: message.innerHTML, links: li.querySelectorAll("a").length, unread: li.classList.contains("unread") };
    })) };
  },

  /** Waits for a row whose message contains `text`. */
  async waitMessage({ text }) {
    await waitFor((t) => [...document.querySelector("herald-inbox").shadowRoot.querySelectorAll("li[data-id] .message")]
      .some((m) => m.textContent.includes(t)), text);
    return {};
  },

  /** What ran or was made: dialogs, page errors, script/anchor/iframe elements anywhere. */
  async inspect() {
    const made = await page.evaluate(() => {
      const shadow = document.querySelector("herald-inbox").shadowRoot;
      const count = (selector) => shadow.querySelectorAll(selector).length + document.querySelectorAll(selector).length;
      return { scripts: shadow.querySelectorAll("script").length, anchors: count("a"), iframes: count("iframe"),
               images: count("img"), xss: window.__xss ?? null };
    });
    return { ...made, dialogs: log.dialogs, errors: log.console.filter((l) => l.startsWith("pageerror")) };
  },

  async screenshot({ name }) {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    return { path: screenshotPath(name) };
  },

  async close() {
    await browser?.close();
    return { console: log.console };
  },
});

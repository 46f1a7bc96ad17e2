// The console's "Types & templates" page (/console#catalog) against a live producer: sign in
// with the admin key, load tenant `default`, create a type, write its template with the live
// preview (POST /v1/templates/preview), save it (PUT), see a refused template's reason (422),
// set the default locale. Data the page shows is planted with markup to prove it is text.
// Screenshots of each step in HERALD_ARTIFACTS. Prints one JSON object (the last line).
// Env: HERALD_PRODUCER_URL, HERALD_ADMIN_KEY.
import { env, launch, scaled, screenshotPath } from "./lib.mjs";

const producer = env("HERALD_PRODUCER_URL");
const adminKey = env("HERALD_ADMIN_KEY");
const browser = await launch();
const result = { screenshots: [], console: [], dialogs: [] };
const wait = { timeout: scaled(20_000) };
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
  page.on("console", (m) => result.console.push(m.text()));
  page.on("pageerror", (e) => result.console.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => { result.dialogs.push(d.message()); d.accept(); });
  const shot = async (name) => {
    await page.screenshot({ path: screenshotPath(name), fullPage: true });
    result.screenshots.push(name);
  };
  const text = (id) => page.locator(`#${id}`).innerText();
  const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { ...wait, polling: 100 });
  // polls #id's text from here until `ok(text)` (no code evaluated in the page)
  const textIs = async (id, ok) => {
    const until = Date.now() + wait.timeout;
    for (;;) {
      const value = await page.locator(`#${id}`).textContent();
      if (ok(value)) return value;
      if (Date.now() > until) throw new Error(`#${id} never passed ${ok}: ${JSON.stringify(value)}`);
      await page.waitForTimeout(100);
    }
  };

  await page.goto(`${producer}/console#catalog`);
  await page.fill("#login-key", adminKey);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#page-catalog", { state: "visible", ...wait });
  result.navActive = await page.locator("nav a.active").innerText();

  // --- load the tenant: the five built-ins -------------------------------------------------
  await page.fill("#catalog-tenant", "default");
  await page.click("#catalog-form button[type=submit]");
  await page.waitForSelector("#catalog-view", { state: "visible", ...wait });
  result.builtins = await page.locator("#types-rows tr").evaluateAll((rows) => rows.map((r) => r.dataset.type));
  result.status = await text("catalog-status");
  await shot("catalog-1-built-ins");

  // --- a wrong type name is refused with its reason; then create task.assigned -----------
  await page.fill("#type-name", "1bad");
  await page.click("#type-form button[type=submit]");
  await textIs("type-status", (t) => t.includes('type'));
  result.badType = await text("type-status");
  await page.fill("#type-name", "task.assigned");
  await page.selectOption("#type-priority", "transactional");
  await page.check("#type-transactional");
  await page.fill("#type-digest-by", "data.taskId");
  await page.click("#type-form button[type=submit]");
  await page.waitForSelector('#types-rows tr[data-type="task.assigned"]', wait);
  result.created = {
    status: await text("type-status"),
    cells: await page.locator('#types-rows tr[data-type="task.assigned"] td').allInnerTexts(),
    editorType: await page.locator("#tpl-type").inputValue(),
  };
  await shot("catalog-2-type-created");

  // --- edit a template: the preview follows the keystrokes --------------------------------
  await page.fill("#tpl-locale", "en");
  await page.fill("#tpl-sample", '{"data": {"task": "<b>Ship</b> it"}}');
  await page.fill("#tpl-source", "{{ actorId }} assigned you {{ data.task }}");
  await textIs("tpl-preview", (t) => t === 'alice assigned you <b>Ship</b> it');
  result.preview = {
    text: await text("tpl-preview"),
    elements: await page.locator("#tpl-preview *").count(),
    error: await text("tpl-error"),
  };
  // an undefined variable: strict in the preview, the reason shown
  await page.fill("#tpl-source", "{{ actorId }} assigned you {{ data.nope }}");
  await textIs("tpl-error", (t) => t.includes("nope"));
  result.previewError = { error: await text("tpl-error"), preview: await text("tpl-preview") };
  await shot("catalog-3-preview-refused");
  await page.fill("#tpl-source", "{{ actorId }} assigned you {{ data.task }} ({{ count }})");
  await textIs("tpl-preview", (t) => t === 'alice assigned you <b>Ship</b> it (1)');
  await shot("catalog-4-preview");

  // --- save it: listed with version 1 ----------------------------------------------------
  await page.click("#template-form button[type=submit]");
  await page.waitForSelector('#templates-rows tr[data-template="task.assigned/en"]', wait);
  await textIs("tpl-status", (t) => t.startsWith('saved'));
  result.saved = {
    status: await text("tpl-status"),
    cells: await page.locator('#templates-rows tr[data-template="task.assigned/en"] td').allInnerTexts(),
  };
  await shot("catalog-5-saved");

  // --- a refused template: the sandbox's reason, nothing saved ------------------------------
  await page.fill("#tpl-source", "{{ actorId.__class__.__mro__ }}");
  await page.click("#template-form button[type=submit]");
  await textIs("tpl-status", (t) => t === "refused");
  await textIs("tpl-error", (t) => t.includes("__class__"));
  result.refused = {
    status: await text("tpl-status"),
    error: await text("tpl-error"),
    versions: await page.locator('#templates-rows tr[data-template="task.assigned/en"] td:nth-child(3)').allInnerTexts(),
  };
  await shot("catalog-6-refused");
  await page.fill("#tpl-source", "{% for i in range(10**9) %}x{% endfor %}");
  await page.click("#template-form button[type=submit]");
  await textIs("tpl-error", (t) => t.includes("range"));
  result.refusedLoop = await text("tpl-error");

  // --- edit the saved one from its row and save again: version 2 ------------------------------
  await page.locator('#templates-rows tr[data-template="task.assigned/en"] button', { hasText: "Edit" }).click();
  result.editorSource = await page.locator("#tpl-source").inputValue();
  await page.fill("#tpl-source", "{{ actorId }} gave you {{ data.task }}");
  await textIs("tpl-preview", (t) => t === 'alice gave you <b>Ship</b> it');
  await page.click("#template-form button[type=submit]");
  await waitFor(() => document.querySelector('#templates-rows tr[data-template="task.assigned/en"] td:nth-child(3)')?.textContent === "2");
  result.version2 = await page.locator('#templates-rows tr[data-template="task.assigned/en"] td').allInnerTexts();

  // --- the default locale -------------------------------------------------------------------
  await page.fill("#default-locale", "de");
  await page.click("#locale-form button[type=submit]");
  await textIs("catalog-default-locale", (t) => t === 'de');
  result.defaultLocale = await text("catalog-default-locale");
  await page.fill("#default-locale", "not a locale");
  await page.click("#locale-form button[type=submit]");
  await textIs("locale-status", (t) => t.includes('locale'));
  result.badLocale = await text("locale-status");
  await shot("catalog-7-default-locale");

  // --- delete the type -------------------------------------------------------------------------
  await page.fill("#type-name", "to.delete");
  await page.click("#type-form button[type=submit]");
  await page.waitForSelector('#types-rows tr[data-type="to.delete"]', wait);
  await page.locator('#types-rows tr[data-type="to.delete"] button', { hasText: "Delete" }).click();
  await page.waitForSelector('#types-rows tr[data-type="to.delete"]', { state: "detached", ...wait });
  result.afterDelete = await page.locator("#types-rows tr").evaluateAll((rows) => rows.map((r) => r.dataset.type));
  result.deleteStatus = await text("type-status");
  await shot("catalog-8-type-deleted");
} catch (err) {
  result.error = String(err?.stack ?? err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
if (result.error) process.exit(1);

// Shared by the scenarios: launch Debian's chromium with playwright-core, time scaled like the
// Python suite, screenshots under HERALD_ARTIFACTS, and the command loop (one JSON command a
// line on stdin, one JSON answer a line on stdout) that tests/support/browser.py drives.
import { createInterface } from "node:readline";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const FACTOR = Number(process.env.HERALD_TIMEOUT_FACTOR || "1");
export const scaled = (ms) => ms * FACTOR;
export const ARTIFACTS = process.env.HERALD_ARTIFACTS || ".";

export function env(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set`);
  }
  return value;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.HERALD_CHROMIUM || "/usr/bin/chromium",
    // root in CI: chromium's sandbox needs a user namespace it may not get
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
    timeout: scaled(30_000),
  });
}

export function screenshotPath(name) {
  return join(ARTIFACTS, `${name}.png`);
}

/** Serves commands until "close" (or stdin ends): handlers[cmd](args) -> answer object. */
export async function serve(handlers) {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const { cmd, ...args } = JSON.parse(line);
    let answer;
    try {
      if (!(cmd in handlers)) throw new Error(`unknown command ${cmd}`);
      answer = (await handlers[cmd](args)) ?? {};
    } catch (err) {
      answer = { error: String(err?.stack ?? err) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
    if (cmd === "close") break;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

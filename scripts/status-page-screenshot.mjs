// Screenshot of the status page for the documentation: `node dist/cli.js demo --http 127.0.0.1:9180` in one
// terminal, then `node scripts/status-page-screenshot.mjs [url] [file]` (needs Debian's chromium).
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2] ?? "http://127.0.0.1:9180/";
const file = process.argv[3] ?? "docs/status-page.png";
const profile = mkdtempSync(join(tmpdir(), "fb-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForSelector("#devices tbody tr[data-device]", { timeout: 15000 });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`saved ${file}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

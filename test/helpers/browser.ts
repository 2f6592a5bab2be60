/**
 * Headless Chromium (the distribution's /usr/bin/chromium, installed by scripts/test-prereqs.sh) driven by
 * playwright-core. Each launch gets a fresh temporary profile from playwright and touches no network of its own.
 */
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env["CHROMIUM"] ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 30_000,
  });
}

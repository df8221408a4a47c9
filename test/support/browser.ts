import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium package; no browser is ever downloaded. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Whether the browser tests can run here. In CI a missing Chromium is an
 * error (.ci/run installs it): the browser test must never be skipped there.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env["CI"] === "true") {
    throw new Error(`CI=true but no ${CHROMIUM}: install Debian's chromium package`);
  }
  process.stdout.write(
    `\n*** browser tests skipped: no ${CHROMIUM} (apt-get install chromium) ***\n\n`,
  );
  return false;
}

/**
 * Headless Chromium with a fresh profile; one context, so its tabs share
 * local storage like the tabs of one browser. `close` removes the profile.
 */
export async function launchChromium(): Promise<{
  context: BrowserContext;
  close: () => Promise<void>;
}> {
  const profile = await mkdtemp(join(tmpdir(), "vss-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

// The web console (/ui, src/http/console.ts) in a real browser: headless Chromium (Debian's
// `chromium`, driven by puppeteer-core) against a 3-node cluster of real processes. It shows the
// members and the partition map, follows a kill -9, keeps the admin buttons off without the
// token, and is saved as screenshots (docs/images/console-*.png were made by this test with
// FLYDB_SCREENSHOT_DIR=docs/images).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { type LoopbackCluster, startLoopbackCluster } from "../helpers/loopback-cluster.ts";

// The functions given to waitForFunction/$eval run in the page; the tests' own types have no DOM
// library, so what they touch is declared here, in this module only.
interface PageElement {
  readonly textContent: string | null;
  readonly children: ArrayLike<PageElement>;
  disabled: boolean;
  value: string;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  getElementById(id: string): PageElement | null;
};
declare const performance: { getEntriesByType(type: string): { name: string; startTime: number }[] };

setDefaultTimeout(90_000);
const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "console-test-token";
// Installed by scripts/install-test-deps.sh: CI never skips this.
const skip = !existsSync(CHROMIUM) && process.env.CI !== "true";
const shots = process.env.FLYDB_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), "flydb-console-"));

describe.skipIf(skip)("web console in headless Chromium", () => {
  let cluster: LoopbackCluster;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    cluster = await startLoopbackCluster({
      size: 3,
      partitions: 16,
      prefix: "ui",
      args: ["--http-auth-token", TOKEN, "--log-level", "info"],
    });
    await cluster.settled();
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  /** Member id → state as the page shows it. */
  const shownStates = () =>
    page.$$eval("[data-test=members] tbody tr", (rows) =>
      Object.fromEntries(rows.map((r) => [r.getAttribute("data-member"), r.children[1]!.textContent])),
    );
  const cells = () =>
    page.$$eval("[data-test=partition-map] .cell", (cs) =>
      cs.map((c) => ({ cls: c.className, leader: c.textContent })),
    );

  test("loads from the node itself and shows every member alive and every partition healthy with a leader", async () => {
    const first = cluster.members[0]!;
    const response = await page.goto(`${first.proc.http}/ui`, { waitUntil: "load" });
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-type"]).toContain("text/html");
    await page.waitForFunction(() => document.querySelectorAll("[data-test=members] tbody tr").length === 3, {
      timeout: 20_000,
    });
    const ids = cluster.members.map((m) => m.id);
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-test=partition-map] .cell.healthy").length === n,
      { timeout: 20_000 },
      16,
    );
    expect(await shownStates()).toEqual(Object.fromEntries(ids.map((id) => [id, "alive"])));
    const map = await cells();
    expect(map.length).toBe(16);
    for (const c of map) expect(ids).toContain(c.leader);
    expect(await page.$eval("header", (h) => h.textContent)).toContain(`${first.id} · cluster`);
    // The log view shows the node's own lines, such as the balance it reports as metadata leader or its admission.
    await page.waitForFunction(() => (document.querySelector("[data-test=log]")?.textContent ?? "").includes("INFO"), {
      timeout: 20_000,
    });
    // Throughput is drawn from the node's /metrics once two samples exist.
    const c = cluster.client(first);
    for (let i = 0; i < 50; i++) await c.set(`ui:${i}`, "x");
    await page.waitForFunction(() => /\d+ commands\/s/.test(document.getElementById("ops-now")?.textContent ?? ""), {
      timeout: 20_000,
    });
    await page.screenshot({ path: join(shots, "console-healthy.png"), fullPage: true });
    expect(statSync(join(shots, "console-healthy.png")).size).toBeGreaterThan(10_000);
  });

  test("after a kill -9 the page shows the member down and no partition led by it", async () => {
    const victim = cluster.members[2]!;
    await cluster.kill9(victim);
    await page.waitForFunction(
      (id) => {
        const row = document.querySelector(`[data-test=members] tr[data-member="${id}"]`);
        const state = row?.children[1]?.textContent;
        return state === "suspect" || state === "dead";
      },
      { timeout: 30_000 },
      victim.id,
    );
    // Raft moves the victim's leaderships to the survivors; the page follows.
    await page.waitForFunction(
      (id) =>
        [...document.querySelectorAll("[data-test=partition-map] .cell")].every(
          (c) => c.textContent !== id && c.textContent !== "—",
        ),
      { timeout: 30_000 },
      victim.id,
    );
    const counts = await page.$eval("#partition-counts", (e) => e.textContent ?? "");
    expect(counts).toMatch(/\d+ healthy/);
    expect(counts).toContain("of 16");
    await page.screenshot({ path: join(shots, "console-after-kill.png"), fullPage: true });
  });

  test("join and leave stay disabled without the token; with it, the node answers the console's request", async () => {
    expect(await page.$eval("#leave", (b) => (b as unknown as PageElement).disabled)).toBe(true);
    expect(await page.$eval("#join", (b) => (b as unknown as PageElement).disabled)).toBe(true);
    await page.type("#token", TOKEN);
    expect(await page.$eval("#join", (b) => (b as unknown as PageElement).disabled)).toBe(false);
    // Joining a member it already knows is harmless and proves the token reaches the node.
    await page.type("#peers", `127.0.0.1:${cluster.members[1]!.proc.gossip}`);
    await page.click("#join");
    await page.waitForFunction(() => (document.getElementById("admin-result")?.textContent ?? "").startsWith("200"), {
      timeout: 10_000,
    });
    await page.$eval("#token", (i) => {
      (i as unknown as PageElement).value = "wrong";
    });
    await page.click("#join");
    await page.waitForFunction(() => (document.getElementById("admin-result")?.textContent ?? "").startsWith("401"), {
      timeout: 10_000,
    });
  });

  test("page weight and first render, measured in the browser", async () => {
    const fresh = await browser.newPage();
    const url = `${cluster.members[0]!.proc.http}/ui`;
    let bytes = 0;
    fresh.on("response", async (r) => {
      if (r.url() === url) bytes = (await r.buffer()).length;
    });
    await fresh.goto(url, { waitUntil: "load" });
    await fresh.waitForFunction(() => document.querySelectorAll("[data-test=members] tbody tr").length > 0);
    // Paint timings are recorded after the frame is presented: wait for the entry, not just for the DOM.
    const fcpHandle = await fresh.waitForFunction(
      () => performance.getEntriesByType("paint").find((e) => e.name === "first-contentful-paint")?.startTime,
      { timeout: 10_000 },
    );
    const fcp = Number(await fcpHandle.jsonValue());
    console.log(
      `console page: ${bytes} bytes, one request for the page itself; first contentful paint ${fcp.toFixed(0)} ms`,
    );
    expect(bytes).toBeGreaterThan(1000);
    expect(fcp).toBeGreaterThan(0);
    await fresh.close();
  });
});

// The dashboard end to end in headless Chromium against a real `deviant serve`:
// upload a KDD-derived CSV → explore → train an autoencoder → see the run finish → move the
// threshold and see the metrics change → predict on new rows → stream rows through the model
// from a Redis stream (redis-server on a port of its own) and watch them live. Screenshots at
// 390, 768 and 1280 px go to e2e/screenshots/.
//
//   node dashboard.mjs [path/to/deviant]     (default ../target/debug/deviant)
//
// Needs Debian's `chromium` (or CHROMIUM=path) and the KDD Cup 99 files under
// $DEVIANT_DATASETS/kddcup99 or ../shared/datasets/kddcup99; without the files it says so and
// exits 0, like the Rust tests that need them.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const binary = resolve(process.argv[2] || join(here, "../target/debug/deviant"));
const datasets = process.env.DEVIANT_DATASETS || join(here, "../../shared/datasets");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = join(here, "screenshots");

if (!existsSync(join(datasets, "kddcup99/corrected.gz"))) {
  console.log(`skipped: no KDD Cup 99 files under ${datasets}/kddcup99`);
  process.exit(0);
}

const freePort = () =>
  new Promise((done) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });

const work = mkdtempSync(join(tmpdir(), "deviant-e2e-"));
// The `cloudera` protocol's validation split: 18 traffic features and a 0/1 label.
execFileSync(binary, ["--quiet", "data", "kdd99", "--protocol", "cloudera", "--out", join(work, "kdd")], {
  env: { ...process.env, DEVIANT_DATASETS: datasets },
  stdio: "inherit",
});
const csv = join(work, "kdd/validation.csv");
const lines = readFileSync(csv, "utf8").split("\n");
const normalRow = lines.slice(1).find((l) => l.endsWith(",0"));
const attackRow = lines.slice(1).find((l) => l.endsWith(",1"));
const dropLabel = (line) => line.split(",").slice(0, -1).join(",");
const header = dropLabel(lines[0]);

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(binary, ["serve", "--no-auth", "--addr", `127.0.0.1:${port}`, "--home", join(work, "home")], {
  stdio: ["ignore", "inherit", "inherit"],
});
let browser;
let passed = 0;
let datasetPage;
const step = async (name, body) => {
  process.stdout.write(`${name} … `);
  await body();
  passed += 1;
  console.log("ok");
};

try {
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${base}/api/v1/health`)).ok) break;
    } catch (_) {
      if (i > 300) throw new Error("the server never answered");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
  const scriptErrors = [];
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  // The pages carry no inline script: a Content-Security-Policy refusal is a failure.
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) scriptErrors.push(m.text());
  });

  await step("upload", async () => {
    await page.goto(base + "/");
    await page.setInputFiles("input[name=file]", csv);
    await page.click("#upload button[type=submit]");
    await page.waitForURL(/\/datasets\/[0-9a-f]{16}$/);
    datasetPage = page.url();
  });

  await step("explore", async () => {
    assert.match(await page.textContent("main"), /62206 rows/);
    assert.match(await page.textContent("main"), /Numeric columns/);
    assert.ok((await page.locator("figure svg").count()) >= 19, "a chart per column");
    await page.screenshot({ path: join(shots, "explore-1280.png"), fullPage: true });
  });

  await step("train an autoencoder", async () => {
    await page.click("text=Train a detector on it");
    await page.waitForURL(/\/train\?dataset=/);
    await page.selectOption("select[name=detector]", "ae");
    assert.equal(await page.inputValue("select[name=label]"), "label", "the label column is guessed");
    const params = JSON.parse(await page.inputValue("textarea[name=params]"));
    params.training.epochs = 3;
    await page.fill("textarea[name=params]", JSON.stringify(params));
    await page.click("#train button[type=submit]");
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
  });

  await step("the run finishes", async () => {
    await page.waitForSelector(".status.succeeded", { timeout: 300_000 });
    assert.ok((await page.locator("figure svg").count()) >= 7, "the report's charts");
  });

  await step("moving the threshold updates the metrics", async () => {
    const before = {
      threshold: await page.textContent("#threshold-value"),
      f1: await page.textContent("#m-f1"),
      tp: await page.textContent("#c-tp"),
    };
    await page.locator("#threshold").fill("0.97");
    const after = {
      threshold: await page.textContent("#threshold-value"),
      f1: await page.textContent("#m-f1"),
      tp: await page.textContent("#c-tp"),
    };
    assert.notEqual(after.threshold, before.threshold);
    assert.notEqual(after.f1, before.f1);
    assert.ok(Number(after.tp) < Number(before.tp), "a higher threshold flags fewer anomalies");
    await page.screenshot({ path: join(shots, "run-1280.png"), fullPage: true });
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.screenshot({ path: join(shots, "run-768.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(shots, "run-390.png"), fullPage: true });
  });

  await step("predict on new rows", async () => {
    await page.click("text=Score new rows with this model");
    await page.waitForURL(/\/predict\//);
    await page.fill("textarea[name=rows]", [header, dropLabel(normalRow), dropLabel(attackRow)].join("\n"));
    await page.click("#predict button[type=submit]");
    await page.waitForSelector("#predictions:not([hidden])");
    assert.equal(await page.locator("#predictions tbody tr").count(), 2);
    assert.ok(await page.getAttribute("#download", "href"), "a CSV to download");
    const [saved] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    const download = readFileSync(await saved.path(), "utf8");
    assert.equal(download.trim().split("\n").length, 3, "a header and two scored rows");
    assert.equal(await page.evaluate(() => deviant.csvText("=HYPERLINK(1)")), `"'=HYPERLINK(1)"`, "formulas stay text");
    assert.equal(await page.evaluate(() => deviant.csvText('a "b"')), '"a ""b"""');
    await page.screenshot({ path: join(shots, "predict-390.png"), fullPage: true });
  });

  await step("runs list", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(base + "/runs");
    assert.equal(await page.locator("#runs tbody tr").count(), 1);
    await page.screenshot({ path: join(shots, "runs-1280.png"), fullPage: true });
  });

  await step("find the best detector", async () => {
    await page.goto(datasetPage);
    await page.click("#find-best");
    await page.waitForURL(/detector=select/);
    assert.equal(await page.inputValue("select[name=detector]"), "select");
    await page.fill("input[name=budget_seconds]", "20");
    await page.click("#train button[type=submit]");
    await page.waitForURL(/\/runs\/[0-9a-f]{16}$/);
    // The leaderboard fills while candidates are tried, then the run is a run like any other.
    await page.waitForSelector("#leaderboard tbody tr", { timeout: 60_000 });
    await page.waitForSelector(".status.succeeded", { timeout: 300_000 });
    assert.ok((await page.locator("#leaderboard tr.chosen").count()) >= 1, "the choice is marked");
    assert.equal(await page.locator("text=Score new rows with this model").count(), 1);
    assert.ok(await page.locator("#threshold").count(), "the threshold explorer");
    await page.screenshot({ path: join(shots, "select-1280.png"), fullPage: true });
  });

  await step("stream rows through the model, live", async () => {
    const redisPort = await freePort();
    const redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", ""], {
      stdio: "ignore",
    });
    const cli = (...args) =>
      execFileSync("redis-cli", ["-p", String(redisPort), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    try {
      for (let i = 0; ; i += 1) {
        try {
          if (cli("PING").trim() === "PONG") break;
        } catch (_) {
          if (i > 100) throw new Error("redis-server never answered");
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const runs = await (await fetch(`${base}/api/v1/runs`)).json();
      const run = runs.find((r) => r.detector === "ae");
      await page.goto(base + "/streams");
      await page.selectOption("select[name=run]", run.id);
      await page.fill("input[name=source]", `redis://127.0.0.1:${redisPort}/flows`);
      await page.fill("input[name=sink]", `redis://127.0.0.1:${redisPort}/scores`);
      await page.click("#start-stream button[type=submit]");
      await page.waitForURL(/\/streams\/[0-9a-f]{16}$/);
      const names = header.split(",");
      const asJson = (line) =>
        JSON.stringify(Object.fromEntries(dropLabel(line).split(",").map((v, i) => [names[i], Number(v)])));
      for (const row of [normalRow, normalRow, attackRow, "not json"]) {
        cli("XADD", "flows", "*", "json", row === "not json" ? "{" : asJson(row));
      }
      await page.waitForFunction(() => Number(document.getElementById("rows").textContent) >= 4);
      await page.waitForSelector("#live-scores polyline");
      assert.equal(await page.textContent("#refused"), "1", "the malformed entry is refused");
      // Rows flagged before the page's event feed opened come with its first view.
      await page.waitForFunction(
        () => document.querySelectorAll("#flagged tbody tr").length ===
          Number(document.getElementById("flagged-count").textContent),
        null,
        { timeout: 10000 },
      ).catch(async () => {
        assert.fail(`each flagged row is listed: ${await page.locator("#flagged tbody tr").count()} rows ` +
          `for ${await page.textContent("#flagged-count")} flagged`);
      });
      assert.equal(cli("XLEN", "scores").trim(), "3", "the scores reach the sink");
      await page.screenshot({ path: join(shots, "stream-1280.png"), fullPage: true });
      await page.click("#stop");
      await page.waitForFunction(() => document.getElementById("state").textContent.startsWith("stopped"));
    } finally {
      redis.kill();
    }
  });

  assert.deepEqual(scriptErrors, [], "no script errors");
  console.log(`${passed} passed, 0 failed`);
} catch (error) {
  console.error(error);
  console.log(`${passed} passed, 1 failed`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  server.kill();
}

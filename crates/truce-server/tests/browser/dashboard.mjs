// Browser tests of truce's dashboard: log in as each role in headless
// chromium, see what that role may see, fail to see what it may not.
// Run by crates/truce-server/tests/browser.rs, which starts the server and
// passes: TRUCE_URL, TRUCE_PASSWORD (every demo user's), TRUCE_SCREENSHOTS
// (a directory), CHROMIUM (the browser binary).
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

const base = process.env.TRUCE_URL;
const password = process.env.TRUCE_PASSWORD;
const shots = process.env.TRUCE_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

let failures = 0;
async function scenario(name, body) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Everything the pages need comes from the server itself: no CSP violations.
  page.on("console", (m) => m.text().includes("Content Security Policy") && errors.push(m.text()));
  try {
    await body(page);
    assert.deepEqual(errors, [], "no script errors on the page");
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.message}`);
    await page.screenshot({ path: `${shots}/FAILED-${name}.png`, fullPage: true }).catch(() => {});
  } finally {
    await context.close();
  }
}

const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });

async function status(page, path) {
  const response = await page.goto(base + path);
  return response.status();
}

async function login(page, user) {
  await page.goto(base + "/login");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);
  assert.match(await page.textContent("header .who"), new RegExp(`Signed in as ${user}`));
}

// Person lists each reader may open, and those it must not.
const own = {
  intermediary: { see: ["ua-sought-pow", "ru-held-pow"], not: [] },
  ua: { see: ["ua-sought-pow", "ua-held-pow"], not: ["ru-held-pow", "ru-sought-pow"] },
  "ru-viewer": { see: ["ru-held-pow"], not: ["ua-held-pow", "ua-sought-pow"] },
  observer: { see: [], not: ["ua-held-pow", "ru-held-pow"] },
};

await scenario("public", async (page) => {
  await page.goto(base + "/");
  assert.match(await page.textContent("main"), /signed entries in the latest checkpoint/);
  assert.ok((await page.locator("main svg").count()) >= 2, "progress plots on the overview");
  assert.match(await page.textContent("header .who"), /Public view/);
  // Why it matters, first: the disputed count beside the signed record.
  assert.match(await page.textContent("main"), /ru said 6,060 bodies handed over to Ukraine/);
  assert.match(await page.textContent("main"), /the signed record counts 6,057/);
  await shot(page, "public-overview");
  await page.goto(base + "/exchanges");
  assert.match(await page.textContent("main"), /6,057/, "the recorded remains figure");
  assert.match(await page.textContent("main"), /6,060/, "the claimed figure beside it");
  await shot(page, "public-exchanges");
  await page.goto(base + "/lists");
  assert.match(await page.textContent("main"), /No person list is visible to you/);
  assert.equal(await status(page, "/lists/ua-held-pow"), 404);
  assert.equal(await status(page, "/review"), 403);
  assert.equal(await status(page, "/admin"), 403);
  assert.equal(await page.locator("nav a[href='/review']").count(), 0, "no review link");
});

await scenario("agreement", async (page) => {
  await page.goto(base + "/agreement?today=2025-06-05");
  const text = await page.textContent("main");
  assert.match(text, /days left/, "a deadline still running on 5 June 2025");
  await page.goto(base + "/agreement?today=2025-07-01");
  assert.match(await page.textContent("main"), /overdue by|answered/);
  assert.ok((await page.locator("main svg circle").count()) > 0, "positions plotted");
  await shot(page, "agreement");
});

await scenario("inclusion-proof", async (page) => {
  await page.goto(base + "/exchanges");
  // Follow a figure to the entry behind it: a stage's tally.
  const link = page.locator("main table a[href^='/log/']").first();
  await Promise.all([page.waitForURL(/\/log\/\d+$/), link.click()]);
  await page.waitForSelector("#proof-status.ok, #proof-status.bad", { timeout: 10000 });
  const verdict = await page.textContent("#proof-status");
  assert.match(verdict, /Verified in this browser/);
  assert.match(verdict, /signature by the log key verifies/);
  await shot(page, "entry-proof");
  // The check can fail: a proof with one hash changed must not verify.
  const tampered = await page.evaluate(async () => {
    const el = document.getElementById("proof");
    const hashes = el.dataset.proof.split(",");
    hashes[0] = btoa(String.fromCharCode(...new Uint8Array(32)));
    el.dataset.proof = hashes.join(",");
    await checkProof(el);
    return document.getElementById("proof-status").className;
  });
  assert.equal(tampered, "bad", "a tampered proof is refused");
});

await scenario("wrong-password", async (page) => {
  await page.goto(base + "/login");
  await page.fill("input[name=user]", "ua");
  await page.fill("input[name=password]", "not the password");
  await page.click("button[type=submit]");
  assert.match(await page.textContent("main"), /Wrong user name or password/);
  assert.match(await page.textContent("header .who"), /Public view/);
});

for (const user of Object.keys(own)) {
  await scenario(`login-${user}`, async (page) => {
    await login(page, user);
    await shot(page, `${user}-overview`);
    await page.goto(base + "/lists");
    await shot(page, `${user}-lists`);
    for (const list of own[user].see) {
      assert.equal(await status(page, `/lists/${list}`), 200, `${user} opens ${list}`);
      assert.ok((await page.locator("main tbody tr").count()) > 10, `${list} shows its persons`);
    }
    for (const list of own[user].not) {
      assert.equal(await status(page, `/lists/${list}`), 404, `${user} must not open ${list}`);
    }
    const reviews = user === "intermediary";
    assert.equal(await status(page, "/review"), reviews ? 200 : 403);
    if (reviews) {
      // Pick the other pair of lists with the picker.
      const other = await page.$eval("select[name=pair] option:not([selected])", (o) => o.value);
      await page.selectOption("select[name=pair]", other);
      await Promise.all([page.waitForURL(/pair=/), page.click("text=Show")]);
      assert.equal(await page.$eval("select[name=pair]", (s) => s.value), other);
      assert.ok((await page.locator("main tbody tr").count()) > 0, "candidates to review");
      assert.ok((await page.locator("button[value=confirmed]").count()) > 0, "the signer may decide");
      await shot(page, "intermediary-review");
    }
    const admin = user === "intermediary" || user === "ua";
    await page.goto(base + "/");
    assert.equal(await page.locator("nav a[href='/admin']").count(), admin ? 1 : 0);
    assert.equal(await status(page, "/admin"), admin ? 200 : 403);
    await page.goto(base + "/");
    await Promise.all([page.waitForURL(base + "/"), page.click("header form button")]);
    assert.match(await page.textContent("header .who"), /Public view/, "logged out");
  });
}

await scenario("decide-a-match", async (page) => {
  await login(page, "intermediary");
  await page.goto(base + "/review");
  const pairs = () => page.$$eval("main tbody form", (forms) =>
    forms.map((f) => `${f.sought_person.value} ${f.held_person.value}`));
  const [first] = await pairs();
  await Promise.all([page.waitForURL(/\/review\?/), page.locator("button[value=rejected]").first().click()]);
  assert.ok(!(await pairs()).includes(first), "the decided candidate left the queue");
  await page.goto(base + "/log");
  assert.match(await page.textContent("main"), /match_decided/);
});

await scenario("a-party-signs-a-position", async (page) => {
  await login(page, "ua");
  await page.goto(base + "/agreement");
  await page.selectOption("select[name=term]", "ru-memorandum-2025-06#ceasefire-options");
  await page.selectOption("select[name=stance]", "rejected");
  await page.fill("input[name=date]", "2025-06-30");
  await page.fill("input[name=note]", "browser test: rejected as tabled");
  await Promise.all([page.waitForURL(/\/agreement\?today=2025-06-30/), page.click("text=Sign and record")]);
  assert.match(await page.textContent("main"), /browser test: rejected as tabled/);
  await shot(page, "ua-position");
  // A viewer has no such form.
  await page.click("header form button");
  await login(page, "ru-viewer");
  await page.goto(base + "/agreement");
  assert.equal(await page.locator("text=Sign and record").count(), 0);
});

await scenario("admin-adds-a-user", async (page) => {
  await login(page, "ua");
  await page.goto(base + "/admin");
  // The add form; each listed user has its own small remove form.
  const add = page.locator("form.stack[action='/admin']");
  await add.locator("input[name=name]").fill("ua-clerk");
  await add.locator("input[name=password]").fill("a long enough password");
  await add.locator("input[value=viewer]").check();
  await add.locator("button[type=submit]").click();
  assert.match(await page.textContent("main"), /Saved user ua-clerk/);
  await shot(page, "ua-admin");
  // Removed again from the same page.
  await page.locator("form[action='/admin/users/remove']:has(input[value=ua-clerk]) button").click();
  assert.match(await page.textContent("main"), /Removed user ua-clerk/);
});

await browser.close();
console.log(failures ? `${failures} browser scenario(s) failed` : "all browser scenarios passed");
process.exit(failures ? 1 : 0);

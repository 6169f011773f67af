// The check page in headless Chromium (Debian's /usr/bin/chromium through playwright-core):
// the QR code's URL of a document signed by the test shows "hợp lệ"; after a revocation through
// the API a reload shows the revoked state; a tampered copy uploaded through the form fails.
// A screenshot of each state goes to OUT. Run by tests/check_page_browser.rs, which passes:
//   CHECK_URL  the URL decoded from the signed PDF's QR code
//   API_KEY    a portal key, for the revocation
//   TAMPERED   path of a tampered copy of the signed PDF
//   OUT        the folder for screenshots
// Prints one JSON line with what it measured; exits non-zero on the first failed check.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const { CHECK_URL, API_KEY, TAMPERED, OUT } = process.env;
for (const [k, v] of Object.entries({ CHECK_URL, API_KEY, TAMPERED, OUT })) {
  if (!v) throw new Error(`${k} is not set`);
}
mkdirSync(OUT, { recursive: true });

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const measured = {};
try {
  // A phone, as most visitors scanning the QR code are.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    locale: 'vi-VN',
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  // 1. Valid.
  const resp = await page.goto(CHECK_URL, { waitUntil: 'load' });
  check(resp.status() === 200, `GET ${CHECK_URL}: ${resp.status()}`);
  const state = page.locator('[data-status]');
  check((await state.getAttribute('data-status')) === 'valid', 'valid state');
  check((await state.innerText()).includes('hợp lệ'), '"hợp lệ" shown');
  check((await page.locator('[data-proof="checked"]').innerText()).includes('đã kiểm tra'), 'log proof checked');
  check((await page.getAttribute('html', 'lang')) === 'vi', 'lang="vi"');
  // Everything the page loads: one document, nothing else.
  const weight = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const others = performance.getEntriesByType('resource');
    return { document: nav.decodedBodySize, resources: others.length, names: others.map((o) => o.name) };
  });
  measured.page_bytes = weight.document;
  check(weight.resources === 0, `no other resources (${weight.names.join(', ')})`);
  check(weight.document < 100 * 1024, `page weight ${weight.document}`);
  // Keyboard: Tab reaches the file input and the button, with a visible focus outline.
  let reached = false;
  for (let i = 0; i < 15 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'file');
  }
  check(reached, 'the file input is reachable by keyboard');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check(outline !== 'none', `focus outline (${outline})`);
  await page.evaluate(() => document.activeElement.blur());
  await page.screenshot({ path: join(OUT, '1-valid.png'), fullPage: true });

  // 2. Revoked through the API, then a reload.
  const r = await context.request.post(CHECK_URL.replace('/v/', '/v1/documents/') + '/revoke', {
    headers: { authorization: `Bearer ${API_KEY}` },
    data: { reason: 'Cấp nhầm người nhận' },
  });
  check(r.status() === 200, `revoke: ${r.status()} ${await r.text()}`);
  await page.reload({ waitUntil: 'load' });
  check((await state.getAttribute('data-status')) === 'revoked', 'revoked state');
  check((await state.innerText()).includes('đã bị thu hồi'), '"đã bị thu hồi" shown');
  check((await state.innerText()).includes('Cấp nhầm người nhận'), 'reason shown');
  check(await page.locator('[data-status-proof="checked"]').isVisible(), 'the revocation is in the log, checked');
  await page.screenshot({ path: join(OUT, '2-revoked.png'), fullPage: true });

  // 3. A tampered copy through the form: fails, and is not the issued file.
  await page.setInputFiles('#file', TAMPERED);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form.up button')]);
  const light = page.locator('[data-light]');
  check((await light.getAttribute('data-light')) === 'red', 'tampered copy is red');
  check((await light.innerText()).includes('Không đạt'), '"Không đạt" shown');
  check((await page.locator('[data-identical]').getAttribute('data-identical')) === 'false', 'not identical');
  await page.click('summary');
  await page.screenshot({ path: join(OUT, '3-tampered.png'), fullPage: true });

  // 4. The English switch works from the page, without JavaScript-only paths.
  await page.goto(CHECK_URL, { waitUntil: 'load' });
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('header a[hreflang="en"]')]);
  check((await page.getAttribute('html', 'lang')) === 'en', 'lang="en"');
  check((await state.innerText()).includes('revoked'), 'English revoked state');
  await page.screenshot({ path: join(OUT, '4-revoked-en.png'), fullPage: true });

  // 5. Without JavaScript the essentials work the same: the state, and the upload form.
  const nojs = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, locale: 'vi-VN' });
  const plain = await nojs.newPage();
  await plain.goto(CHECK_URL, { waitUntil: 'load' });
  check((await plain.locator('[data-status]').getAttribute('data-status')) === 'revoked', 'no-JS: revoked state');
  await plain.setInputFiles('#file', TAMPERED);
  await Promise.all([plain.waitForNavigation({ waitUntil: 'load' }), plain.click('form.up button')]);
  check((await plain.locator('[data-light]').getAttribute('data-light')) === 'red', 'no-JS: tampered copy is red');
  await nojs.close();

  // No script error and no Content-Security-Policy violation on any of them.
  check(problems.length === 0, `console errors: ${problems.join(' | ')}`);
  measured.screenshots = ['1-valid.png', '2-revoked.png', '3-tampered.png', '4-revoked-en.png'];
  console.log(JSON.stringify({ ok: true, ...measured }));
} finally {
  await browser.close();
}

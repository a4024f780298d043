#!/usr/bin/env node
// Drives headless Chromium through frontdoor's own sign-in page (tests/login_browser.rs).
//
// Usage: node signin.mjs '<json>'
//
// JSON fields:
//   base        (required) https://localhost:PORT of frontdoor
//   start       a protected path (default /app/dashboard)
//   user, password             a user without a second factor
//   totpUser, totpSecret       a user with one, and its base32 secret (password: `password`)
//   lockoutUser                a user whose sixth wrong password must show the lockout page
//   screenshot  where to write a PNG of the sign-in page
//   timeoutMs   per-step timeout (default 15000)
//
// Every page frontdoor shows on the way is checked with axe-core (WCAG 2 A/AA rules), in
// a second browser context that bypasses the pages' CSP only so axe can be injected.
//
// Output: one JSON object per line ({"step": ...}); the last is {"step":"done","ok":true}.
// On failure: {"step":"error",...}, exit 1.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const opts = JSON.parse(process.argv[2] ?? '{}');
const timeout = opts.timeoutMs ?? 15000;
const start = opts.start ?? '/app/dashboard';
let step = 'launch';
let browser;

async function fail(message, page) {
  let text;
  try { text = page ? (await page.innerText('body', { timeout: 1000 })).slice(0, 400) : undefined; } catch { /* */ }
  emit({ step: 'error', failedStep: step, message: String(message).split('\n')[0], url: page?.url(), text });
  console.error(`signin.mjs: step ${step} failed: ${message}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

function expect(cond, message, page) {
  if (!cond) return fail(message, page);
  return undefined;
}

// RFC 6238 with SHA-1, 6 digits, 30 s: the code an authenticator app shows now.
function totp(base32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = crypto.createHmac('sha1', Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return value.toString().padStart(6, '0');
}

const onLoginPage = (page) => new URL(page.url()).pathname === '/_frontdoor/login';

async function submitPassword(page, user, password) {
  await page.fill('input[name="user"]', user);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  await page.waitForLoadState('load');
}

// axe-core on a URL in the CSP-bypassing context: no violations allowed.
async function accessible(a11yPage, url, label) {
  step = `axe ${label}`;
  await a11yPage.goto(url, { waitUntil: 'load' });
  await a11yPage.evaluate(axeSource);
  const result = await a11yPage.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
  const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  emit({ step: 'axe', page: label, passes: result.passes.length, violations });
  if (violations.length) await fail(`axe: ${label}: ${JSON.stringify(violations)}`, a11yPage);
}

try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
} catch (err) {
  await fail(`cannot launch chromium: ${err.message}`);
}
emit({ step: 'launched', browser: browser.version() });

const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 740 } });
context.setDefaultTimeout(timeout);
const page = await context.newPage();

try {
  // A protected page sends the browser to the form.
  step = 'open-start';
  await page.goto(opts.base + start, { waitUntil: 'load' });
  await expect(onLoginPage(page), 'not sent to the sign-in page', page);
  emit({ step: 'sign-in-page', url: page.url() });
  if (opts.screenshot) {
    await page.screenshot({ path: opts.screenshot, fullPage: true });
    emit({ step: 'screenshot', path: opts.screenshot });
  }

  // A wrong password shows the message on the form.
  step = 'wrong-password';
  await submitPassword(page, opts.user, 'not the password');
  await expect(onLoginPage(page) && (await page.innerText('body')).includes('Wrong user name or password.'),
    'no wrong-password message', page);
  emit({ step: 'wrong-password', message: true });

  // The right one lands on the page asked for; a reload stays there.
  step = 'sign-in';
  await submitPassword(page, opts.user, opts.password);
  await expect(new URL(page.url()).pathname === start, `landed on ${page.url()}`, page);
  emit({ step: 'signed-in', url: page.url() });
  step = 'reload';
  await page.reload({ waitUntil: 'load' });
  await expect(new URL(page.url()).pathname === start, 'signed out by a reload', page);
  emit({ step: 'reloaded', url: page.url() });

  // Sign out, and be asked again.
  step = 'sign-out';
  await page.goto(`${opts.base}/_frontdoor/logout`, { waitUntil: 'load' });
  await expect((await page.innerText('body')).includes('You are signed out.'), 'no signed-out page', page);
  await page.goto(opts.base + start, { waitUntil: 'load' });
  await expect(onLoginPage(page), 'still signed in after signing out', page);
  emit({ step: 'signed-out', askedAgain: true });

  // Second factor: asked for the code; a wrong one fails, the right one passes, once.
  if (opts.totpUser) {
    step = 'totp';
    await submitPassword(page, opts.totpUser, 'password');
    await expect(await page.locator('input[name="code"]').count() === 1, 'not asked for a code', page);
    emit({ step: 'totp-asked' });
    const code = totp(opts.totpSecret);
    const wrong = code === '000000' ? '111111' : '000000';
    await page.fill('input[name="code"]', wrong);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    await expect((await page.innerText('body')).includes('Wrong or already used code'), 'wrong code accepted', page);
    emit({ step: 'totp-wrong-refused' });
    await page.fill('input[name="code"]', code);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    await expect(new URL(page.url()).pathname === start, `code not accepted (${page.url()})`, page);
    emit({ step: 'totp-signed-in' });
    step = 'totp-replay';
    await page.goto(`${opts.base}/_frontdoor/logout`, { waitUntil: 'load' });
    await page.goto(opts.base + start, { waitUntil: 'load' });
    await submitPassword(page, opts.totpUser, 'password');
    await page.fill('input[name="code"]', code);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    await expect((await page.innerText('body')).includes('Wrong or already used code'), 'a used code was accepted again', page);
    emit({ step: 'totp-replay-refused' });
  }

  // The sixth wrong password shows the lockout page.
  if (opts.lockoutUser) {
    step = 'lockout';
    await page.goto(opts.base + start, { waitUntil: 'load' });
    for (let i = 0; i < 5; i += 1) {
      await submitPassword(page, opts.lockoutUser, `wrong ${i}`);
    }
    await submitPassword(page, opts.lockoutUser, 'wrong again');
    const text = await page.innerText('body');
    await expect(text.includes('Too many failed sign-ins. Try again in'), 'no lockout page', page);
    emit({ step: 'lockout', text: text.replace(/\s+/g, ' ').slice(0, 120) });
  }

  // Accessibility of every kind of page on the way.
  const a11y = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true });
  const a11yPage = await a11y.newPage();
  await accessible(a11yPage, `${opts.base}/_frontdoor/login?rd=%2F`, 'sign-in');
  step = 'axe wrong-password page';
  await a11yPage.fill('input[name="user"]', 'nobody-here');
  await a11yPage.fill('input[name="password"]', 'x');
  await Promise.all([a11yPage.waitForLoadState('load'), a11yPage.click('button[type="submit"]')]);
  await a11yPage.evaluate(axeSource);
  const wrongPage = await a11yPage.evaluate(async () => axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
  emit({ step: 'axe', page: 'wrong-password', passes: wrongPage.passes.length, violations: wrongPage.violations.map((v) => v.id) });
  if (wrongPage.violations.length) await fail(`axe: wrong-password: ${wrongPage.violations.map((v) => v.id)}`, a11yPage);
  await accessible(a11yPage, `${opts.base}/_frontdoor/logout`, 'signed-out');
  await accessible(a11yPage, `${opts.base}/admin`, '404');
} catch (err) {
  await fail(err.message, page);
}

await browser.close();
emit({ step: 'done', ok: true });

#!/usr/bin/env node
// Drives a real (headless) Chromium through an OIDC login and logout.
//
// Usage: node browser.mjs '<json>'      (or: node browser.mjs @file.json)
//
// JSON fields:
//   startUrl              (required) protected URL to open; must end on the OP login form
//   login, password       (required) credentials typed into the OP form
//   expectUrlPrefix       login succeeded once the page URL starts with this
//                         (default: origin of startUrl + "/")
//   expectPathAfterLogin  optional: the URL's path must also equal this
//   expectTextAfterLogin  optional: text that must appear on the page after login
//   logoutUrl             optional: opened after login; the OP's confirmation page is
//                         auto-submitted (or #logout-confirm is clicked)
//   expectUrlPrefixAfterLogout  optional: final URL after logout must start with this
//   checkLoggedOut        default true when logoutUrl is set: revisit startUrl and
//                         require that it lands on the OP login form again
//   timeoutMs             per-step timeout, default 15000
//   screenshotOnFailure   optional path of a PNG written when a step fails
//   executablePath        default /usr/bin/chromium (or $CHROMIUM)
//
// Probe mode: {"probeUrl": "..."} only launches Chromium, opens that URL and prints
// {"step":"probe","status":..,"url":..,"text":..} (exit 0 on HTTP < 400).
//
// Note: Chromium refuses "unsafe" ports (e.g. 9, 25, 6000, ...; ERR_UNSAFE_PORT), so a
// server it must reach cannot listen on them.
//
// Output: one JSON object per line on stdout ({"step": ...}); the last is
// {"step":"done","ok":true}. On failure: {"step":"error","message":...} on stdout, the
// message on stderr, exit code 1 (2 for bad arguments).

import * as fs from 'node:fs';

import { chromium } from 'playwright-core';

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function usage(msg) {
  console.error(`browser.mjs: ${msg}`);
  emit({ step: 'error', message: msg });
  process.exit(2);
}

let opts;
try {
  const raw = process.argv[2];
  if (!raw) usage('missing JSON argument');
  opts = JSON.parse(raw.startsWith('@') ? fs.readFileSync(raw.slice(1), 'utf8') : raw);
} catch (err) {
  usage(`invalid JSON argument: ${err.message}`);
}
for (const k of opts.probeUrl ? ['probeUrl'] : ['startUrl', 'login', 'password']) {
  if (typeof opts[k] !== 'string' || !opts[k]) usage(`missing field ${k}`);
}

for (const k of ['startUrl', 'probeUrl', 'logoutUrl']) {
  if (opts[k] !== undefined && !URL.canParse(opts[k])) usage(`${k} is not an absolute URL: ${opts[k]}`);
}
const timeout = opts.timeoutMs ?? 15000;
const startOrigin = new URL(opts.startUrl ?? opts.probeUrl).origin;
const expectPrefix = opts.expectUrlPrefix ?? `${startOrigin}/`;
const loginSelector = 'input[name="login"]';

let browser;
let page;
let step = 'launch';

async function fail(message) {
  const url = page ? page.url() : undefined;
  let text;
  try { text = page ? (await page.innerText('body', { timeout: 1000 })).slice(0, 500) : undefined; } catch { /* ignore */ }
  if (page && opts.screenshotOnFailure) {
    try { await page.screenshot({ path: opts.screenshotOnFailure, fullPage: true }); } catch { /* ignore */ }
  }
  // keep the first line of Playwright errors (the rest is an ANSI-coloured call log)
  const full = `step ${step} failed: ${String(message).split('\n')[0]}`;
  emit({ step: 'error', failedStep: step, message: full, url, text });
  console.error(`browser.mjs: ${full}${url ? ` (at ${url})` : ''}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

async function bodySnippet() {
  try {
    return (await page.innerText('body', { timeout: 2000 })).replace(/\s+/g, ' ').trim().slice(0, 300);
  } catch {
    return '';
  }
}

// Marks the current document, so that a login form still showing right after a click
// (before the navigation it causes has started) is not taken for a new one.
async function markDocument() {
  await page.evaluate(() => { window.__browserMjsOld = true; }).catch(() => {});
}

async function isFreshDocument() {
  try {
    return !(await page.evaluate(() => !!window.__browserMjsOld));
  } catch {
    return false; // context destroyed: a navigation is in progress, look again
  }
}

// Resolves to 'login' when a (new) OP login form is shown, or 'app' once the URL
// satisfies `isApp`. Whatever comes first within the timeout.
async function waitLoginOrApp(isApp) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    try {
      if (await page.locator(loginSelector).count() > 0 && await isFreshDocument()) return 'login';
    } catch { /* navigation in progress */ }
    if (isApp(page.url())) {
      try { await page.waitForLoadState('load', { timeout: 2000 }); } catch { /* ignore */ }
      if (await page.locator(loginSelector).count().catch(() => 0) === 0) return 'app';
    }
    await page.waitForTimeout(100);
  }
  return 'timeout';
}

const onApp = (url) => {
  if (!url.startsWith(expectPrefix)) return false;
  if (opts.expectPathAfterLogin && new URL(url).pathname !== opts.expectPathAfterLogin) return false;
  return true;
};

process.on('unhandledRejection', (err) => fail(err?.message ?? String(err)));

try {
  browser = await chromium.launch({
    executablePath: opts.executablePath ?? process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
} catch (err) {
  await fail(`cannot launch chromium: ${err.message}`);
}
emit({ step: 'launched', browser: browser.version() });

const context = await browser.newContext({ ignoreHTTPSErrors: true });
context.setDefaultTimeout(timeout);
context.setDefaultNavigationTimeout(timeout);
page = await context.newPage();

if (opts.probeUrl) {
  step = 'probe';
  let response;
  try {
    response = await page.goto(opts.probeUrl, { waitUntil: 'load' });
  } catch (err) {
    await fail(`cannot open ${opts.probeUrl}: ${err.message}`);
  }
  const status = response?.status();
  emit({ step: 'probe', status, url: page.url(), text: await bodySnippet() });
  if (!status || status >= 400) await fail(`HTTP status ${status}`);
  await browser.close();
  emit({ step: 'done', ok: true });
  process.exit(0);
}

// --- login -----------------------------------------------------------------
step = 'open-start';
try {
  await page.goto(opts.startUrl, { waitUntil: 'commit' });
} catch (err) {
  await fail(`cannot open ${opts.startUrl}: ${err.message}`);
}
step = 'wait-login-form';
const first = await waitLoginOrApp(() => false);
if (first !== 'login') await fail(`no login form (input[name=login]) appeared within ${timeout} ms`);
const providerUrl = page.url();
const providerOrigin = new URL(providerUrl).origin;
emit({ step: 'login-form', url: providerUrl });

step = 'submit-login';
await page.fill(loginSelector, opts.login);
await page.fill('input[name="password"]', opts.password);
await markDocument();
await page.click('#submit', { noWaitAfter: true });
const afterLogin = await waitLoginOrApp(onApp);
if (afterLogin !== 'app') {
  const snippet = await bodySnippet();
  if (/invalid credentials/i.test(snippet)) await fail('OP rejected the credentials (invalid credentials)');
  await fail(`did not reach ${expectPrefix}${opts.expectPathAfterLogin ? ` with path ${opts.expectPathAfterLogin}` : ''} after login`);
}
const loggedInUrl = page.url();
const loggedInText = await bodySnippet();
emit({ step: 'logged-in', url: loggedInUrl, text: loggedInText });
if (opts.expectTextAfterLogin && !loggedInText.includes(opts.expectTextAfterLogin)
    && !(await page.content()).includes(opts.expectTextAfterLogin)) {
  await fail(`text ${JSON.stringify(opts.expectTextAfterLogin)} not found after login`);
}

// --- logout ----------------------------------------------------------------
if (opts.logoutUrl) {
  step = 'logout';
  try {
    await page.goto(opts.logoutUrl, { waitUntil: 'commit' });
  } catch (err) {
    // a POST-only logout endpoint or an aborted navigation is reported, not fatal yet
    emit({ step: 'logout-navigation-warning', message: err.message });
  }
  // Follow through: the OP's confirmation page auto-submits; click #logout-confirm
  // if it is still showing after a moment.
  const deadline = Date.now() + timeout;
  let clicked = false;
  let settledAt;
  while (Date.now() < deadline) {
    const url = page.url();
    const onOp = url.startsWith(`${providerOrigin}/`);
    const confirm = await page.locator('#logout-confirm').count().catch(() => 0);
    if (onOp && confirm > 0 && !clicked && Date.now() > deadline - timeout + 2000) {
      clicked = true;
      await page.click('#logout-confirm', { noWaitAfter: true }).catch(() => {});
    }
    const done = opts.expectUrlPrefixAfterLogout
      ? url.startsWith(opts.expectUrlPrefixAfterLogout)
      : (!onOp || /\/session\/end\/success/.test(url)) && confirm === 0 && !url.startsWith('about:');
    if (done) {
      settledAt ??= Date.now();
      if (Date.now() - settledAt > 300) break; // stable for a moment
    } else {
      settledAt = undefined;
    }
    await page.waitForTimeout(100);
  }
  await page.waitForLoadState('load', { timeout: 2000 }).catch(() => {});
  const finalUrl = page.url();
  if (opts.expectUrlPrefixAfterLogout && !finalUrl.startsWith(opts.expectUrlPrefixAfterLogout)) {
    await fail(`after logout expected URL starting with ${opts.expectUrlPrefixAfterLogout}`);
  }
  if (finalUrl.startsWith(`${providerOrigin}/session/end`) && !/\/session\/end\/success/.test(finalUrl)) {
    await fail('logout did not complete at the OP');
  }
  emit({ step: 'logged-out', url: finalUrl, clickedConfirm: clicked, text: await bodySnippet() });

  if (opts.checkLoggedOut ?? true) {
    step = 'revisit';
    try {
      await page.goto(opts.startUrl, { waitUntil: 'commit' });
    } catch (err) {
      await fail(`cannot reopen ${opts.startUrl}: ${err.message}`);
    }
    const again = await waitLoginOrApp(onApp);
    const loggedOut = again === 'login';
    emit({ step: 'revisit', url: page.url(), loggedOut });
    if (!loggedOut) await fail(`second visit to startUrl did not go back to the OP login form (${again})`);
  }
}

await browser.close();
emit({ step: 'done', ok: true });
process.exit(0);

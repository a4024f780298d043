#!/usr/bin/env node
// Test-only OpenID Provider for frontdoor's OIDC integration tests.
//
// Usage: node provider.mjs CONFIG.json [--exit-on-stdin-close]
//
// Listens on 127.0.0.1 with an OS-picked port over plain HTTP and, once ready,
// prints exactly one line to stdout:
//
//   READY {"issuer":"http://127.0.0.1:PORT","control":"http://127.0.0.1:PORT/__test"}
//
// Everything else (oidc-provider notices, errors, request log) goes to stderr.
// With --exit-on-stdin-close (or FRONTDOOR_OIDC_EXIT_ON_STDIN_CLOSE=1) the process
// exits when its stdin reaches EOF, so a test harness that dies cannot leak it.
//
// CONFIG schema (all fields optional except clients/users for anything useful):
// {
//   "clients": [ <oidc-provider client metadata>, ... ],
//       e.g. { "client_id": "frontdoor", "client_secret": "s3cret",
//              "redirect_uris": ["https://127.0.0.1:8443/_frontdoor/callback"],
//              "post_logout_redirect_uris": ["https://127.0.0.1:8443/"],
//              "grant_types": ["authorization_code", "refresh_token"],
//              "response_types": ["code"],
//              "token_endpoint_auth_method": "client_secret_basic",   // or client_secret_post
//              "id_token_signed_response_alg": "RS256" }              // RS256 | ES256 | EdDSA (must be in signingAlgs)
//       A client with "client_credentials" in grant_types can get JWT bearer tokens.
//   "users": [ { "sub": "alice", "email": "alice@example.test", "email_verified": true,
//                "name": "Alice", "preferred_username": "alice",  // optional
//                "groups": ["admins"], "password": "wonderland" }, ... ]
//       The login form accepts the user's sub OR email as "login".
//   "accessTokenTTL": 3600, "idTokenTTL": 3600, "refreshTokenTTL": 86400   (seconds)
//   "signingAlgs": ["RS256", "ES256", "EdDSA"]   (default ["RS256","ES256","EdDSA"];
//       RS256 is always added because JWT access tokens are signed with it)
//   "bearerAudience": "https://frontdoor.test/api"   resource indicator / JWT "aud"
//   "bearerScopes": "api:read api:write"              scopes allowed for that resource
//   "bearerTokenTTL": 3600                            lifetime of those JWT access tokens
//   "bearerClaims": { "<client_id>": { "groups": ["svc"], ... } }
//       extra claims put into client_credentials access tokens of that client.
//       Access tokens of a user (authorization code flow with resource=bearerAudience)
//       carry the user's email, name, preferred_username and groups instead.
//
// Scopes -> claims (conformIdTokenClaims is false, so claims also go in the ID token):
//   openid: sub | email: email, email_verified | profile: name, preferred_username, groups
//   groups: groups
//
// Test control API (plain JSON, no auth, loopback only) under /__test:
//   GET  /__test/state            counters (see README.md)
//   POST /__test/reset-state      zero the counters
//   POST /__test/rotate-keys      {"dropOld": false} -> new kid per alg, first in JWKS
//   POST /__test/revoke-grants    {"sub": "alice"} -> destroy grants/sessions/tokens of sub
//   POST /__test/set-ttl          {"accessTokenTTL", "idTokenTTL", "refreshTokenTTL"} (live)
//   POST /__test/clients          {"clients": [...]} -> add or replace clients by client_id
//   POST /__test/bearer-claims    {"client_id": "...", "claims": {...}} (live; replaces)
//
// Bearer (JWT) access token for the configured bearerAudience:
//   POST /token  (HTTP basic auth with a client that has grant type client_credentials)
//   grant_type=client_credentials&resource=<bearerAudience>&scope=api:read
//   -> {"access_token": "<JWT RS256, iss, aud=bearerAudience, sub=client_id, exp, scope>"}

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

// oidc-provider prints notices with console.info; stdout is reserved for READY.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node provider.mjs CONFIG.json [--exit-on-stdin-close]');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
const debug = !!process.env.FRONTDOOR_OIDC_DEBUG;

// ---------------------------------------------------------------------------
// mutable state shared by every Provider instance
// ---------------------------------------------------------------------------
const settings = {
  accessTokenTTL: config.accessTokenTTL ?? 3600,
  idTokenTTL: config.idTokenTTL ?? 3600,
  refreshTokenTTL: config.refreshTokenTTL ?? 86400,
  bearerTokenTTL: config.bearerTokenTTL ?? config.accessTokenTTL ?? 3600,
};
const bearerAudience = config.bearerAudience ?? 'https://frontdoor.test/api';
const bearerScopes = config.bearerScopes ?? 'api:read api:write';
const signingAlgs = [...new Set(['RS256', ...(config.signingAlgs ?? ['RS256', 'ES256', 'EdDSA'])])];
let clients = structuredClone(config.clients ?? []);
const users = config.users ?? [];
const bearerClaims = structuredClone(config.bearerClaims ?? {});
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function newCounters() {
  return {
    authorization: 0,
    token: 0,
    tokenByGrantType: {},
    tokenErrorsByGrantType: {},
    userinfo: 0,
    endSession: 0,
    endSessionConfirm: 0,
    introspection: 0,
    revocation: 0,
    jwks: 0,
    discovery: 0,
    logins: 0,
    failedLogins: 0,
  };
}
let counters = newCounters();
let generation = 0; // key generation, bumped by rotate-keys

// ---------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------
function generateJwk(alg) {
  let pair;
  switch (alg) {
    case 'RS256': case 'PS256':
      pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    case 'ES256':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'ES384':
      pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
      break;
    case 'EdDSA': case 'Ed25519':
      pair = crypto.generateKeyPairSync('ed25519');
      break;
    default:
      throw new Error(`unsupported signing alg ${alg}`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const kid = `${alg.toLowerCase()}-g${generation}-${crypto.randomBytes(4).toString('hex')}`;
  return { ...jwk, kid, alg, use: 'sig' };
}
let jwks = signingAlgs.map(generateJwk);

// ---------------------------------------------------------------------------
// in-memory adapter shared across Provider instances (survives key rotation)
// ---------------------------------------------------------------------------
const store = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms) | Infinity }
const nowSec = () => Math.floor(Date.now() / 1000);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}
function* liveEntries() {
  for (const key of [...store.keys()]) {
    const entry = live(key);
    if (entry) yield [key, entry];
  }
}

class SharedMemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload: structuredClone(payload), expiresAt });
  }

  async find(id) {
    const entry = live(this.key(id));
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid) {
    for (const [key, entry] of liveEntries()) {
      if (key.startsWith('Session:') && entry.payload.uid === uid) return structuredClone(entry.payload);
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [key, entry] of liveEntries()) {
      if (key.startsWith(`${this.model}:`) && entry.payload.userCode === userCode) {
        return structuredClone(entry.payload);
      }
    }
    return undefined;
  }

  async consume(id) {
    const entry = live(this.key(id));
    if (entry) entry.payload.consumed = nowSec();
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of liveEntries()) {
      if (entry.payload.grantId === grantId && !key.startsWith('Grant:')) store.delete(key);
    }
  }
}

// Destroy every artifact (grant, session, token, code, interaction) of a subject.
function revokeSubject(sub) {
  const grantIds = new Set();
  const removed = {};
  for (const [key, entry] of liveEntries()) {
    const p = entry.payload;
    if (p.accountId === sub || p.session?.accountId === sub) {
      if (p.grantId) grantIds.add(p.grantId);
      if (key.startsWith('Grant:')) grantIds.add(key.slice('Grant:'.length));
      if (p.authorizations) {
        for (const a of Object.values(p.authorizations)) if (a.grantId) grantIds.add(a.grantId);
      }
    }
  }
  for (const [key, entry] of liveEntries()) {
    const p = entry.payload;
    const model = key.slice(0, key.indexOf(':'));
    const id = key.slice(key.indexOf(':') + 1);
    if (p.accountId === sub || p.session?.accountId === sub
        || (p.grantId && grantIds.has(p.grantId)) || (model === 'Grant' && grantIds.has(id))) {
      store.delete(key);
      removed[model] = (removed[model] ?? 0) + 1;
    }
  }
  return removed;
}

// ---------------------------------------------------------------------------
// accounts
// ---------------------------------------------------------------------------
function findUser(loginOrSub) {
  return users.find((u) => u.sub === loginOrSub)
    ?? users.find((u) => u.email && u.email.toLowerCase() === String(loginOrSub).toLowerCase());
}

async function findAccount(_ctx, sub) {
  const user = findUser(sub);
  if (!user || user.sub !== sub) return undefined;
  return {
    accountId: user.sub,
    async claims() {
      const claims = { sub: user.sub };
      for (const name of ['email', 'email_verified', 'name', 'preferred_username', 'groups']) {
        if (user[name] !== undefined) claims[name] = user[name];
      }
      return claims;
    },
  };
}

// ---------------------------------------------------------------------------
// pages
// ---------------------------------------------------------------------------
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
${body}
</body></html>`;
}

function loginPage(uid, { error, login, clientId } = {}) {
  return page('Sign in', `<h1>Sign in</h1>
<p>Test OpenID Provider${clientId ? ` &mdash; client <code>${esc(clientId)}</code>` : ''}</p>
${error ? `<p id="error" style="color:#b00">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}" autocomplete="off">
  <label>Login <input type="text" name="login" value="${esc(login)}" autofocus></label><br>
  <label>Password <input type="password" name="password"></label><br>
  <button type="submit" id="submit">Sign in</button>
</form>`);
}

async function logoutSource(ctx, form) {
  // Auto-submit the confirmation form ("logout=yes" signs out of the whole session).
  const withYes = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>');
  ctx.type = 'html';
  ctx.body = page('Signing out', `<h1>Signing out&hellip;</h1>
${withYes}
<button type="submit" id="logout-confirm" form="op.logoutForm">Sign out</button>
<script>document.getElementById('op.logoutForm').submit();</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1 id="signed-out">Signed out</h1><p>You have been signed out.</p>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>OP error</h1>${Object.entries(out)
    .map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('')}`);
}

// ---------------------------------------------------------------------------
// provider instances
// ---------------------------------------------------------------------------
let issuer; // set once the port is known
let provider;
let providerHandler;

function installProvider() {
  provider = buildProvider();
  providerHandler = provider.callback();
}

// Clients without the authorization_code grant (e.g. client_credentials only) would
// otherwise inherit response_types ["code"] and fail lazily with
// "invalid_redirect_uri: redirect_uris is mandatory property".
function normalizeClient(c) {
  const out = structuredClone(c);
  if (!(out.grant_types ?? ['authorization_code']).includes('authorization_code')) {
    out.response_types ??= [];
    out.redirect_uris ??= [];
  }
  return out;
}

// oidc-provider validates static client metadata on first use; do it eagerly.
async function validateClients(p) {
  for (const c of clients) {
    try {
      const found = await p.Client.find(String(c.client_id));
      if (!found) throw new Error('not found');
    } catch (err) {
      throw new Error(`client ${c.client_id}: ${err.error_description ?? err.message}`);
    }
  }
}

function buildProvider() {
  const configuration = {
    adapter: SharedMemoryAdapter,
    clients: clients.map(normalizeClient),
    jwks: { keys: structuredClone(jwks) },
    findAccount,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'groups'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    conformIdTokenClaims: false,
    clientBasedCORS: () => false,
    pkce: { required: () => true },
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' && token.kind !== 'ClientCredentials') return undefined;
      if (token.accountId) {
        const user = findUser(token.accountId);
        if (!user) return undefined;
        const extra = {};
        for (const name of ['email', 'name', 'preferred_username', 'groups']) {
          if (user[name] !== undefined) extra[name] = user[name];
        }
        return extra;
      }
      return bearerClaims[token.clientId] ? structuredClone(bearerClaims[token.clientId]) : undefined;
    },
    responseTypes: ['code'],
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: false,
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== bearerAudience) {
            throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
          }
          return {
            scope: bearerScopes,
            audience: bearerAudience,
            accessTokenTTL: settings.bearerTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.accessTokenTTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? settings.bearerTokenTTL,
      IdToken: () => settings.idTokenTTL,
      RefreshToken: () => settings.refreshTokenTTL,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: () => Math.max(settings.refreshTokenTTL, 14 * 86400),
      Grant: () => Math.max(settings.refreshTokenTTL, 14 * 86400),
    },
  };

  const p = new Provider(issuer, configuration);
  p.proxy = false;

  p.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      const route = ctx.oidc?.route;
      switch (route) {
        case 'authorization': counters.authorization += 1; break;
        case 'userinfo': counters.userinfo += 1; break;
        case 'end_session': counters.endSession += 1; break;
        case 'end_session_confirm': counters.endSessionConfirm += 1; break;
        case 'introspection': counters.introspection += 1; break;
        case 'revocation': counters.revocation += 1; break;
        case 'jwks': counters.jwks += 1; break;
        case 'discovery': counters.discovery += 1; break;
        case 'token': {
          counters.token += 1;
          const gt = ctx.oidc?.params?.grant_type ?? 'unknown';
          counters.tokenByGrantType[gt] = (counters.tokenByGrantType[gt] ?? 0) + 1;
          if (ctx.status >= 400) {
            counters.tokenErrorsByGrantType[gt] = (counters.tokenErrorsByGrantType[gt] ?? 0) + 1;
          }
          break;
        }
        default:
      }
      if (debug) console.error(`[op] ${ctx.method} ${ctx.path} -> ${ctx.status} (${route ?? '-'})`);
    }
  });

  p.on('server_error', (_ctx, err) => console.error('[op] server_error', err));
  if (debug) {
    for (const ev of ['grant.error', 'authorization.error', 'end_session.error', 'introspection.error', 'revocation.error', 'userinfo.error']) {
      p.on(ev, (_ctx, err) => console.error(`[op] ${ev}`, err?.message, err?.error_description ?? ''));
    }
  }
  return p;
}

// ---------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------
function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? `${JSON.stringify(body)}\n` : body;
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req) {
  const text = await readBody(req);
  if (!text.trim()) return {};
  return JSON.parse(text);
}

function publicJwks() {
  return jwks.map(({ kid, alg, kty, crv }) => ({ kid, alg, kty, crv }));
}

async function handleControl(req, res, path) {
  const addr = req.socket.remoteAddress ?? '';
  if (!(addr.startsWith('127.') || addr === '::1' || addr.startsWith('::ffff:127.'))) {
    send(res, 403, { error: 'loopback only' });
    return;
  }
  try {
    if (req.method === 'GET' && path === '/__test/state') {
      send(res, 200, {
        issuer, counters, settings, generation, keys: publicJwks(),
        clients: clients.map((c) => c.client_id),
        storedArtifacts: [...liveEntries()].reduce((acc, [k]) => {
          const m = k.slice(0, k.indexOf(':'));
          acc[m] = (acc[m] ?? 0) + 1;
          return acc;
        }, {}),
      });
      return;
    }
    if (req.method !== 'POST') { send(res, 405, { error: 'use POST' }); return; }
    const body = await readJson(req);
    switch (path) {
      case '/__test/reset-state':
        counters = newCounters();
        send(res, 200, { ok: true });
        return;
      case '/__test/rotate-keys': {
        generation += 1;
        const algs = body.algs ?? signingAlgs;
        const fresh = algs.map(generateJwk);
        const previous = jwks;
        jwks = body.dropOld ? fresh : [...fresh, ...jwks];
        try {
          installProvider();
        } catch (err) {
          jwks = previous;
          installProvider();
          throw err;
        }
        send(res, 200, { ok: true, generation, newKids: fresh.map((k) => k.kid), keys: publicJwks() });
        return;
      }
      case '/__test/revoke-grants': {
        if (!body.sub) { send(res, 400, { error: 'sub required' }); return; }
        send(res, 200, { ok: true, sub: body.sub, removed: revokeSubject(body.sub) });
        return;
      }
      case '/__test/set-ttl': {
        for (const k of ['accessTokenTTL', 'idTokenTTL', 'refreshTokenTTL', 'bearerTokenTTL']) {
          if (body[k] !== undefined) {
            if (!Number.isInteger(body[k]) || body[k] <= 0) { send(res, 400, { error: `${k} must be a positive integer` }); return; }
            settings[k] = body[k];
          }
        }
        send(res, 200, { ok: true, settings });
        return;
      }
      case '/__test/bearer-claims': {
        if (!body.client_id || typeof body.claims !== 'object') { send(res, 400, { error: 'client_id and claims required' }); return; }
        bearerClaims[body.client_id] = body.claims;
        send(res, 200, { ok: true, bearerClaims });
        return;
      }
      case '/__test/clients': {
        if (!Array.isArray(body.clients)) { send(res, 400, { error: 'clients array required' }); return; }
        const byId = new Map(clients.map((c) => [c.client_id, c]));
        for (const c of body.clients) byId.set(c.client_id, c);
        const next = [...byId.values()];
        const previous = clients;
        clients = next;
        try {
          installProvider();
          await validateClients(provider);
        } catch (err) {
          clients = previous;
          installProvider();
          throw err;
        }
        send(res, 200, { ok: true, clients: clients.map((c) => c.client_id) });
        return;
      }
      default:
        send(res, 404, { error: 'unknown control endpoint' });
    }
  } catch (err) {
    send(res, 400, { error: String(err?.message ?? err) });
  }
}

async function handleInteraction(req, res, uid) {
  const p = provider;
  let details;
  try {
    details = await p.interactionDetails(req, res);
  } catch (err) {
    send(res, 400, page('Error', `<h1>interaction error</h1><p>${esc(err.message)}</p>`), 'text/html');
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Error', '<h1>interaction error</h1><p>interaction uid mismatch</p>'), 'text/html');
    return;
  }
  const { prompt, params } = details;

  if (prompt.name === 'consent') {
    // Auto-consent: grant whatever is missing, no click needed.
    await finishConsent(p, req, res, details, details.session?.accountId);
    return;
  }
  if (prompt.name !== 'login') {
    send(res, 400, page('Error', `<h1>unsupported prompt ${esc(prompt.name)}</h1>`), 'text/html');
    return;
  }

  if (req.method === 'GET') {
    send(res, 200, loginPage(uid, { clientId: params.client_id }), 'text/html');
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, 'method not allowed', 'text/plain');
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const login = form.get('login') ?? '';
  const user = findUser(login);
  if (!user || user.password !== (form.get('password') ?? '')) {
    counters.failedLogins += 1;
    send(res, 200, loginPage(uid, { error: 'invalid credentials', login, clientId: params.client_id }), 'text/html');
    return;
  }
  counters.logins += 1;
  // Finish login and grant consent in one go so the browser needs no second page.
  await finishConsent(p, req, res, details, user.sub, { login: { accountId: user.sub } });
}

async function finishConsent(p, req, res, details, accountId, extra = {}) {
  const { params, prompt, grantId: existingGrantId } = details;
  let grant;
  if (existingGrantId) grant = await p.Grant.find(existingGrantId);
  if (!grant) grant = new p.Grant({ accountId, clientId: params.client_id });

  if (prompt.name === 'consent') {
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
  } else {
    // Login prompt: grant everything requested up front.
    if (params.scope) grant.addOIDCScope(params.scope);
    if (params.claims) {
      try {
        const claims = JSON.parse(params.claims);
        const names = [...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})];
        if (names.length) grant.addOIDCClaims(names);
      } catch { /* ignore malformed claims parameter */ }
    }
    if (params.resource && params.scope) {
      const resources = Array.isArray(params.resource) ? params.resource : [params.resource];
      for (const r of resources) if (r === bearerAudience) grant.addResourceScope(r, params.scope);
    }
  }
  const grantId = await grant.save();
  await p.interactionFinished(req, res, { ...extra, consent: { grantId } }, { mergeWithLastSubmission: true });
}

// ---------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;
    if (path === '/__test' || path.startsWith('/__test/')) {
      await handleControl(req, res, path);
      return;
    }
    const m = /^\/interaction\/([^/]+)\/?$/.exec(path);
    if (m) {
      await handleInteraction(req, res, m[1]);
      return;
    }
    providerHandler(req, res);
  } catch (err) {
    console.error('[op] handler error', err);
    if (!res.headersSent) send(res, 500, { error: 'internal', message: String(err?.message ?? err) });
    else res.destroy();
  }
});

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}`;
  try {
    installProvider();
    await validateClients(provider);
  } catch (err) {
    console.error('failed to start provider:', err);
    process.exit(1);
  }
  process.stdout.write(`READY ${JSON.stringify({ issuer, control: `${issuer}/__test` })}\n`);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
if (process.argv.includes('--exit-on-stdin-close') || process.env.FRONTDOOR_OIDC_EXIT_ON_STDIN_CLOSE === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

#!/usr/bin/env bash
# Self-test of the test OpenID provider (provider.mjs) with curl only.
# Usage: tests/oidc/selftest.sh   (runs `npm ci` first if node_modules is missing)
# Prints PASS/FAIL per step and exits non-zero if any step failed.
set -u -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
if [ ! -d node_modules/oidc-provider ]; then
  npm ci --no-audit --no-fund >&2 || { echo "FAIL npm ci"; exit 1; }
fi

WORK="$(mktemp -d)"
OP_PID=""
STUB_PID=""
cleanup() {
  if [ -n "$OP_PID" ]; then kill "$OP_PID" 2>/dev/null; wait "$OP_PID" 2>/dev/null; fi
  if [ -n "$STUB_PID" ]; then kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

FAILS=0
PASSES=0
pass() { echo "PASS $*"; PASSES=$((PASSES + 1)); }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # check "description" command...
  local desc="$1"; shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

# js 'expression using a (argv array) and j (JSON.parse)' args... -> prints result
js() {
  local code="$1"; shift
  node -e "
    const a = process.argv.slice(1);
    const j = (s) => JSON.parse(s);
    const b64 = (s) => Buffer.from(s, 'base64url').toString('utf8');
    const jwtHeader = (t) => j(b64(t.split('.')[0]));
    const jwtPayload = (t) => j(b64(t.split('.')[1]));
    const out = (() => { $code })();
    if (out !== undefined) process.stdout.write(typeof out === 'string' ? out : JSON.stringify(out));
  " -- "$@"
}

# verify a JWT signature against a JWKS document; prints "ok" or an error
verify_jwt() {
  node -e "
    const crypto = require('node:crypto');
    const [token, jwksText] = process.argv.slice(1);
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const jwk = JSON.parse(jwksText).keys.find((k) => k.kid === header.kid);
    if (!jwk) { console.log('no key for kid ' + header.kid); process.exit(0); }
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    const data = Buffer.from(h + '.' + p);
    const sig = Buffer.from(s, 'base64url');
    let ok;
    if (header.alg === 'RS256') ok = crypto.verify('sha256', data, key, sig);
    else if (header.alg === 'ES256') ok = crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    else if (header.alg === 'EdDSA' || header.alg === 'Ed25519') ok = crypto.verify(null, data, key, sig);
    else { console.log('unsupported alg ' + header.alg); process.exit(0); }
    console.log(ok ? 'ok' : 'bad signature');
  " -- "$1" "$2"
}

# ---------------------------------------------------------------------------
# start the provider
# ---------------------------------------------------------------------------
node provider.mjs sample-config.json >"$WORK/op.out" 2>"$WORK/op.err" &
OP_PID=$!
for _ in $(seq 1 100); do
  grep -q '^READY ' "$WORK/op.out" 2>/dev/null && break
  sleep 0.1
done
if ! grep -q '^READY ' "$WORK/op.out"; then
  fail "provider did not print READY"; cat "$WORK/op.err" >&2; exit 1
fi
READY_JSON="$(sed -n 's/^READY //p' "$WORK/op.out")"
ISSUER="$(js 'return j(a[0]).issuer' "$READY_JSON")"
CONTROL="$(js 'return j(a[0]).control' "$READY_JSON")"
check "READY line is exactly one line with issuer+control ($ISSUER)" \
  test "$(wc -l <"$WORK/op.out")" = 1 -a "$CONTROL" = "$ISSUER/__test"

CLIENT_ID=frontdoor
CLIENT_SECRET=frontdoor-secret-0123456789abcdef
REDIRECT_URI=https://127.0.0.1:9/_frontdoor/callback
POST_LOGOUT=https://127.0.0.1:9/
API_CLIENT=api-client
API_SECRET=api-client-secret-0123456789abcdef
AUDIENCE=https://frontdoor.test/api

# ---------------------------------------------------------------------------
# discovery + JWKS
# ---------------------------------------------------------------------------
DISCO="$(curl -fsS "$ISSUER/.well-known/openid-configuration")" || fail "discovery fetch"
check "discovery issuer matches" test "$(js 'return j(a[0]).issuer' "$DISCO")" = "$ISSUER"
check "discovery has end_session/revocation/introspection endpoints, S256 only" test "$(js '
  const d = j(a[0]);
  return String(!!(d.end_session_endpoint && d.revocation_endpoint && d.introspection_endpoint
    && JSON.stringify(d.code_challenge_methods_supported) === "[\"S256\"]"
    && d.grant_types_supported.includes("client_credentials")))' "$DISCO")" = true
JWKS_URI="$(js 'return j(a[0]).jwks_uri' "$DISCO")"
TOKEN_EP="$(js 'return j(a[0]).token_endpoint' "$DISCO")"
AUTH_EP="$(js 'return j(a[0]).authorization_endpoint' "$DISCO")"
USERINFO_EP="$(js 'return j(a[0]).userinfo_endpoint' "$DISCO")"
END_SESSION_EP="$(js 'return j(a[0]).end_session_endpoint' "$DISCO")"
INTROSPECT_EP="$(js 'return j(a[0]).introspection_endpoint' "$DISCO")"
JWKS="$(curl -fsS "$JWKS_URI")"
check "JWKS has RS256, ES256 and EdDSA public keys (no private parts)" test "$(js '
  const ks = j(a[0]).keys;
  const algs = ks.map((k) => k.alg).sort().join(",");
  return String(algs === "ES256,EdDSA,RS256" && ks.every((k) => !k.d && k.kid))' "$JWKS")" = true
OLD_RS_KID="$(js 'return j(a[0]).keys.find((k) => k.alg === "RS256").kid' "$JWKS")"

# ---------------------------------------------------------------------------
# authorization code + PKCE by hand
# ---------------------------------------------------------------------------
# login_flow CLIENT_ID USER PASSWORD -> sets CODE, VERIFIER (uses cookie jar $JAR)
login_flow() {
  local client="$1" user="$2" password="$3"
  VERIFIER="$(js 'return require("node:crypto").randomBytes(32).toString("base64url")')"
  local challenge
  challenge="$(js 'return require("node:crypto").createHash("sha256").update(a[0]).digest("base64url")' "$VERIFIER")"
  local url="$AUTH_EP?client_id=$client&response_type=code&scope=${AUTH_SCOPE:-openid%20email%20profile%20groups}&redirect_uri=$(js 'return encodeURIComponent(a[0])' "$REDIRECT_URI")&state=st-123&nonce=n-456&code_challenge=$challenge&code_challenge_method=S256${EXTRA_AUTH_PARAMS:-}"
  CODE=""
  LOGIN_FORM_SEEN=0
  WRONG_PW_OK=0
  local hops=0 status loc
  while [ $hops -lt 15 ]; do
    hops=$((hops + 1))
    curl -sS -b "$JAR" -c "$JAR" -o "$WORK/body" -D "$WORK/hdr" "$url" || return 1
    status="$(awk 'NR==1{print $2}' "$WORK/hdr")"
    loc="$(grep -i '^location:' "$WORK/hdr" | tail -1 | sed 's/^[Ll]ocation: *//' | tr -d '\r')"
    if [ "$status" = 200 ] && grep -q 'name="password"' "$WORK/body"; then
      LOGIN_FORM_SEEN=1
      grep -q 'id="submit"' "$WORK/body" || return 1
      # wrong password first: must re-render with "invalid credentials"
      curl -sS -b "$JAR" -c "$JAR" -o "$WORK/body2" -D "$WORK/hdr2" \
        --data-urlencode "login=$user" --data-urlencode "password=wrong-$password" "$url" || return 1
      if [ "$(awk 'NR==1{print $2}' "$WORK/hdr2")" = 200 ] && grep -q 'invalid credentials' "$WORK/body2"; then
        WRONG_PW_OK=1
      fi
      curl -sS -b "$JAR" -c "$JAR" -o "$WORK/body" -D "$WORK/hdr" \
        --data-urlencode "login=$user" --data-urlencode "password=$password" "$url" || return 1
      status="$(awk 'NR==1{print $2}' "$WORK/hdr")"
      loc="$(grep -i '^location:' "$WORK/hdr" | tail -1 | sed 's/^[Ll]ocation: *//' | tr -d '\r')"
    fi
    case "$status" in
      30[1-3]|307|308) ;;
      *) echo "  unexpected status $status at $url" >&2; head -c 600 "$WORK/body" >&2; echo >&2; return 1 ;;
    esac
    [ -n "$loc" ] || return 1
    case "$loc" in
      /*) loc="$ISSUER$loc" ;;
    esac
    case "$loc" in
      "$REDIRECT_URI"*)
        CODE="$(js 'return new URL(a[0]).searchParams.get("code") ?? ""' "$loc")"
        CALLBACK_URL="$loc"
        return 0 ;;
      "$ISSUER"*) url="$loc" ;;
      *) echo "  redirected off-issuer to $loc" >&2; return 1 ;;
    esac
  done
  return 1
}

JAR="$WORK/jar1"
if login_flow "$CLIENT_ID" alice wonderland && [ -n "$CODE" ]; then
  pass "authorization code + PKCE flow (code captured from redirect to redirect_uri)"
else
  fail "authorization code + PKCE flow"
fi
check "login form was shown (inputs login/password, button #submit)" test "$LOGIN_FORM_SEEN" = 1
check "wrong password re-renders form with 'invalid credentials' (200)" test "$WRONG_PW_OK" = 1
check "callback carries state and iss" test "$(js '
  const u = new URL(a[0]); return String(u.searchParams.get("state") === "st-123" && u.searchParams.get("iss") === a[1])' "${CALLBACK_URL:-http://x/}" "$ISSUER")" = true

# PKCE is required: a request without code_challenge must fail
NOPKCE_LOC="$(curl -sS -o /dev/null -D - "$AUTH_EP?client_id=$CLIENT_ID&response_type=code&scope=openid&redirect_uri=$(js 'return encodeURIComponent(a[0])' "$REDIRECT_URI")&state=s" | grep -i '^location:' | tr -d '\r')"
check "PKCE required (no code_challenge -> error redirect)" grep -q 'error=invalid_request' <<<"$NOPKCE_LOC"

TOKENS="$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$TOKEN_EP" \
  -d grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER")"
check "code exchange returns id_token + refresh_token + access_token" test "$(js '
  const t = j(a[0]); return String(!!(t.id_token && t.refresh_token && t.access_token))' "$TOKENS")" = true
ID_TOKEN="$(js 'return j(a[0]).id_token ?? ""' "$TOKENS")"
REFRESH="$(js 'return j(a[0]).refresh_token ?? ""' "$TOKENS")"
ACCESS="$(js 'return j(a[0]).access_token ?? ""' "$TOKENS")"
check "ID token claims: iss, aud, sub, email, name, groups, nonce; RS256 kid $OLD_RS_KID" test "$(js '
  const h = jwtHeader(a[0]), p = jwtPayload(a[0]);
  return String(p.iss === a[1] && p.aud === "frontdoor" && p.sub === "alice" && p.email === "alice@example.test"
    && p.email_verified === true && p.name === "Alice Liddell" && JSON.stringify(p.groups) === "[\"admins\",\"staff\"]"
    && p.nonce === "n-456" && h.alg === "RS256" && h.kid === a[2])' "$ID_TOKEN" "$ISSUER" "$OLD_RS_KID")" = true
check "ID token signature verifies against JWKS" test "$(verify_jwt "$ID_TOKEN" "$JWKS")" = ok

USERINFO="$(curl -sS -H "Authorization: Bearer $ACCESS" "$USERINFO_EP")"
check "userinfo returns groups" test "$(js 'return String(JSON.stringify(j(a[0]).groups) === "[\"admins\",\"staff\"]")' "$USERINFO")" = true

REFRESHED="$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$TOKEN_EP" -d grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH")"
check "refresh_token grant works (new access_token + id_token)" test "$(js '
  const t = j(a[0]); return String(!!(t.access_token && t.id_token && !t.error))' "$REFRESHED")" = true

# same browser session, second client: no login form, consent is auto-granted
if login_flow frontdoor-es256 alice wonderland && [ -n "$CODE" ] && [ "$LOGIN_FORM_SEEN" = 0 ]; then
  pass "SSO to a second client with an existing session: auto-consent, no login form"
else
  fail "SSO to a second client with an existing session"
fi

STATE="$(curl -fsS "$CONTROL/state")"
check "/__test/state counts authorization + token calls by grant type" test "$(js '
  const c = j(a[0]).counters;
  return String(c.authorization >= 3 && c.tokenByGrantType.authorization_code === 1 && c.tokenByGrantType.refresh_token === 1 && c.logins === 1 && c.failedLogins === 1)' "$STATE")" = true

INTRO="$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$INTROSPECT_EP" --data-urlencode "token=$REFRESH")"
check "introspection: refresh token active" test "$(js 'return String(j(a[0]).active)' "$INTRO")" = true

# a user's JWT access token: authorization code flow with resource=bearerAudience
# (same browser session, so no login form; consent for the resource is auto-granted)
if AUTH_SCOPE='openid%20api:read' EXTRA_AUTH_PARAMS="&resource=$(js 'return encodeURIComponent(a[0])' "$AUDIENCE")" \
   login_flow "$CLIENT_ID" alice wonderland && [ -n "$CODE" ]; then
  UT="$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$TOKEN_EP" -d grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER" --data-urlencode "resource=$AUDIENCE")"
  check "user JWT access token (code flow + resource): aud, sub=alice, groups, scope api:read" test "$(js '
    const t = j(a[0]); if (!t.access_token || t.access_token.split(".").length !== 3) return "no jwt: " + a[0];
    const p = jwtPayload(t.access_token);
    return String(p.aud === a[1] && p.sub === "alice" && JSON.stringify(p.groups) === "[\"admins\",\"staff\"]" && p.scope === "api:read")' "$UT" "$AUDIENCE")" = true
else
  fail "authorization code flow with resource parameter"
fi

REVOKED="$(curl -sS -X POST -H 'content-type: application/json' -d '{"sub":"alice"}' "$CONTROL/revoke-grants")"
check "/__test/revoke-grants ok" test "$(js 'return String(j(a[0]).ok)' "$REVOKED")" = true
AFTER="$(curl -sS -u "$CLIENT_ID:$CLIENT_SECRET" "$TOKEN_EP" -d grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH")"
check "refresh after revoke-grants fails with invalid_grant" test "$(js 'return j(a[0]).error ?? ""' "$AFTER")" = invalid_grant
# the browser session is gone too: /auth shows the login form again
curl -sS -b "$JAR" -c "$JAR" -o /dev/null -D "$WORK/hdr" \
  "$AUTH_EP?client_id=$CLIENT_ID&response_type=code&scope=openid&redirect_uri=$(js 'return encodeURIComponent(a[0])' "$REDIRECT_URI")&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
check "after revoke-grants the session is gone (/auth -> /interaction)" grep -qi '^location: /interaction/' "$WORK/hdr"

# ---------------------------------------------------------------------------
# client_credentials JWT access token for the bearer audience
# ---------------------------------------------------------------------------
CC="$(curl -sS -u "$API_CLIENT:$API_SECRET" "$TOKEN_EP" -d grant_type=client_credentials \
  --data-urlencode "resource=$AUDIENCE" --data-urlencode 'scope=api:read')"
BEARER="$(js 'return j(a[0]).access_token ?? ""' "$CC")"
check "client_credentials JWT: RS256, iss, aud=$AUDIENCE, sub, exp, scope" test "$(js '
  const h = jwtHeader(a[0]), p = jwtPayload(a[0]);
  const now = Math.floor(Date.now() / 1000);
  return String(h.alg === "RS256" && h.kid === a[3] && p.iss === a[1] && p.aud === a[2] && p.sub === "api-client"
    && p.exp > now && p.scope === "api:read")' "$BEARER" "$ISSUER" "$AUDIENCE" "$OLD_RS_KID")" = true
check "bearer JWT signature verifies against JWKS" test "$(verify_jwt "$BEARER" "$JWKS")" = ok
check "bearer JWT: typ at+jwt, bearerClaims groups=[services]" test "$(js '
  return String(jwtHeader(a[0]).typ === "at+jwt" && JSON.stringify(jwtPayload(a[0]).groups) === "[\"services\"]")' "$BEARER")" = true
BADRES="$(curl -sS -u "$API_CLIENT:$API_SECRET" "$TOKEN_EP" -d grant_type=client_credentials \
  --data-urlencode "resource=https://other.test/" --data-urlencode 'scope=api:read')"
check "unknown resource -> invalid_target" test "$(js 'return j(a[0]).error ?? ""' "$BADRES")" = invalid_target

# ---------------------------------------------------------------------------
# key rotation
# ---------------------------------------------------------------------------
ROT="$(curl -sS -X POST -H 'content-type: application/json' -d '{}' "$CONTROL/rotate-keys")"
NEW_RS_KID="$(js 'return j(a[0]).newKids.find((k) => k.startsWith("rs256")) ?? ""' "$ROT")"
JWKS2="$(curl -fsS "$JWKS_URI")"
check "rotate-keys: JWKS lists new kid first and still has the old one" test "$(js '
  const ks = j(a[0]).keys; return String(ks[0].kid === a[1] && ks.some((k) => k.kid === a[2]) && ks.length === 6)' "$JWKS2" "$NEW_RS_KID" "$OLD_RS_KID")" = true
check "discovery still served at the same issuer after rotation" test "$(curl -fsS "$ISSUER/.well-known/openid-configuration" | js 'return j(require("fs").readFileSync(0, "utf8")).issuer')" = "$ISSUER"
CC2="$(curl -sS -u "$API_CLIENT:$API_SECRET" "$TOKEN_EP" -d grant_type=client_credentials \
  --data-urlencode "resource=$AUDIENCE" --data-urlencode 'scope=api:read')"
BEARER2="$(js 'return j(a[0]).access_token ?? ""' "$CC2")"
check "next bearer JWT uses the new kid ($NEW_RS_KID) and verifies" test "$(js 'return jwtHeader(a[0]).kid' "$BEARER2")/$(verify_jwt "$BEARER2" "$JWKS2")" = "$NEW_RS_KID/ok"

# fresh login with the ES256 / client_secret_post client after rotation (new cookie jar)
JAR="$WORK/jar2"
if login_flow frontdoor-es256 bob@example.test canwefixit && [ -n "$CODE" ]; then
  pass "second login (ES256 client, login by email) after rotation"
else
  fail "second login (ES256 client) after rotation"
fi
TOKENS2="$(curl -sS "$TOKEN_EP" -d grant_type=authorization_code -d client_id=frontdoor-es256 \
  -d client_secret=frontdoor-es256-secret-0123456789 --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER")"
ID2="$(js 'return j(a[0]).id_token ?? ""' "$TOKENS2")"
NEW_ES_KID="$(js 'return j(a[0]).newKids.find((k) => k.startsWith("es256")) ?? ""' "$ROT")"
check "ES256 ID token (client_secret_post) carries the new ES256 kid and verifies" \
  test "$(js 'const h = jwtHeader(a[0]); return h.alg + "/" + h.kid' "$ID2")/$(verify_jwt "$ID2" "$JWKS2")" = "ES256/$NEW_ES_KID/ok"
check "bob's ID token: email_verified=false, groups=[staff]" test "$(js '
  const p = jwtPayload(a[0]); return String(p.sub === "bob" && p.email_verified === false && JSON.stringify(p.groups) === "[\"staff\"]")' "$ID2")" = true

# ---------------------------------------------------------------------------
# set-ttl (live)
# ---------------------------------------------------------------------------
curl -sS -X POST -H 'content-type: application/json' -d '{"accessTokenTTL":5,"idTokenTTL":7}' "$CONTROL/set-ttl" >/dev/null
REFRESH2="$(js 'return j(a[0]).refresh_token ?? ""' "$TOKENS2")"
R2="$(curl -sS "$TOKEN_EP" -d grant_type=refresh_token -d client_id=frontdoor-es256 \
  -d client_secret=frontdoor-es256-secret-0123456789 --data-urlencode "refresh_token=$REFRESH2")"
check "set-ttl: refreshed access token expires_in=5, id_token lifetime 7s" test "$(js '
  const t = j(a[0]); const p = jwtPayload(t.id_token); return String(t.expires_in === 5 && p.exp - p.iat === 7)' "$R2")" = true
curl -sS -X POST -H 'content-type: application/json' -d '{"accessTokenTTL":3600,"idTokenTTL":3600}' "$CONTROL/set-ttl" >/dev/null

# ---------------------------------------------------------------------------
# RP-initiated logout (auto-submitting confirmation page)
# ---------------------------------------------------------------------------
curl -sS -b "$JAR" -c "$JAR" -o "$WORK/logout.html" -D "$WORK/hdr" \
  "$END_SESSION_EP?id_token_hint=$ID2&post_logout_redirect_uri=$(js 'return encodeURIComponent(a[0])' "$POST_LOGOUT")&state=bye"
check "end_session page auto-submits and has #logout-confirm" \
  grep -q "id=\"logout-confirm\"" "$WORK/logout.html"
ACTION="$(grep -o 'action="[^"]*"' "$WORK/logout.html" | head -1 | sed 's/action="//; s/"$//')"
XSRF="$(grep -o 'name="xsrf" value="[^"]*"' "$WORK/logout.html" | sed 's/.*value="//; s/"$//')"
curl -sS -b "$JAR" -c "$JAR" -o /dev/null -D "$WORK/hdr" "$ACTION" -d "xsrf=$XSRF" -d logout=yes
LOGOUT_LOC="$(grep -i '^location:' "$WORK/hdr" | sed 's/^[Ll]ocation: *//' | tr -d '\r')"
check "logout confirm redirects to post_logout_redirect_uri with state" test "$LOGOUT_LOC" = "${POST_LOGOUT}?state=bye"
curl -sS -b "$JAR" -c "$JAR" -o /dev/null -D "$WORK/hdr" \
  "$AUTH_EP?client_id=frontdoor-es256&response_type=code&scope=openid&redirect_uri=$(js 'return encodeURIComponent(a[0])' "$REDIRECT_URI")&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
check "after logout /auth requires login again" grep -qi '^location: /interaction/' "$WORK/hdr"
R3="$(curl -sS "$TOKEN_EP" -d grant_type=refresh_token -d client_id=frontdoor-es256 \
  -d client_secret=frontdoor-es256-secret-0123456789 --data-urlencode "refresh_token=$REFRESH2")"
check "refresh token is dead after logout (invalid_grant)" test "$(js 'return j(a[0]).error ?? ""' "$R3")" = invalid_grant

# ---------------------------------------------------------------------------
# rotate with dropOld, add a client at runtime
# ---------------------------------------------------------------------------
ROT2="$(curl -sS -X POST -H 'content-type: application/json' -d '{"dropOld":true}' "$CONTROL/rotate-keys")"
JWKS3="$(curl -fsS "$JWKS_URI")"
check "rotate-keys dropOld: only the 3 newest keys remain" test "$(js '
  const ks = j(a[0]).keys.map((k) => k.kid).sort().join(","); return String(ks === j(a[1]).newKids.sort().join(","))' "$JWKS3" "$ROT2")" = true
ADD="$(curl -sS -X POST -H 'content-type: application/json' -d '{"clients":[{"client_id":"late","client_secret":"late-secret-0123456789abcdef0123","grant_types":["client_credentials"],"response_types":[],"redirect_uris":[]}]}' "$CONTROL/clients")"
CC3="$(curl -sS -u "late:late-secret-0123456789abcdef0123" "$TOKEN_EP" -d grant_type=client_credentials --data-urlencode "resource=$AUDIENCE" -d scope=api:write)"
check "/__test/clients adds a client at runtime" test "$(js 'return String(j(a[0]).ok === true && jwtPayload(j(a[1]).access_token).sub === "late")' "$ADD" "$CC3")" = true

# ---------------------------------------------------------------------------
# browser.mjs against the OP alone (redirect_uri served by a stub HTTP server)
# ---------------------------------------------------------------------------
CHROMIUM_BIN="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM_BIN" ] && [ -d node_modules/playwright-core ]; then
  # A stand-in relying party: a tiny HTTP server that answers every request with a page
  # naming the URL. (Chromium refuses "unsafe" ports such as 9, so the browser cannot use
  # the sample client's https://127.0.0.1:9/ redirect URI.)
  node -e '
    const s = require("node:http").createServer((q, r) => {
      r.writeHead(200, { "content-type": "text/html" });
      r.end("<p id=stub>stub " + q.url.replace(/[<>&"]/g, "") + "</p>");
    }).listen(0, "127.0.0.1", () => console.log(s.address().port));' >"$WORK/stub.port" 2>/dev/null &
  STUB_PID=$!
  for _ in $(seq 1 50); do [ -s "$WORK/stub.port" ] && break; sleep 0.1; done
  STUB="http://127.0.0.1:$(cat "$WORK/stub.port")"
  B_REDIRECT="$STUB/_frontdoor/callback"
  B_POST_LOGOUT="$STUB/"
  B_CLIENT="$(curl -sS -X POST -H 'content-type: application/json' "$CONTROL/clients" -d "$(js '
    return { clients: [{ client_id: "browser-selftest", client_secret: "browser-selftest-secret-0123456789",
      redirect_uris: [a[0]], post_logout_redirect_uris: [a[1]],
      grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }] }' "$B_REDIRECT" "$B_POST_LOGOUT")")"
  check "registered browser-selftest client at runtime" test "$(js 'return String(j(a[0]).ok)' "$B_CLIENT")" = true
  PROBE="$(node browser.mjs "$(js 'return {probeUrl: a[0] + "/.well-known/openid-configuration"}' "$ISSUER")" 2>&1)"
  check "browser.mjs launches chromium and opens discovery" grep -q '"step":"probe","status":200' <<<"$PROBE"
  BVERIFIER="$(js 'return require("node:crypto").randomBytes(32).toString("base64url")')"
  BCHALLENGE="$(js 'return require("node:crypto").createHash("sha256").update(a[0]).digest("base64url")' "$BVERIFIER")"
  BARG="$(js '
    const [issuer, ru, post, ch] = a;
    const auth = new URL(issuer + "/auth");
    Object.entries({ client_id: "browser-selftest", response_type: "code", scope: "openid email profile groups",
      redirect_uri: ru, state: "browser-state", code_challenge: ch, code_challenge_method: "S256" })
      .forEach(([k, v]) => auth.searchParams.set(k, v));
    return {
      startUrl: auth.href, login: "alice", password: "wonderland",
      expectUrlPrefix: ru, expectPathAfterLogin: new URL(ru).pathname,
      logoutUrl: issuer + "/session/end?client_id=browser-selftest&state=bye&post_logout_redirect_uri=" + encodeURIComponent(post),
      expectUrlPrefixAfterLogout: post + "?state=bye",
    };' "$ISSUER" "$B_REDIRECT" "$B_POST_LOGOUT" "$BCHALLENGE")"
  # 1) login only, then redeem the code the browser was redirected with
  BLOGIN="$(js 'const o = j(a[0]); delete o.logoutUrl; delete o.expectUrlPrefixAfterLogout; return o' "$BARG")"
  if node browser.mjs "$BLOGIN" >"$WORK/browser1.out" 2>"$WORK/browser1.err"; then
    pass "browser.mjs: login via the OP form lands on redirect_uri"
  else
    fail "browser.mjs login-only run"; cat "$WORK/browser1.out" "$WORK/browser1.err" >&2
  fi
  BCODE="$(grep '"step":"logged-in"' "$WORK/browser1.out" | js 'const l = require("fs").readFileSync(0, "utf8"); return l ? (new URL(j(l).url).searchParams.get("code") ?? "") : ""')"
  BTOK="$(curl -sS -u "browser-selftest:browser-selftest-secret-0123456789" "$TOKEN_EP" -d grant_type=authorization_code \
    --data-urlencode "code=$BCODE" --data-urlencode "redirect_uri=$B_REDIRECT" --data-urlencode "code_verifier=$BVERIFIER")"
  check "code obtained through the browser exchanges for an id_token" test "$(js 'return String(!!j(a[0]).id_token)' "$BTOK")" = true
  # 2) login, RP-initiated logout, revisit
  if node browser.mjs "$BARG" >"$WORK/browser2.out" 2>"$WORK/browser2.err"; then
    pass "browser.mjs: login, RP-initiated logout (auto-submit), revisit shows login again"
  else
    fail "browser.mjs login/logout run"; cat "$WORK/browser2.out" "$WORK/browser2.err" >&2
  fi
  kill "$STUB_PID" 2>/dev/null; wait "$STUB_PID" 2>/dev/null; STUB_PID=""
else
  echo "SKIP browser.mjs checks ($CHROMIUM_BIN or node_modules/playwright-core missing)"
fi

check "provider wrote nothing unexpected to stdout" test "$(wc -l <"$WORK/op.out")" = 1
if grep -q 'server_error\|handler error' "$WORK/op.err"; then
  fail "provider logged server errors"; cat "$WORK/op.err" >&2
fi

echo "$PASSES passed, $FAILS failed"
[ "$FAILS" -eq 0 ]

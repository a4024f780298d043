//! frontdoor's own pages, redirects and JSON bodies (sign-in, sign-out, userinfo, health,
//! the plain-HTTP redirect, ACME HTTP-01 answers, the admin listener's answers).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use super::{Body, full};

/// The one style sheet of frontdoor's pages: inline (no external resource), allowed by its
/// hash in the Content-Security-Policy. Readable on a phone, a visible focus ring, text
/// contrast of at least 4.5:1.
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;\
padding:1rem;background:#f4f5f7;color:#1b1b1b;line-height:1.5}\
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem 1.75rem;border-radius:8px;\
box-shadow:0 1px 3px rgba(0,0,0,.2)}h1{font-size:1.5rem;margin:0 0 1rem}\
label{display:block;margin-top:1rem;font-weight:600}\
input{width:100%;box-sizing:border-box;margin-top:.25rem;padding:.6rem;font-size:1rem;\
border:1px solid #6b6b6b;border-radius:4px}\
button,.button{display:block;box-sizing:border-box;width:100%;margin-top:1.5rem;padding:.7rem;\
font-size:1rem;font-weight:600;background:#0b57d0;color:#fff;border:0;border-radius:4px;\
text-align:center;text-decoration:none;cursor:pointer}\
.secondary{background:#fff;color:#0b57d0;border:2px solid #0b57d0}\
:focus-visible{outline:3px solid #b3261e;outline-offset:2px}\
.error{color:#a50e0e;font-weight:600}a{color:#0b57d0}";

/// `Content-Security-Policy` of every page frontdoor makes: nothing but its own style sheet
/// and forms posted to itself; never framed.
fn content_security_policy() -> &'static str {
    static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// A small HTML page; `body_html` must already be escaped. One template for every page
/// frontdoor makes itself (sign-in, signed out, errors).
pub fn page(status: StatusCode, title: &str, body_html: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(document(title, body_html))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    add_page_headers(headers);
    response
}

/// The page's HTML: the template around `body_html` (already escaped).
pub fn document(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body_html}</main></body></html>\n",
        title = escape_html(title)
    )
}

/// The headers every page of frontdoor's carries: its CSP, no framing, no sniffing, no
/// referrer outside the site.
pub fn add_page_headers(headers: &mut http::HeaderMap) {
    if let Ok(policy) = HeaderValue::from_str(content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        // Not no-referrer: with it, browsers send `Origin: null` on the form's POST.
        HeaderValue::from_static("same-origin"),
    );
}

/// "You are signed out", with a link to sign in again at `sign_in_href`.
pub fn signed_out(sign_in_href: &str) -> Response<Body> {
    page(
        StatusCode::OK,
        "Signed out",
        &format!(
            "<p>You are signed out.</p><p><a class=\"button\" href=\"{}\">Sign in again</a></p>",
            escape_html(sign_in_href)
        ),
    )
}

/// What the sign-in page shows.
pub struct SignInForm<'a> {
    /// Where to go after signing in (already sanitized).
    pub return_to: &'a str,
    /// The form's CSRF token.
    pub csrf: &'a str,
    /// Why the last attempt failed, shown above the form.
    pub message: Option<&'a str>,
    /// Ask for the one-time code (the password was right).
    pub code_step: bool,
    /// "Sign in with NAME" for `[auth.oidc]`, with its start URL.
    pub provider: Option<(&'a str, &'a str)>,
}

/// `/_frontdoor/login`: the form (user and password, or the one-time code).
pub fn sign_in(status: StatusCode, form: &SignInForm<'_>) -> Response<Body> {
    let mut body = String::new();
    if let Some(message) = form.message {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape_html(message)
        ));
    }
    body.push_str("<form method=\"post\" action=\"/_frontdoor/login\">");
    body.push_str(&format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape_html(form.csrf)
    ));
    if form.code_step {
        body.push_str(
            "<p>Enter the 6-digit code from your authenticator app.</p>\
             <label for=\"code\">One-time code</label>\
             <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
             pattern=\"[0-9]{6}\" maxlength=\"6\" required autofocus>\
             <button type=\"submit\">Verify</button>",
        );
    } else {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"rd\" value=\"{}\">\
             <label for=\"user\">User name</label>\
             <input id=\"user\" name=\"user\" autocomplete=\"username\" autocapitalize=\"none\" \
             spellcheck=\"false\" required autofocus>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" \
             autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button>",
            escape_html(form.return_to)
        ));
    }
    body.push_str("</form>");
    if let (Some((name, url)), false) = (form.provider, form.code_step) {
        body.push_str(&format!(
            "<a class=\"button secondary\" href=\"{}\">Sign in with {}</a>",
            escape_html(url),
            escape_html(name)
        ));
    }
    page(status, "Sign in", &body)
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A 302 that no cache keeps (sign-in and sign-out steps).
pub fn redirect(location: &str) -> Response<Body> {
    let mut response = redirect_with(StatusCode::FOUND, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A 303 after a form (sign-in): the browser GETs `location`.
pub fn see_other(location: &str) -> Response<Body> {
    let mut response = redirect_with(StatusCode::SEE_OTHER, location);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The plain-HTTP listener's 308 to HTTPS.
pub fn permanent_redirect(location: &str) -> Response<Body> {
    redirect_with(StatusCode::PERMANENT_REDIRECT, location)
}

fn redirect_with(status: StatusCode, location: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A JSON body (a newline is added) that no cache keeps.
pub fn json(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(body.to_string() + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// frontdoor's own small fixed JSON answers (health).
pub fn json_ok(body: &'static str) -> Response<Body> {
    let mut response = Response::new(full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A body of the given content type (the admin listener, ACME HTTP-01 answers).
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The plain 404 of the listeners that are not the front door (admin, ACME HTTP-01).
pub fn not_found_text() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "text/plain", "not found\n")
}

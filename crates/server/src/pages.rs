//! Server-rendered HTML pages. minijinja escapes every value because every template name
//! ends in `.html` (DEPENDENCIES pitfall 13), and a missing variable is an error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// The page templates.
pub struct Pages {
    env: Environment<'static>,
}

/// `Content-Security-Policy` of every page: nothing but our stylesheet, no framing.
/// (No `form-action`: browsers apply it to the redirect back to the client after a POST.)
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the headers every page carries (RFC 9700 §4.16 clickjacking, §4.2.4 Referer leaks).
pub fn harden(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl Pages {
    /// Loads the built-in templates.
    pub fn new() -> Result<Pages, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template("base.html", include_str!("../templates/base.html"))?;
        env.add_template("login.html", include_str!("../templates/login.html"))?;
        env.add_template("consent.html", include_str!("../templates/consent.html"))?;
        env.add_template("error.html", include_str!("../templates/error.html"))?;
        env.add_template("message.html", include_str!("../templates/message.html"))?;
        env.add_template("device.html", include_str!("../templates/device.html"))?;
        Ok(Pages { env })
    }

    /// Renders a page with a status and the security headers.
    pub fn render<S: Serialize>(&self, status: StatusCode, name: &str, ctx: S) -> Response {
        let body = self.env.get_template(name).and_then(|t| t.render(minijinja::value::Serde(&ctx)));
        match body {
            Ok(html) => harden((status, Html(html)).into_response()),
            Err(e) => {
                tracing::error!(error = %e, template = name, "template failed");
                harden((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response())
            }
        }
    }

    /// The error page.
    pub fn error(
        &self,
        status: StatusCode,
        title: &str,
        code: Option<&str>,
        description: &str,
        hint: &str,
    ) -> Response {
        #[derive(Serialize)]
        struct Ctx<'a> {
            title: &'a str,
            code: Option<&'a str>,
            description: &'a str,
            hint: &'a str,
        }
        self.render(status, "error.html", Ctx { title, code, description, hint })
    }
}

/// The stylesheet.
pub async fn stylesheet() -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../templates/latchkey.css"))
        .into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

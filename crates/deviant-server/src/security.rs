//! What keeps a server that faces a network safe to run: the API token compared in constant
//! time, wrong tokens throttled per client, and security headers on every response.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::{Extensions, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::api::ApiError;

/// Wrong tokens a client may send in one window before it is refused for the rest of it.
pub(crate) const MAX_WRONG_TOKENS: u32 = 10;
/// The window wrong tokens are counted in.
pub(crate) const WRONG_TOKEN_WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at most; past it, those whose window has ended are forgotten.
const CLIENTS_KEPT: usize = 10_000;

/// The dashboard's pages load their script and style from the server and nothing inline;
/// nothing may frame them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether `token` hashes to `hash` (hex SHA-256), in time that does not depend on where
/// they differ.
pub(crate) fn token_matches(token: &str, hash: &str) -> bool {
    crate::sha256_hex(token)
        .as_bytes()
        .ct_eq(hash.as_bytes())
        .into()
}

/// Wrong tokens per client address in the current window.
#[derive(Default)]
pub(crate) struct Throttle {
    clients: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    wrong: u32,
}

impl Throttle {
    /// `Some(seconds to wait)` when `client` has sent too many wrong tokens this window.
    pub(crate) fn refused(&self, client: IpAddr) -> Option<u64> {
        let clients = crate::lock(&self.clients);
        let window = clients.get(&client)?;
        let left = WRONG_TOKEN_WINDOW.saturating_sub(window.started.elapsed());
        (window.wrong >= MAX_WRONG_TOKENS && !left.is_zero()).then(|| left.as_secs().max(1))
    }

    /// Counts a wrong token from `client`, and logs it.
    pub(crate) fn wrong_token(&self, client: IpAddr) {
        let mut clients = crate::lock(&self.clients);
        if clients.len() >= CLIENTS_KEPT {
            clients.retain(|_, w| w.started.elapsed() < WRONG_TOKEN_WINDOW);
        }
        let window = clients.entry(client).or_insert(Window {
            started: Instant::now(),
            wrong: 0,
        });
        if window.started.elapsed() >= WRONG_TOKEN_WINDOW {
            *window = Window {
                started: Instant::now(),
                wrong: 0,
            };
        }
        window.wrong += 1;
        tracing::warn!(
            client = %client,
            wrong = window.wrong,
            "a wrong API token (after {MAX_WRONG_TOKENS} in {} s the client is refused with 429)",
            WRONG_TOKEN_WINDOW.as_secs()
        );
    }
}

/// The address a request (by its extensions) came from; requests handed to the router
/// without a connection (tests) count as one client.
pub(crate) fn client_of(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// The 429 a throttled client gets.
pub(crate) fn too_many_wrong_tokens(retry_after: u64) -> ApiError {
    ApiError::too_many(
        format!("too many wrong API tokens from this address; try again in {retry_after} s"),
        retry_after,
    )
}

/// Adds the security headers to every response.
pub(crate) async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

//! One session per browser, found by its cookie: the authorization in
//! progress (state and code verifier), whether the browser is connected,
//! and the names of the files it pushed.
//!
//! The user's token is not here: it is in the app's token store, under the
//! session id (see `App::user`). Sessions live in memory: a restart forgets
//! them, and the user connects again.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use digime::consent::{ConsentState, PkceCodeVerifier};

/// The session cookie's name.
pub(super) const COOKIE: &str = "web_push_session";

/// Every browser's session, by session id.
#[derive(Default)]
pub(super) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

#[derive(Default)]
struct Session {
    pending: Option<Pending>,
    connected: Option<Connected>,
    pushed: Vec<Pushed>,
}

/// An authorization started by `/connect`, waiting for `/callback`.
pub(super) struct Pending {
    pub(super) state: ConsentState,
    pub(super) code_verifier: PkceCodeVerifier,
}

/// A connected browser: its token is in the token store under its session id.
#[derive(Clone)]
pub(super) struct Connected {
    /// The account the user onboarded (`accountReference` of the callback).
    pub(super) account_reference: Option<String>,
}

/// A file this browser pushed: the library keeps no names, this app does.
#[derive(Clone)]
pub(super) struct Pushed {
    pub(super) name: String,
    pub(super) mime_type: String,
    pub(super) size: u64,
    pub(super) sha256: String,
}

impl Sessions {
    fn with<R>(&self, id: &str, f: impl FnOnce(Option<&mut Session>) -> R) -> R {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        f(map.get_mut(id))
    }

    /// The browser's session id, when its cookie names a session of ours.
    pub(super) fn id(&self, jar: &CookieJar) -> Option<String> {
        let id = jar.get(COOKIE)?.value();
        self.with(id, |s| s.is_some()).then(|| id.to_string())
    }

    /// The browser's session, or a new one with its cookie added to `jar`.
    /// A cookie naming no session of ours is replaced: a session id is only
    /// ever one this app made.
    pub(super) fn ensure(&self, jar: CookieJar) -> Result<(String, CookieJar), digime::Error> {
        if let Some(id) = self.id(&jar) {
            return Ok((id, jar));
        }
        let id = ConsentState::generate()?.as_str().to_owned();
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), Session::default());
        let cookie = Cookie::build((COOKIE, id.clone()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .build();
        Ok((id, jar.add(cookie)))
    }

    pub(super) fn set_pending(&self, id: &str, pending: Pending) {
        self.with(id, |s| {
            if let Some(s) = s {
                s.pending = Some(pending);
            }
        });
    }

    /// The pending authorization, taken: a callback is used once.
    pub(super) fn take_pending(&self, id: &str) -> Option<Pending> {
        self.with(id, |s| s.and_then(|s| s.pending.take()))
    }

    pub(super) fn connect(&self, id: &str, connected: Connected) {
        self.with(id, |s| {
            if let Some(s) = s {
                s.connected = Some(connected);
            }
        });
    }

    /// The session id and connection of the browser whose cookies are
    /// `jar`, when it is connected.
    pub(super) fn connected(&self, jar: &CookieJar) -> Option<(String, Connected)> {
        let id = jar.get(COOKIE)?.value();
        self.with(id, |s| s.and_then(|s| s.connected.clone()))
            .map(|c| (id.to_string(), c))
    }

    pub(super) fn record_push(&self, jar: &CookieJar, pushed: Pushed) {
        if let Some(cookie) = jar.get(COOKIE) {
            self.with(cookie.value(), |s| {
                if let Some(s) = s {
                    s.pushed.push(pushed);
                }
            });
        }
    }

    /// The files this browser pushed, oldest first.
    pub(super) fn pushed(&self, jar: &CookieJar) -> Vec<Pushed> {
        jar.get(COOKIE)
            .map(|c| self.with(c.value(), |s| s.map(|s| s.pushed.clone())))
            .unwrap_or_default()
            .unwrap_or_default()
    }
}

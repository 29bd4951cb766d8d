//! What this client remembers of the refreshes it made or saw: for each
//! spent refresh token (hashed, never the value), the token it was rotated
//! to, or the server's refusal.
//!
//! A caller that comes late with a copy of a token this client already
//! rotated gets the newer token from here instead of spending the refresh
//! token a second time (which digi.me refuses, and which would send the
//! user back through consent). Entries live as long as the old refresh token
//! would have lived, and the memory is bounded: past [`MAX_ENTRIES`], the
//! oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::digest::{Context, SHA256};
use secrecy::ExposeSecret;

use crate::error::ServerError;
use crate::token::UserAccessToken;

/// The most rotations remembered at once.
pub(crate) const MAX_ENTRIES: usize = 100_000;
/// The longest chain of rotations followed in one lookup (a guard against a
/// cycle, which no real server produces).
const MAX_CHAIN: usize = 32;

/// SHA-256 of the `client_id` and a refresh token value: the key of a
/// rotation. The raw value is never kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RotationKey([u8; 32]);

impl RotationKey {
    pub(crate) fn new(client_id: &str, token: &UserAccessToken) -> Self {
        let mut ctx = Context::new(&SHA256);
        ctx.update(client_id.as_bytes());
        ctx.update(&[0]);
        ctx.update(token.refresh_token().value().expose_secret().as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        RotationKey(key)
    }
}

impl std::fmt::Debug for RotationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix of the hash is enough to tell entries apart in a log.
        write!(
            f,
            "RotationKey({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// What became of a refresh token.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// It was spent, and this is the token it was rotated to.
    Rotated(Arc<UserAccessToken>),
    /// digi.me refused it: the user must be reauthorized.
    Refused(ServerError),
}

struct Entry {
    outcome: Outcome,
    /// True when a token store holds the token of a rotation (it was
    /// committed under the store's lease). A rotation made without a store,
    /// or one the store failed to take, must still be written to a store by
    /// a caller that has one.
    in_store: bool,
    /// When the old refresh token would have expired: after that, no one
    /// can hold a copy that still works.
    until: SystemTime,
}

/// The bounded memory of rotations.
#[derive(Default)]
pub(crate) struct Rotations {
    entries: HashMap<RotationKey, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<RotationKey>,
}

impl Rotations {
    /// True when nothing is remembered (the common case: a lookup is free).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Remembers what became of the refresh token behind `key`, until `until`.
    ///
    /// A refusal never replaces a known rotation: a late refresh of a spent
    /// refresh token is refused, but the token it was rotated to still
    /// works. A rotation that would close a cycle (back to a token already
    /// rotated away from) is not recorded: a newer token never leads back to
    /// an older one.
    pub(crate) fn record(
        &mut self,
        client_id: &str,
        key: RotationKey,
        outcome: Outcome,
        in_store: bool,
        until: SystemTime,
    ) {
        let now = SystemTime::now();
        if until <= now {
            return;
        }
        match (&outcome, self.entries.get(&key)) {
            (
                Outcome::Refused(_),
                Some(Entry {
                    outcome: Outcome::Rotated(_),
                    ..
                }),
            ) => return,
            (Outcome::Rotated(next), _) if self.leads_to(client_id, next, key) => {
                tracing::warn!(
                    ?key,
                    "not recording a rotation back to a token already rotated away from"
                );
                return;
            }
            _ => {}
        }
        if self
            .entries
            .insert(
                key,
                Entry {
                    outcome,
                    in_store,
                    until,
                },
            )
            .is_none()
        {
            self.order.push_back(key);
        }
        // Drop the expired entries at the front, then the oldest past the cap.
        while let Some(front) = self.order.front().copied() {
            let expired = self.entries.get(&front).is_none_or(|e| e.until <= now);
            if expired || self.order.len() > MAX_ENTRIES {
                self.order.pop_front();
                self.entries.remove(&front);
            } else {
                break;
            }
        }
    }

    /// True when `token`, or a token it was rotated to, has the key `key`.
    pub(crate) fn leads_to(
        &self,
        client_id: &str,
        token: &UserAccessToken,
        key: RotationKey,
    ) -> bool {
        let mut at = RotationKey::new(client_id, token);
        for _ in 0..MAX_CHAIN {
            if at == key {
                return true;
            }
            match self.entries.get(&at).map(|e| &e.outcome) {
                Some(Outcome::Rotated(next)) => at = RotationKey::new(client_id, next),
                _ => return false,
            }
        }
        false
    }

    /// The newest known outcome for `key`, following rotations of rotations,
    /// and whether a token store holds that newest token.
    pub(crate) fn lookup(&self, client_id: &str, key: RotationKey) -> Option<(Outcome, bool)> {
        let now = SystemTime::now();
        let mut found: Option<(Outcome, bool)> = None;
        let mut key = key;
        for _ in 0..MAX_CHAIN {
            let Some(entry) = self.entries.get(&key).filter(|e| e.until > now) else {
                break;
            };
            match &entry.outcome {
                Outcome::Rotated(next) => {
                    key = RotationKey::new(client_id, next);
                    found = Some((entry.outcome.clone(), entry.in_store));
                }
                Outcome::Refused(_) => {
                    found = Some((entry.outcome.clone(), entry.in_store));
                    break;
                }
            }
        }
        found
    }

    /// How many entries are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Token;
    use std::time::Duration;

    fn token(refresh: &str) -> UserAccessToken {
        UserAccessToken::new(
            Token::from_unix_secs("a", 1),
            Token::from_unix_secs(refresh, u64::MAX / 2),
            None,
            None,
        )
    }

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    #[test]
    fn a_chain_of_rotations_leads_to_the_newest_token() {
        let mut r = Rotations::default();
        let (t0, t1, t2) = (token("r0"), token("r1"), token("r2"));
        r.record(
            "c",
            RotationKey::new("c", &t0),
            Outcome::Rotated(Arc::new(t1.clone())),
            true,
            later(),
        );
        r.record(
            "c",
            RotationKey::new("c", &t1),
            Outcome::Rotated(Arc::new(t2)),
            false,
            later(),
        );
        let Some((Outcome::Rotated(newest), in_store)) = r.lookup("c", RotationKey::new("c", &t0))
        else {
            panic!("a rotation is known");
        };
        assert_eq!(newest.refresh_token().value().expose_secret(), "r2");
        // Whether a store holds it is the last rotation's.
        assert!(!in_store);
        // Another contract's key never matches.
        assert!(r.lookup("other", RotationKey::new("other", &t0)).is_none());
    }

    #[test]
    fn expired_entries_are_neither_found_nor_kept() {
        let mut r = Rotations::default();
        let t0 = token("r0");
        r.record(
            "c",
            RotationKey::new("c", &t0),
            Outcome::Rotated(Arc::new(token("r1"))),
            false,
            SystemTime::now() - Duration::from_secs(1),
        );
        assert!(r.is_empty());
        assert!(r.lookup("c", RotationKey::new("c", &t0)).is_none());
    }

    #[test]
    fn the_memory_is_bounded() {
        let mut r = Rotations::default();
        for i in 0..(MAX_ENTRIES + 10) {
            let old = token(&format!("r{i}"));
            r.record(
                "c",
                RotationKey::new("c", &old),
                Outcome::Rotated(Arc::new(token("n"))),
                false,
                later(),
            );
        }
        assert_eq!(r.len(), MAX_ENTRIES);
        // The oldest went first.
        assert!(r.lookup("c", RotationKey::new("c", &token("r0"))).is_none());
        let last = token(&format!("r{}", MAX_ENTRIES + 9));
        assert!(r.lookup("c", RotationKey::new("c", &last)).is_some());
    }

    #[test]
    fn a_refusal_never_replaces_a_rotation() {
        let mut r = Rotations::default();
        let t0 = token("r0");
        let key = RotationKey::new("c", &t0);
        r.record(
            "c",
            key,
            Outcome::Rotated(Arc::new(token("r1"))),
            true,
            later(),
        );
        let refused = ServerError::new(401, Some("InvalidToken".into()), None, None);
        r.record("c", key, Outcome::Refused(refused), false, later());
        let Some((Outcome::Rotated(newest), true)) = r.lookup("c", key) else {
            panic!("the rotation is still known");
        };
        assert_eq!(newest.refresh_token().value().expose_secret(), "r1");
    }

    #[test]
    fn a_rotation_back_to_an_older_token_is_not_recorded() {
        let mut r = Rotations::default();
        let (t0, t1) = (token("r0"), token("r1"));
        let k0 = RotationKey::new("c", &t0);
        let k1 = RotationKey::new("c", &t1);
        r.record(
            "c",
            k0,
            Outcome::Rotated(Arc::new(t1.clone())),
            false,
            later(),
        );
        // r1 -> r0 would close the cycle r0 -> r1 -> r0.
        r.record(
            "c",
            k1,
            Outcome::Rotated(Arc::new(t0.clone())),
            false,
            later(),
        );
        assert!(r.lookup("c", k1).is_none());
        let Some((Outcome::Rotated(newest), _)) = r.lookup("c", k0) else {
            panic!("r0's rotation is known");
        };
        assert_eq!(newest.refresh_token().value().expose_secret(), "r1");
    }

    #[test]
    fn the_key_hides_the_value() {
        let key = RotationKey::new("c", &token("secret-refresh-value"));
        assert!(!format!("{key:?}").contains("secret"));
    }
}

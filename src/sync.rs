//! The one way the crate locks a mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex` whether or not an earlier holder panicked: every update
/// the crate makes under a lock leaves the data consistent, so a panic
/// elsewhere does not make it unusable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

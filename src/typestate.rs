//! What every type-state builder in this crate shares: the sealing trait and
//! the macro that declares a field's "missing" and "set" markers.

pub(crate) mod sealed {
    /// Only this crate's markers implement it, so no other state can exist.
    pub trait Sealed {}
}

/// Declares `$missing` (a zero-sized marker) and `$set($inner)` (the marker
/// that carries the field's value), both sealed.
macro_rules! state_pair {
    ($(#[$mdoc:meta])* $missing:ident, $(#[$sdoc:meta])* $set:ident($inner:ty)) => {
        $(#[$mdoc])*
        #[derive(Debug, Clone, Copy, Default)]
        #[non_exhaustive]
        pub struct $missing;

        $(#[$sdoc])*
        #[derive(Debug)]
        pub struct $set(pub(crate) $inner);

        impl $crate::typestate::sealed::Sealed for $missing {}
        impl $crate::typestate::sealed::Sealed for $set {}
    };
}
pub(crate) use state_pair;

//! What every type-state builder in this crate shares: the sealing trait,
//! the macro that declares one field's markers and the trait `send()`
//! requires of it, and the macro that adds another builder's trait to
//! existing markers.

pub(crate) mod sealed {
    /// Only this crate's markers implement it, so no other state can exist.
    pub trait Sealed {}
}

/// Declares one field's type states:
///
/// - `$missing`: a zero-sized marker, the field is not set;
/// - `$set($inner)`: the marker that carries the field's value;
/// - `$has`: the sealed trait that `send()` requires, implemented by `$set`
///   only, with `$into` to take the value out. Its attributes carry the
///   `#[diagnostic::on_unimplemented]` sentence the compiler shows when the
///   field is missing.
macro_rules! state_pair {
    (
        $(#[$mdoc:meta])* $missing:ident,
        $(#[$sdoc:meta])* $set:ident($inner:ty),
        $(#[$hattr:meta])* $has:ident::$into:ident $(,)?
    ) => {
        $(#[$mdoc])*
        #[derive(Debug, Clone, Copy, Default)]
        #[non_exhaustive]
        pub struct $missing;

        $(#[$sdoc])*
        #[derive(Debug)]
        pub struct $set(pub(crate) $inner);

        impl $crate::typestate::sealed::Sealed for $missing {}
        impl $crate::typestate::sealed::Sealed for $set {}

        $crate::typestate::state_trait!($(#[$hattr])* $has::$into for $set($inner));
    };
}
pub(crate) use state_pair;

/// Declares one more sealed trait that `send()` may require of a field whose
/// markers exist already (another builder's own sentence for the same
/// field): `$has`, implemented by `$set` only, with `$into` to take the
/// value out.
macro_rules! state_trait {
    ($(#[$hattr:meta])* $has:ident::$into:ident for $set:ident($inner:ty)) => {
        $(#[$hattr])*
        pub trait $has: $crate::typestate::sealed::Sealed {
            #[doc(hidden)]
            fn $into(self) -> $inner;
        }

        impl $has for $set {
            fn $into(self) -> $inner {
                self.0
            }
        }
    };
}
pub(crate) use state_trait;

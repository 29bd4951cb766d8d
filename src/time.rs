//! Times in the API are [`SystemTime`]; on the wire and in stored JSON they
//! stay what the protocol makes them. These serde adapters write a
//! `SystemTime` as whole milliseconds since the Unix epoch, and read it back
//! exactly, so a model's JSON is the same number it was.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serializer};

/// Milliseconds since the Unix epoch; negative before it.
fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The time `ms` milliseconds from the Unix epoch, when the platform's
/// `SystemTime` can hold it.
fn from_ms(ms: i64) -> Option<SystemTime> {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

fn read<'de, D: Deserializer<'de>>(ms: i64) -> Result<SystemTime, D::Error> {
    from_ms(ms).ok_or_else(|| {
        serde::de::Error::custom(format!("{ms} ms since the Unix epoch is out of range"))
    })
}

/// `Option<SystemTime>` as a JSON number of milliseconds since the Unix
/// epoch (or `null`): digi.me's account times (`createdDate`, …).
pub(crate) mod epoch_ms_option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<SystemTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&to_ms(*t)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        Option::<i64>::deserialize(d)?.map(read::<D>).transpose()
    }
}

/// `SystemTime` as a JSON number of milliseconds since the Unix epoch: the
/// sandbox's `receivedAtMs` / `received_at_ms`.
#[cfg(feature = "sandbox")]
pub(crate) mod epoch_ms {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_ms(*t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_exactly() {
        for ms in [0, 1, 1_767_225_600_123, -1, -86_400_000] {
            assert_eq!(to_ms(from_ms(ms).unwrap()), ms, "{ms}");
        }
    }

    #[test]
    fn sub_millisecond_parts_are_dropped() {
        let t = UNIX_EPOCH + Duration::from_micros(1_500);
        assert_eq!(to_ms(t), 1);
    }
}

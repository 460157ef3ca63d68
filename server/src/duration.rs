//! Durations as people write them — `30s`, `10m`, `2h`, `90d`, `1w` — in flags and config.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a duration into seconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (e.g. 10m)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}; use s, m, h, d or w"
            ));
        }
    };
    n.checked_mul(scale)
        .filter(|&s| s > 0 && s <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("{text:?} is not a usable duration"))
}

/// A duration in whole seconds, written in config as `"5m"` (or a number of seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Secs(pub u64);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s >= size && s % size == 0 {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(0) => Err(serde::de::Error::custom("a duration must be positive")),
            Raw::Number(n) => Ok(Secs(n)),
            Raw::Text(t) => parse(&t).map(Secs).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("10m"), Ok(600));
        assert_eq!(parse("90d"), Ok(90 * 86_400));
        for bad in [
            "10",
            "m",
            "0s",
            "10y",
            "99999999999999999999w",
            "-5m",
            "1000w0",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prints_the_largest_whole_unit() {
        assert_eq!(Secs(300).to_string(), "5m");
        assert_eq!(Secs(90 * 86_400).to_string(), "90d");
        assert_eq!(Secs(61).to_string(), "61s");
    }
}

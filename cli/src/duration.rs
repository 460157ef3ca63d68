//! Durations as people type them: `30s`, `10m`, `2h`, `90d`, `1w`.

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
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("{text:?} is not a usable duration"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("10m"), Ok(600));
        assert_eq!(parse("90d"), Ok(90 * 86_400));
        assert!(parse("10").is_err());
        assert!(parse("m").is_err());
        assert!(parse("0s").is_err());
        assert!(parse("10y").is_err());
        assert!(parse("99999999999999999999w").is_err());
    }
}

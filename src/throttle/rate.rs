//! Rates written as strings: `"100/hour"`, `"30/minute"`, `"5/5m"`, `"5 per 5m"`, `"3/h"`.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed…
    pub limit: u32,
    /// …per this window.
    pub period: Duration,
}

fn unit_secs(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "second" | "seconds" => 1,
        "m" | "min" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return None,
    })
}

impl Rate {
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("`{text}` is not a rate like \"100/hour\" or \"5/5m\"");
        let normalized = text.trim().to_ascii_lowercase().replace(" per ", "/");
        let (count, window) = normalized.split_once('/').ok_or_else(bad)?;
        let limit: u32 = count.trim().parse().map_err(|_| bad())?;
        if limit == 0 {
            return Err(format!("`{text}`: the limit must be at least 1"));
        }
        let window = window.trim();
        let split = window.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = window.split_at(split);
        let n: u64 = if n.is_empty() {
            1
        } else {
            n.parse().map_err(|_| bad())?
        };
        let secs = unit_secs(unit.trim())
            .ok_or_else(bad)?
            .checked_mul(n)
            .filter(|s| *s > 0)
            .ok_or_else(bad)?;
        Ok(Rate {
            limit,
            period: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.limit, self.period.as_secs())
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rate::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_spellings() {
        let r = |t| Rate::parse(t).unwrap();
        assert_eq!(
            r("100/hour"),
            Rate {
                limit: 100,
                period: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            r("30/minute"),
            Rate {
                limit: 30,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(
            r("5/5m"),
            Rate {
                limit: 5,
                period: Duration::from_secs(300)
            }
        );
        assert_eq!(
            r("5 per 5m"),
            Rate {
                limit: 5,
                period: Duration::from_secs(300)
            }
        );
        assert_eq!(
            r("3/h"),
            Rate {
                limit: 3,
                period: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            r("1000/day"),
            Rate {
                limit: 1000,
                period: Duration::from_secs(86_400)
            }
        );
        for bad in [
            "",
            "100",
            "0/hour",
            "x/hour",
            "10/fortnight",
            "10/0m",
            "-1/hour",
            "10/",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}

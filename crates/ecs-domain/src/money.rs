//! Account balances and prices: decimal amounts kept as integer ten-thousandths, so sums and
//! comparisons are exact.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const SCALE: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn from_units(units: i64) -> Self {
        Money(units)
    }

    /// The raw count of ten-thousandths, as stored.
    pub fn units(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_mul(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyParseError;

impl FromStr for Money {
    type Err = MoneyParseError;

    /// Accepts `123`, `123.4`, `-5.0001`: at most four decimals.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || frac.len() > 4 {
            return Err(MoneyParseError);
        }
        if digits.contains('.') && frac.is_empty() {
            return Err(MoneyParseError);
        }
        let whole: i64 = whole.parse().map_err(|_| MoneyParseError)?;
        let mut frac_units: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| MoneyParseError)?
        };
        for _ in frac.len()..4 {
            frac_units *= 10;
        }
        let units = whole
            .checked_mul(SCALE)
            .and_then(|w| w.checked_add(frac_units))
            .ok_or(MoneyParseError)?;
        Ok(Money(if neg { -units } else { units }))
    }
}

impl fmt::Display for Money {
    /// Two decimals at least, more only when they are not zero: `12.50`, `0.0001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / SCALE as u64;
        let mut frac = format!("{:04}", abs % SCALE as u64);
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{sign}{whole}.{frac}")
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        raw.parse()
            .map_err(|_| serde::de::Error::custom(format!("not a decimal amount: {raw}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_decimals() {
        for (input, shown) in [
            ("123.45", "123.45"),
            ("0", "0.00"),
            ("7.5", "7.50"),
            ("0.0001", "0.0001"),
            ("-2.25", "-2.25"),
        ] {
            assert_eq!(
                input.parse::<Money>().unwrap().to_string(),
                shown,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_non_decimals() {
        for bad in ["", "abc", "1.", ".5", "1.23456", "1e3", "--1", "1,5"] {
            assert!(bad.parse::<Money>().is_err(), "{bad}");
        }
    }
}

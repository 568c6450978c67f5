//! The server's clock: the real one, or a virtual one that moves only when told to.
//!
//! Only lifecycle decisions read this clock. Request signatures are checked against the wall
//! clock, because SDKs stamp requests with real time.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockMode {
    Real,
    Virtual,
}

impl ClockMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockMode::Real => "real",
            ClockMode::Virtual => "virtual",
        }
    }
}

/// Key of the stored virtual time, so a restart resumes where the clock was.
pub const VIRTUAL_NOW_SETTING: &str = "virtual_clock_now";

pub struct ServerClock {
    mode: ClockMode,
    virtual_now: Mutex<DateTime<Utc>>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AdvanceError {
    RealClock,
    Backwards,
    Overflow,
}

impl ServerClock {
    pub fn real() -> Self {
        Self {
            mode: ClockMode::Real,
            virtual_now: Mutex::new(Utc::now()),
        }
    }

    pub fn virtual_at(now: DateTime<Utc>) -> Self {
        Self {
            mode: ClockMode::Virtual,
            virtual_now: Mutex::new(now),
        }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.mode {
            ClockMode::Real => Utc::now(),
            ClockMode::Virtual => *self.virtual_now.lock().unwrap(),
        }
    }

    /// The time the clock would show after moving `seconds` forward; the caller stores it
    /// durably, then calls [`ServerClock::set`].
    pub fn advanced_by(&self, seconds: i64) -> Result<DateTime<Utc>, AdvanceError> {
        if self.mode == ClockMode::Real {
            return Err(AdvanceError::RealClock);
        }
        if seconds < 0 {
            return Err(AdvanceError::Backwards);
        }
        let delta = Duration::try_seconds(seconds).ok_or(AdvanceError::Overflow)?;
        self.now()
            .checked_add_signed(delta)
            .ok_or(AdvanceError::Overflow)
    }

    /// Moves a virtual clock forward to `to` if it is behind it; a real clock, or a virtual
    /// one already there, is left alone. A jump shows its progress this way (see
    /// `scheduler::run_due`).
    pub fn move_up_to(&self, to: DateTime<Utc>) {
        if self.mode == ClockMode::Virtual {
            let mut now = self.virtual_now.lock().unwrap();
            if *now < to {
                *now = to;
            }
        }
    }

    /// Moves a virtual clock to `to`; never backwards.
    pub fn set(&self, to: DateTime<Utc>) -> Result<(), AdvanceError> {
        if self.mode == ClockMode::Real {
            return Err(AdvanceError::RealClock);
        }
        let mut now = self.virtual_now.lock().unwrap();
        if to < *now {
            return Err(AdvanceError::Backwards);
        }
        *now = to;
        Ok(())
    }
}

/// Parses a duration like `9d12h`, `90m`, `30s` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("9d12h"), Some(9 * 86_400 + 12 * 3_600));
        assert_eq!(parse_duration("90m"), Some(5_400));
        assert_eq!(parse_duration("45"), Some(45));
        assert_eq!(parse_duration("1w1s"), Some(604_801));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("12"), Some(12));
        assert_eq!(parse_duration("3h5"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn virtual_clock_moves_only_forward() {
        let start = Utc::now();
        let clock = ServerClock::virtual_at(start);
        let later = clock.advanced_by(60).unwrap();
        clock.set(later).unwrap();
        assert_eq!(clock.now(), later);
        assert_eq!(clock.set(start), Err(AdvanceError::Backwards));
        assert_eq!(clock.advanced_by(-1), Err(AdvanceError::Backwards));
        assert_eq!(
            ServerClock::real().advanced_by(1),
            Err(AdvanceError::RealClock)
        );
    }
}

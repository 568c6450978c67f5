//! The lifecycle clock: the real one, or a virtual one that moves only when told to.
//!
//! Only lifecycle decisions read this clock. Request signatures are checked against the wall
//! clock, because SDKs stamp requests with real time.
//!
//! A virtual clock's time is not held by the process: it is one value in the store, which every
//! call reads, so every process serving the same store sees one time. A jump keeps a second
//! value, its destination, so a jump cut short by a crash is finished on the next start.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ecs_store::{Store, StoreExt, StoreResult, StoreTx, TxResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Key of the stored virtual time: what every call sees.
pub const VIRTUAL_NOW_SETTING: &str = "virtual_clock_now";
/// Key of the time a jump in progress is heading for.
pub const VIRTUAL_TARGET_SETTING: &str = "virtual_clock_target";

/// The latest time the clock may show. ECS answers show four-digit years, and every time the
/// rules derive from the clock (a release three years ahead, a renewal, a grace period) must
/// still be one: the clock stops twenty years short of the year 10000.
pub fn latest_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9979, 12, 31, 23, 59, 59)
        .single()
        .expect("a valid constant time")
}

#[derive(Debug, PartialEq, Eq)]
pub enum AdvanceError {
    RealClock,
    Backwards,
    /// Past [`latest_time`].
    TooFar,
}

#[derive(Clone)]
pub struct LifecycleClock {
    mode: ClockMode,
    store: Arc<dyn Store>,
}

/// Reads a stored time.
pub fn stored_time(tx: &mut dyn StoreTx, key: &str) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(tx
        .setting(key)?
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Stores a time.
pub fn store_time(tx: &mut dyn StoreTx, key: &str, at: DateTime<Utc>) -> StoreResult<()> {
    tx.put_setting(key, &at.to_rfc3339())
}

/// Moves the stored virtual time up to `to` (never back), inside a transaction.
pub fn move_up_to(tx: &mut dyn StoreTx, to: DateTime<Utc>) -> StoreResult<()> {
    match stored_time(tx, VIRTUAL_NOW_SETTING)? {
        Some(now) if now >= to => Ok(()),
        _ => store_time(tx, VIRTUAL_NOW_SETTING, to),
    }
}

impl LifecycleClock {
    pub fn real(store: Arc<dyn Store>) -> Self {
        Self {
            mode: ClockMode::Real,
            store,
        }
    }

    /// A virtual clock over `store`: it resumes the stored time, or starts at the real time
    /// (whole seconds: the admin API and events show times to the second).
    pub fn open_virtual(store: Arc<dyn Store>) -> TxResult<Self> {
        store.write(|tx| {
            if stored_time(tx, VIRTUAL_NOW_SETTING)?.is_none() {
                let now = Utc::now();
                let start = now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
                store_time(tx, VIRTUAL_NOW_SETTING, start)?;
            }
            Ok(())
        })?;
        Ok(Self {
            mode: ClockMode::Virtual,
            store,
        })
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// The lifecycle time now.
    pub fn now(&self) -> DateTime<Utc> {
        match self.mode {
            ClockMode::Real => Utc::now(),
            ClockMode::Virtual => match self
                .store
                .read(|tx| Ok(stored_time(tx, VIRTUAL_NOW_SETTING)?))
            {
                Ok(Some(t)) => t,
                // The value is written before the clock is handed out and never removed
                // (reset keeps settings), so this is a storage failure; the real time is the
                // least wrong answer, and the failure is in the log.
                Ok(None) | Err(_) => {
                    tracing::error!("cannot read the virtual clock from the store");
                    Utc::now()
                }
            },
        }
    }

    /// The lifecycle time now, or the storage failure that hides a virtual one. The scheduler
    /// uses this: during a database outage [`LifecycleClock::now`] falls back to the real time,
    /// which must never decide what is due.
    pub fn try_now(&self) -> TxResult<DateTime<Utc>> {
        match self.mode {
            ClockMode::Real => Ok(Utc::now()),
            ClockMode::Virtual => self
                .store
                .read(|tx| Ok(stored_time(tx, VIRTUAL_NOW_SETTING)?))?
                .ok_or_else(|| {
                    ecs_store::TxError::Store(ecs_store::StoreError::Corrupt(
                        "the virtual clock's time is missing".into(),
                    ))
                }),
        }
    }

    /// The time a jump of `seconds` from now would reach.
    pub fn advanced_by(&self, seconds: i64) -> Result<DateTime<Utc>, AdvanceError> {
        if self.mode == ClockMode::Real {
            return Err(AdvanceError::RealClock);
        }
        if seconds < 0 {
            return Err(AdvanceError::Backwards);
        }
        Duration::try_seconds(seconds)
            .and_then(|d| self.now().checked_add_signed(d))
            .filter(|t| *t <= latest_time())
            .ok_or(AdvanceError::TooFar)
    }

    /// The destination of a jump that did not finish (the process stopped during it).
    pub fn unfinished_jump(&self) -> TxResult<Option<DateTime<Utc>>> {
        if self.mode == ClockMode::Real {
            return Ok(None);
        }
        self.store
            .read(|tx| Ok(stored_time(tx, VIRTUAL_TARGET_SETTING)?))
    }

    /// Records where a jump is heading, before any of its work runs.
    pub fn begin_jump(&self, to: DateTime<Utc>) -> TxResult<()> {
        self.store
            .write(move |tx| Ok(store_time(tx, VIRTUAL_TARGET_SETTING, to)?))
    }

    /// The jump's work is done: the clock shows its destination.
    pub fn end_jump(&self, to: DateTime<Utc>) -> TxResult<()> {
        self.store.write(move |tx| {
            move_up_to(tx, to)?;
            tx.put_setting(VIRTUAL_TARGET_SETTING, "")?;
            Ok(())
        })
    }
}

/// Moves a stopped server's stored virtual time forward (`clock advance --offline`). A jump the
/// server did not finish counts as done: the move starts from its destination (the server's
/// start-up catch-up carries out everything due up to the new time, the unfinished jump's work
/// included).
pub fn advance_stored(
    store: &dyn Store,
    seconds: i64,
) -> TxResult<Result<DateTime<Utc>, AdvanceError>> {
    store.write(move |tx| {
        let Some(now) = stored_time(tx, VIRTUAL_NOW_SETTING)? else {
            return Ok(Err(AdvanceError::RealClock));
        };
        let from = match stored_time(tx, VIRTUAL_TARGET_SETTING)? {
            Some(target) if target > now => target,
            _ => now,
        };
        if seconds < 0 {
            return Ok(Err(AdvanceError::Backwards));
        }
        let Some(to) = Duration::try_seconds(seconds)
            .and_then(|d| from.checked_add_signed(d))
            .filter(|t| *t <= latest_time())
        else {
            return Ok(Err(AdvanceError::TooFar));
        };
        store_time(tx, VIRTUAL_NOW_SETTING, to)?;
        tx.put_setting(VIRTUAL_TARGET_SETTING, "")?;
        Ok(Ok(to))
    })
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
    fn the_latest_time_leaves_room_for_every_derived_time() {
        // Three years of release window, five of renewal, ten of grace: still four digits.
        let derived = latest_time() + Duration::days(366 * 18);
        assert!(derived.format("%Y").to_string().len() == 4, "{derived}");
    }
}

//! How the console shows things: the frame around every page, times (UTC in the page, turned
//! into the browser's time zone by the script, with UTC on hover), statuses and billing methods
//! in words.

use chrono::{DateTime, NaiveDateTime, Utc};
use ecs_domain::model::{ChargeType, InstanceStatus, RenewalStatus};

use super::form::Fields;
use super::session::Session;
use crate::app::App;

/// What every page shows around its content: who is signed in, the region, the cloud's clock,
/// and the token every form posts back.
pub struct Chrome {
    pub title: String,
    /// The signed-in account's name; `None` on pages shown without a session.
    pub account: Option<String>,
    pub csrf: String,
    pub region: String,
    /// Region ids with their names, for the region switch.
    pub regions: Vec<(String, String)>,
    /// Which part of the console the page belongs to: `instances`, `hosts` or `emulator`.
    pub nav: &'static str,
    /// The cloud's time now (the lifecycle clock, virtual or real).
    pub now: Option<TimeView>,
    pub clock_mode: &'static str,
}

impl Chrome {
    /// The frame of a page shown to nobody in particular (sign-in, errors before a session).
    pub fn bare(title: &str) -> Self {
        Chrome {
            title: title.to_string(),
            account: None,
            csrf: String::new(),
            region: String::new(),
            regions: Vec::new(),
            nav: "",
            now: None,
            clock_mode: "",
        }
    }

    pub fn new(app: &App, session: &Session, title: &str, nav: &'static str, region: &str) -> Self {
        let catalog = app.service.catalog();
        Chrome {
            title: title.to_string(),
            account: Some(session.record.account.clone()),
            csrf: session.record.csrf.clone(),
            region: region.to_string(),
            regions: catalog
                .regions
                .iter()
                .map(|r| {
                    let name = r
                        .english_name
                        .clone()
                        .unwrap_or_else(|| r.local_name.clone());
                    (r.id.clone(), name)
                })
                .collect(),
            nav,
            now: app.service.clock().try_now().ok().map(time),
            clock_mode: app.service.clock().mode().as_str(),
        }
    }

    /// Where the region switch goes: the list of the part of the console the page is in.
    pub fn list_path(&self) -> &'static str {
        match self.nav {
            "hosts" => "/console/hosts",
            "emulator" => "/console/emulator",
            _ => "/console/instances",
        }
    }

    /// Whether the region switch should mark `id` as chosen (templates compare strings).
    pub fn is_region(&self, id: &str) -> bool {
        self.region == id
    }
}

/// The region a page is about: the one asked for if the catalogue has it, else the first.
pub fn region(app: &App, fields: &Fields) -> String {
    let catalog = app.service.catalog();
    fields
        .get("region")
        .and_then(|r| catalog.region(r))
        .or_else(|| catalog.regions.first())
        .map(|r| r.id.clone())
        .unwrap_or_default()
}

/// A time as a page shows it: `iso` for the `datetime` attribute and the script, `text` in UTC
/// for readers without the script (and for the hover title).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TimeView {
    pub iso: String,
    pub text: String,
}

pub fn time(t: DateTime<Utc>) -> TimeView {
    TimeView {
        iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        text: t.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// The value a `datetime-local` input shows for `t` without the script (UTC; the script turns
/// it into the browser's time zone).
pub fn input_value(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// Why a time typed into a form could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTime;

/// A `datetime-local` value (`2026-12-01T09:30`, seconds allowed) in the browser's zone, whose
/// offset east of UTC in minutes the script sends as `tz_offset` (absent without the script:
/// then the value is UTC, as the form says).
pub fn parse_local(value: &str, tz_offset: Option<&str>) -> Result<DateTime<Utc>, BadTime> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| BadTime)?;
    let offset_minutes: i64 = match tz_offset {
        None => 0,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|m: &i64| m.abs() <= 18 * 60)
            .ok_or(BadTime)?,
    };
    naive
        .and_utc()
        .checked_sub_signed(chrono::Duration::minutes(offset_minutes))
        .ok_or(BadTime)
}

/// An RFC 3339 time carried in a hidden field from one step to the next.
pub fn parse_carried(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn charge_label(c: ChargeType) -> &'static str {
    match c {
        ChargeType::PostPaid => "Pay-as-you-go",
        ChargeType::PrePaid => "Subscription",
    }
}

/// A status as the console shows it: ECS's own words (Running, Stopped, ...), which read well
/// as they are, whatever states the model gains.
pub fn status_label(s: InstanceStatus) -> &'static str {
    s.as_str()
}

pub fn renewal_label(s: RenewalStatus) -> &'static str {
    match s {
        RenewalStatus::AutoRenewal => "Auto-renew",
        RenewalStatus::Normal => "Manual",
        RenewalStatus::NotRenewal => "Not renewing",
    }
}

/// A choice in a `<select>` or a radio group: value, label, chosen.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub chosen: bool,
}

impl Choice {
    pub fn list<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
        chosen: &str,
    ) -> Vec<Choice> {
        options
            .into_iter()
            .map(|(value, label)| Choice {
                value: value.to_string(),
                label: label.to_string(),
                chosen: value == chosen,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_are_moved_to_utc_by_the_browser_offset() {
        let t = parse_local("2030-01-01T08:30", Some("480")).unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-01T00:30:00+00:00");
        let t = parse_local("2030-01-01T08:30", None).unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-01T08:30:00+00:00");
        let t = parse_local("2030-01-01T08:30:59", Some("-300")).unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-01T13:30:59+00:00");
        assert_eq!(parse_local("tomorrow", None), Err(BadTime));
        assert_eq!(parse_local("2030-01-01T08:30", Some("9999")), Err(BadTime));
        assert_eq!(parse_local("2030-01-01T08:30", Some("x")), Err(BadTime));
    }
}

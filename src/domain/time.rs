//! Time as the panels think of it: UK local time (GMT/BST), so that
//! "evening" means the evening on the street, whatever the season.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc,
};

/// The last Sunday of a month with 31 days (March and October).
fn last_sunday_of(year: i32, month: u32) -> Option<NaiveDate> {
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = i64::from(last.weekday().num_days_from_sunday());
    Some(last - Duration::days(back))
}

/// Converts a UTC instant to UK civil time.
///
/// British Summer Time runs from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October (Summer Time Order 2002). Written
/// out here rather than pulling in a time-zone database for one zone.
pub fn uk_local(t: DateTime<Utc>) -> NaiveDateTime {
    let year = t.year();
    let starts = last_sunday_of(year, 3).and_then(|d| d.and_hms_opt(1, 0, 0));
    let ends = last_sunday_of(year, 10).and_then(|d| d.and_hms_opt(1, 0, 0));
    let naive = t.naive_utc();
    match (starts, ends) {
        (Some(s), Some(e)) if naive >= s && naive < e => naive + Duration::hours(1),
        _ => naive,
    }
}

/// Local hour of day (0–23) and weekday (0 = Monday … 6 = Sunday) in the UK.
pub fn uk_hour_and_weekday(t: DateTime<Utc>) -> (u8, u8) {
    let local = uk_local(t);
    // Both values are small by construction (hour < 24, weekday < 7).
    let hour = u8::try_from(local.hour()).unwrap_or(0);
    let weekday = u8::try_from(local.weekday().num_days_from_monday()).unwrap_or(0);
    (hour, weekday)
}

/// The one text form timestamps take in the stores and the APIs:
/// RFC 3339, UTC, millisecond precision. Fixed width, so text order is time order.
pub fn format_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp into UTC.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Milliseconds since the Unix epoch (the precision timestamps are kept at).
pub fn unix_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant for milliseconds since the Unix epoch.
pub fn from_unix_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The UTC instant of a UK civil time. In the hour the clocks go back, the
/// earlier (BST) reading is taken; a time skipped when they go forward is
/// read as GMT.
pub fn uk_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let as_bst = (local - Duration::hours(1)).and_utc();
    if uk_local(as_bst) == local {
        as_bst
    } else {
        local.and_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse_instant(s).expect("valid instant")
    }

    #[test]
    fn winter_evenings_are_gmt_and_summer_evenings_are_bst() {
        assert_eq!(uk_hour_and_weekday(at("2024-01-10T19:30:00Z")).0, 19);
        assert_eq!(uk_hour_and_weekday(at("2024-07-10T19:30:00Z")).0, 20);
    }

    #[test]
    fn the_clocks_change_at_one_in_the_morning_utc_on_the_last_sundays() {
        // 2024: BST from 31 March 01:00 UTC to 27 October 01:00 UTC.
        assert_eq!(uk_local(at("2024-03-31T00:59:00Z")).hour(), 0);
        assert_eq!(uk_local(at("2024-03-31T01:00:00Z")).hour(), 2);
        assert_eq!(uk_local(at("2024-10-27T00:59:00Z")).hour(), 1);
        assert_eq!(uk_local(at("2024-10-27T01:00:00Z")).hour(), 1);
    }

    #[test]
    fn a_summer_midnight_in_the_uk_is_eleven_the_evening_before_in_utc() {
        let local = NaiveDate::from_ymd_opt(2026, 7, 4)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        assert_eq!(format_instant(uk_to_utc(local)), "2026-07-03T23:00:00.000Z");
        let winter = NaiveDate::from_ymd_opt(2026, 1, 4)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        assert_eq!(
            format_instant(uk_to_utc(winter)),
            "2026-01-04T00:00:00.000Z"
        );
    }

    #[test]
    fn saturday_is_day_five() {
        assert_eq!(uk_hour_and_weekday(at("2024-06-15T12:00:00Z")).1, 5);
    }
}

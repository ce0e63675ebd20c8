//! Reading what platforms say about their rate limits, in all the header dialects
//! Tocsin meets: `Retry-After` (seconds or an HTTP date), `X-RateLimit-*` (Mastodon,
//! Discord), `x-rate-limit-*` (X), `RateLimit-*` (Bluesky and the IETF draft).

use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

use crate::RateLimitStatus;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Seconds as an integer or a decimal (`"2"`, `"0.35"`), never negative or absurd.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().parse().ok()?;
    if !secs.is_finite() || !(0.0..=86_400.0 * 7.0).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// As [`retry_after`], with "now" given (for tests).
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    if let Some(d) = parse_seconds(value) {
        return Some(d);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A reset given as epoch seconds, an ISO 8601 time, or seconds from now.
fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        let at = SystemTime::from(at.with_timezone(&chrono::Utc));
        return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
    }
    let number: f64 = value.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    // Epoch seconds are large; a delta is small.
    if number > 1_000_000_000.0 {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs_f64(number);
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    } else {
        Some(Duration::from_secs_f64(number))
    }
}

/// Rate-limit state from whichever dialect the headers speak.
pub fn rate_limit_status(headers: &HeaderMap) -> Option<RateLimitStatus> {
    rate_limit_status_at(headers, SystemTime::now())
}

/// As [`rate_limit_status`], with "now" given (for tests).
pub fn rate_limit_status_at(headers: &HeaderMap, now: SystemTime) -> Option<RateLimitStatus> {
    const REMAINING: [&str; 2] = ["x-ratelimit-remaining", "ratelimit-remaining"];
    const RESET: [&str; 3] = [
        "x-ratelimit-reset-after",
        "x-ratelimit-reset",
        "ratelimit-reset",
    ];
    // Header names are case-insensitive; X's x-rate-limit-* differ by a dash.
    let remaining = REMAINING
        .iter()
        .chain(["x-rate-limit-remaining"].iter())
        .find_map(|n| header(headers, n))
        .and_then(|v| v.parse::<u64>().ok());
    let reset_after = RESET
        .iter()
        .chain(["x-rate-limit-reset"].iter())
        .find_map(|n| header(headers, n))
        .and_then(|v| parse_reset(v, now));
    if remaining.is_none() && reset_after.is_none() {
        return None;
    }
    Some(RateLimitStatus {
        remaining,
        reset_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after_at(&headers(&[("Retry-After", "7")]), now),
            Some(Duration::from_secs(7))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after_at(&headers(&[("Retry-After", &later)]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after_at(&headers(&[("Retry-After", "soon")]), now),
            None
        );
        assert_eq!(
            retry_after_at(&headers(&[("Retry-After", "-3")]), now),
            None
        );
    }

    #[test]
    fn mastodon_x_and_bluesky_rate_limit_headers_are_understood() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let masto = headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "2023-11-14T22:14:00Z"),
        ]);
        let s = rate_limit_status_at(&masto, now).unwrap();
        assert_eq!(s.remaining, Some(0));
        assert_eq!(
            s.pause(),
            Some(Duration::from_secs(1_700_000_040 - 1_700_000_000))
        );
        let x = headers(&[
            ("x-rate-limit-remaining", "12"),
            ("x-rate-limit-reset", "1700000100"),
        ]);
        let s = rate_limit_status_at(&x, now).unwrap();
        assert_eq!(
            (s.remaining, s.reset_after),
            (Some(12), Some(Duration::from_secs(100)))
        );
        assert_eq!(s.pause(), None);
        let discord = headers(&[
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset-After", "1.5"),
        ]);
        assert_eq!(
            rate_limit_status_at(&discord, now).unwrap().pause(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(rate_limit_status_at(&HeaderMap::new(), now), None);
    }
}

//! The cap on what the monitor stores per live session: posts from the internet arrive
//! at whatever rate strangers choose (a hashtag can be flooded on purpose), and each one
//! stored is a row, a panel frame and a relay message. At most `per_minute` posts are
//! stored for one session in any calendar minute of the store's clock; the rest are
//! counted and dropped, and the count is logged once the minute is over.

use chrono::{DateTime, Timelike as _, Utc};
use std::collections::HashMap;

/// Per-session counts within the current minute.
#[derive(Debug)]
pub struct SessionCap {
    per_minute: u32,
    minute: Option<DateTime<Utc>>,
    stored: HashMap<i64, u32>,
    dropped: HashMap<i64, u32>,
}

impl SessionCap {
    /// A cap of `per_minute` posts per session (0: none stored).
    pub fn new(per_minute: u32) -> SessionCap {
        SessionCap {
            per_minute,
            minute: None,
            stored: HashMap::new(),
            dropped: HashMap::new(),
        }
    }

    /// Whether a post heard at `now` for `session` may be stored (counting it if so).
    /// When a new minute starts, returns the drops of the minute before by session.
    pub fn admit(&mut self, session: i64, now: DateTime<Utc>) -> (bool, Vec<(i64, u32)>) {
        let minute = now
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        let mut ended = Vec::new();
        if self.minute != Some(minute) {
            ended = self.dropped.drain().collect();
            ended.sort_unstable();
            self.stored.clear();
            self.minute = Some(minute);
        }
        let count = self.stored.entry(session).or_insert(0);
        if *count < self.per_minute {
            *count += 1;
            (true, ended)
        } else {
            *self.dropped.entry(session).or_insert(0) += 1;
            (false, ended)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn each_session_stores_at_most_its_cap_a_minute_and_the_drops_are_counted() {
        let mut cap = SessionCap::new(3);
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 10).unwrap();
        let admitted: Vec<bool> = (0..5).map(|_| cap.admit(1, t).0).collect();
        assert_eq!(admitted, vec![true, true, true, false, false]);
        assert!(cap.admit(2, t).0, "another session has its own cap");
        let next = t + chrono::Duration::seconds(50);
        let (ok, ended) = cap.admit(1, next);
        assert!(ok, "a new minute starts afresh");
        assert_eq!(ended, vec![(1, 2)]);
    }
}

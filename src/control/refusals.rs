//! Every refusal of the control plane (a CDN, a StopCCN, a dropped
//! message) becomes a counter by reason (`refused_<reason>` in `las show
//! counters`) and a log line naming the peer, the message and the
//! reason. The log is rate-limited per reason (one line a second, then
//! a count of what was suppressed) so that a flood of bad messages can
//! neither fill the disk nor slow the control core down.

use super::l2tp::{Answer, Refusal, RefuseReason};

/// Log lines per reason per this many milliseconds.
const LOG_EVERY_MS: u64 = 1000;

/// Counters and log rate limits of refusals.
#[derive(Debug, Clone)]
pub struct RefusalLog {
    counts: [u64; RefuseReason::ALL.len()],
    /// Per reason: when a line was last logged, and how many were
    /// suppressed since.
    last: [(Option<u64>, u64); RefuseReason::ALL.len()],
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog {
            counts: [0; RefuseReason::ALL.len()],
            last: [(None, 0); RefuseReason::ALL.len()],
        }
    }
}

fn index(r: RefuseReason) -> usize {
    RefuseReason::ALL
        .iter()
        .position(|x| *x == r)
        .unwrap_or_default()
}

impl RefusalLog {
    /// Counts `r` from `peer` at `now_ms`; returns the log line to
    /// write, or `None` while this reason's lines are suppressed.
    pub fn record(&mut self, now_ms: u64, peer: &str, r: &Refusal) -> Option<String> {
        let i = index(r.reason);
        self.counts[i] += 1;
        let (last, suppressed) = &mut self.last[i];
        if last.is_some_and(|t| now_ms < t.saturating_add(LOG_EVERY_MS)) {
            *suppressed += 1;
            return None;
        }
        *last = Some(now_ms);
        let more = std::mem::take(suppressed);
        let what = match r.msg {
            Some(t) => format!("{t:?}"),
            None => "datagram".to_string(),
        };
        let answer = match r.answer {
            Answer::Cdn => "answered with CDN",
            Answer::StopCcn => "answered with StopCCN",
            Answer::Dropped => "dropped",
        };
        let mut line = format!(
            "l2tp: {what} from {peer} refused ({answer}, {}): {}",
            r.reason.as_str(),
            r.detail
        );
        if r.local_ccid != 0 {
            line.push_str(&format!(" [ccid {}", r.local_ccid));
            if r.local_session_id != 0 || r.remote_session_id != 0 {
                line.push_str(&format!(
                    ", session {} / peer session {}",
                    r.local_session_id, r.remote_session_id
                ));
            }
            line.push(']');
        }
        if more > 0 {
            line.push_str(&format!(" ({more} more {} suppressed)", r.reason.as_str()));
        }
        Some(line)
    }

    /// `(refused_<reason>, count)` for every reason but `local`.
    pub fn counters(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        RefuseReason::ALL
            .iter()
            .zip(self.counts)
            .filter(|(r, _)| **r != RefuseReason::Local)
            .map(|(r, n)| (format!("refused_{}", r.as_str()), n))
    }

    pub fn count(&self, r: RefuseReason) -> u64 {
        self.counts[index(r)]
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::l2tp::message::MessageType;

    fn cdn() -> Refusal {
        Refusal {
            local_ccid: 7,
            msg: Some(MessageType::Icrq),
            answer: Answer::Cdn,
            reason: RefuseReason::UnknownMandatoryAvp,
            detail: "unknown mandatory AVP: vendor 311 attribute 1".into(),
            local_session_id: 9,
            remote_session_id: 4,
        }
    }

    #[test]
    fn names_peer_message_and_reason() {
        let mut l = RefusalLog::default();
        let line = l.record(0, "192.0.2.7", &cdn()).unwrap();
        assert_eq!(
            line,
            "l2tp: Icrq from 192.0.2.7 refused (answered with CDN, unknown_mandatory_avp): \
             unknown mandatory AVP: vendor 311 attribute 1 [ccid 7, session 9 / peer session 4]"
        );
        assert_eq!(l.count(RefuseReason::UnknownMandatoryAvp), 1);
        let c: Vec<_> = l.counters().collect();
        assert_eq!(c.len(), RefuseReason::ALL.len() - 1);
        assert!(c.contains(&("refused_unknown_mandatory_avp".to_string(), 1)));
        assert!(c.iter().all(|(k, _)| k != "refused_local"));
    }

    /// README's table of refusal reasons has a row for every counter
    /// (three were once missing from it).
    #[test]
    fn readme_table_names_every_counted_reason() {
        use crate::testing::{code_spans, repo_file, section};
        let readme = repo_file("README.md");
        let table = section(&readme, "| reason | |", "Sessions are admitted when");
        let first_cells: String = table
            .lines()
            .filter_map(|l| l.strip_prefix('|')?.split('|').next())
            .collect();
        let names = code_spans(&first_cells);
        for (counter, _) in RefusalLog::default().counters() {
            let r = counter.strip_prefix("refused_").unwrap_or(&counter);
            assert!(
                names.contains(r),
                "README.md: no row for refusal reason {r}"
            );
        }
    }

    #[test]
    fn rate_limited_per_reason_and_counted() {
        let mut l = RefusalLog::default();
        assert!(l.record(0, "p", &cdn()).is_some());
        for t in 1..100 {
            assert!(l.record(t, "p", &cdn()).is_none());
        }
        // Another reason is not held back.
        let mut other = cdn();
        other.reason = RefuseReason::DigestFailed;
        assert!(l.record(50, "p", &other).is_some());
        let line = l.record(1000, "p", &cdn()).unwrap();
        assert!(
            line.ends_with("(99 more unknown_mandatory_avp suppressed)"),
            "{line}"
        );
        assert_eq!(l.count(RefuseReason::UnknownMandatoryAvp), 101);
        assert_eq!(l.count(RefuseReason::DigestFailed), 1);
    }
}

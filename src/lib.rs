//! las — the L2TPv3 access switch.
//!
//! Pure modules (`wire`, `switch`, `config`, and the state-keeping parts of
//! `control`) build without DPDK (`--no-default-features`); the data plane
//! (`dpdk`, `worker`, the runtime) needs the `dpdk` feature.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod config;
pub mod control;
pub mod edge;
pub mod mem;
pub mod perf;
pub mod switch;
pub mod telemetry;
pub mod wire;

#[cfg(feature = "dpdk")]
pub mod dpdk;
#[cfg(feature = "dpdk")]
pub mod runtime;
pub mod worker;

/// Helpers shared by unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A deterministic xorshift64 generator (shifts 13, 7, 17) from
    /// `seed` (non-zero): the random input of the property tests.
    pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// A file of the repository, for the tests that hold the docs to the
    /// code.
    pub fn repo_file(path: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The text of `doc` from the first line containing `start` up to
    /// (not including) the next line, after it, containing `end`.
    pub fn section<'a>(doc: &'a str, start: &str, end: &str) -> &'a str {
        let a = doc
            .find(start)
            .unwrap_or_else(|| panic!("no {start:?} in the document"));
        let a = doc[..a].rfind('\n').map_or(0, |i| i + 1);
        let rest = &doc[a..];
        let first = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let b = rest[first..]
            .find(end)
            .unwrap_or_else(|| panic!("no {end:?} after {start:?}"));
        let b = rest[..first + b].rfind('\n').map_or(0, |i| i + 1);
        &rest[..b.max(first)]
    }

    /// Every `code span` in `text`, with shell-style brace groups
    /// expanded: `a_{rx,tx}_b` gives `a_rx_b` and `a_tx_b`.
    pub fn code_spans(text: &str) -> std::collections::BTreeSet<String> {
        fn expand(s: &str, out: &mut std::collections::BTreeSet<String>) {
            let Some(open) = s.find('{') else {
                out.insert(s.to_string());
                return;
            };
            let Some(close) = s[open..].find('}').map(|i| open + i) else {
                out.insert(s.to_string());
                return;
            };
            for alt in s[open + 1..close].split(',') {
                expand(&format!("{}{alt}{}", &s[..open], &s[close + 1..]), out);
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for (i, span) in text.split('`').enumerate() {
            if i % 2 == 1 {
                expand(span, &mut out);
            }
        }
        out
    }

    #[test]
    fn section_and_code_spans() {
        let doc = "x\nstart here `a`\n`b_{rx,tx}_c`\nend here `d`\nstart `e`\n";
        let s = section(doc, "start", "end");
        assert_eq!(s, "start here `a`\n`b_{rx,tx}_c`\n");
        let spans: Vec<String> = code_spans(s).into_iter().collect();
        assert_eq!(spans, ["a", "b_rx_c", "b_tx_c"]);
    }
}

//! The NDR/PDR rate search of the benchmarks (`perf/ndr.sh`, the pktgen
//! kit's Lua script), as a pure function: it decides which rate to try
//! next, the caller runs the trial (`trial` closure) and reports what was
//! offered and what came back. No I/O, no clock, so it is unit-tested with
//! simulated devices.
//!
//! * **NDR** (non-drop rate): the highest rate with no loss at all.
//! * **PDR** (partial-drop rate): the highest rate with a loss ratio of at
//!   most [`SearchConfig::pdr_loss`] (0.5 % as in FD.io CSIT).
//!
//! Both are searched with the same trials: a trial at rate `r` with loss
//! `l` moves both intervals at once (`l = 0` raises both lower bounds;
//! `0 < l <= pdr_loss` raises PDR's lower and lowers NDR's upper bound;
//! more loss lowers both upper bounds). The first trial is at the maximum
//! rate; then each search bisects its interval until it is narrower than
//! `precision` (relative to its upper bound), NDR first, then PDR.
//!
//! Measurements are noisy, so a bound is not trusted forever: the latest
//! trial wins. A pass at or above the upper bound discards that bound
//! (back to the untested maximum), a failure at or below the lower bound
//! discards it (back to the untested minimum). Each reported bound is the
//! rate of a trial that was actually measured (or the untested minimum
//! when even that failed, reported as `None`).
#![forbid(unsafe_code)]

/// What to search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// Lowest rate worth trying (packets/s, > 0). Below it the result is
    /// "less than `min_rate`".
    pub min_rate: f64,
    /// Highest rate to try (packets/s): the line rate or the generator's
    /// limit. The first trial runs at it.
    pub max_rate: f64,
    /// PDR's loss ratio (0.005 = 0.5 %).
    pub pdr_loss: f64,
    /// Stop when `upper - lower <= precision * upper` (0.01 = 1 %).
    pub precision: f64,
    /// At most this many trials in all (a noisy device may never converge).
    pub max_trials: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            min_rate: 10_000.0,
            max_rate: 10_000_000.0,
            pdr_loss: 0.005,
            precision: 0.01,
            max_trials: 40,
        }
    }
}

/// One trial's outcome, as measured by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trial {
    /// The rate the search asked for (packets/s).
    pub rate: f64,
    /// Packets offered to the device under test (sent, or refused by a
    /// full ring: a real wire does not wait either).
    pub offered: u64,
    /// Packets that came back.
    pub received: u64,
}

impl Trial {
    /// Lost / offered (0 when nothing was offered); more received than
    /// offered (flood copies) counts as no loss.
    pub fn loss(&self) -> f64 {
        if self.offered == 0 {
            return 0.0;
        }
        self.offered.saturating_sub(self.received) as f64 / self.offered as f64
    }
}

/// One search's interval.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    lo: f64,
    /// `lo` is the rate of a trial that met the criterion.
    lo_ok: bool,
    hi: f64,
    /// `hi` is the rate of a trial that did not meet it.
    hi_ok: bool,
}

impl Interval {
    fn new(c: &SearchConfig) -> Self {
        Interval {
            lo: c.min_rate,
            lo_ok: false,
            hi: c.max_rate,
            hi_ok: false,
        }
    }

    fn update(&mut self, c: &SearchConfig, rate: f64, pass: bool) {
        if pass {
            // A pass below the lower bound agrees with it.
            if !self.lo_ok || rate > self.lo {
                self.lo = rate;
                self.lo_ok = true;
            }
            if self.hi <= rate {
                self.hi = c.max_rate;
                self.hi_ok = false;
            }
        } else {
            // A failure above the upper bound agrees with it.
            if !self.hi_ok || rate < self.hi {
                self.hi = rate;
                self.hi_ok = true;
            }
            if self.lo >= rate {
                self.lo = c.min_rate.min(rate);
                self.lo_ok = false;
            }
        }
    }

    /// The next rate to try, or None when the search is done.
    fn next(&self, c: &SearchConfig) -> Option<f64> {
        // Even the maximum passes: done.
        if self.lo_ok && self.lo >= c.max_rate {
            return None;
        }
        // Failed at (or below) the minimum: done, nothing passes.
        if self.hi_ok && self.hi <= c.min_rate {
            return None;
        }
        if !self.hi_ok {
            return Some(self.hi);
        }
        if self.hi - self.lo > c.precision * self.hi {
            return Some(((self.lo + self.hi) / 2.0).round());
        }
        if !self.lo_ok {
            return Some(self.lo);
        }
        None
    }
}

/// One search's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    /// The highest rate that met the criterion (None: not even the minimum).
    pub rate: Option<f64>,
    /// The trial measured at `rate`.
    pub trial: Option<Trial>,
    /// The lowest rate above it that failed (None: the maximum passed).
    pub failed_at: Option<f64>,
    /// The interval narrowed to `precision` (false: `max_trials` ran out).
    pub converged: bool,
}

/// What the search found, with every trial in order.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub ndr: Bound,
    pub pdr: Bound,
    pub trials: Vec<Trial>,
}

/// Runs the NDR and PDR search: calls `trial(rate)` until both are known
/// to `precision` or `max_trials` have run. `trial` gets a rate in
/// packets/s and returns what it measured (its `rate` field is
/// overwritten with the rate asked for).
pub fn search(c: &SearchConfig, mut trial: impl FnMut(f64) -> Trial) -> SearchResult {
    assert!(
        c.min_rate > 0.0 && c.max_rate >= c.min_rate,
        "0 < min_rate <= max_rate"
    );
    let mut ndr = Interval::new(c);
    let mut pdr = Interval::new(c);
    let mut trials: Vec<Trial> = Vec::new();
    while trials.len() < c.max_trials {
        let Some(rate) = ndr.next(c).or_else(|| pdr.next(c)) else {
            break;
        };
        let mut t = trial(rate);
        t.rate = rate;
        let loss = t.loss();
        ndr.update(c, rate, loss == 0.0);
        pdr.update(c, rate, loss <= c.pdr_loss);
        trials.push(t);
    }
    let bound = |i: &Interval| {
        let at = |r: f64| trials.iter().rev().find(|t| t.rate == r).copied();
        Bound {
            rate: i.lo_ok.then_some(i.lo),
            trial: if i.lo_ok { at(i.lo) } else { None },
            failed_at: i.hi_ok.then_some(i.hi),
            converged: i.next(c).is_none(),
        }
    };
    SearchResult {
        ndr: bound(&ndr),
        pdr: bound(&pdr),
        trials: trials.clone(),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const N: u64 = 1_000_000;

    /// A device that forwards up to `cap` packets/s and drops the excess,
    /// plus a fixed small `leak` loss ratio above `leak_from` packets/s.
    fn device(cap: f64, leak_from: f64, leak: f64) -> impl FnMut(f64) -> Trial {
        move |rate| {
            let offered = N;
            let mut ok = if rate <= cap { 1.0 } else { cap / rate };
            if rate > leak_from {
                ok *= 1.0 - leak;
            }
            Trial {
                rate: 0.0,
                offered,
                received: (offered as f64 * ok).floor() as u64,
            }
        }
    }

    fn cfg() -> SearchConfig {
        SearchConfig {
            min_rate: 10_000.0,
            max_rate: 20_000_000.0,
            pdr_loss: 0.005,
            precision: 0.01,
            max_trials: 60,
        }
    }

    #[test]
    fn loss_ratio() {
        let t = |offered, received| Trial {
            rate: 1.0,
            offered,
            received,
        };
        assert_eq!(t(1000, 1000).loss(), 0.0);
        assert_eq!(t(1000, 995).loss(), 0.005);
        assert_eq!(t(1000, 2000).loss(), 0.0);
        assert_eq!(t(0, 0).loss(), 0.0);
    }

    #[test]
    fn finds_a_hard_limit() {
        let c = cfg();
        let r = search(&c, device(7_300_000.0, f64::MAX, 0.0));
        let ndr = r.ndr.rate.unwrap();
        assert!((7_300_000.0 * 0.99..=7_300_000.0).contains(&ndr), "{ndr}");
        assert!(r.ndr.converged && r.pdr.converged);
        // 0.5 % loss is allowed above the limit: cap / (1 - 0.005).
        let pdr = r.pdr.rate.unwrap();
        let pdr_true = 7_300_000.0 / 0.995;
        assert!((pdr_true * 0.99..=pdr_true).contains(&pdr), "{pdr}");
        // The reported trials are real ones at those rates.
        assert_eq!(r.ndr.trial.unwrap().rate, ndr);
        assert_eq!(r.ndr.trial.unwrap().loss(), 0.0);
        assert!(r.pdr.trial.unwrap().loss() <= 0.005);
        // The first trial is at the maximum rate.
        assert_eq!(r.trials[0].rate, c.max_rate);
        // Bisection to 1 % over a 2000:1 range: a few dozen trials at most.
        assert!(r.trials.len() <= 30, "{} trials", r.trials.len());
        assert!(r.ndr.failed_at.unwrap() > ndr);
    }

    #[test]
    fn small_loss_separates_ndr_and_pdr() {
        // 0.1 % loss from 5 Mpps, hard limit at 8 Mpps.
        let r = search(&cfg(), device(8_000_000.0, 5_000_000.0, 0.001));
        let ndr = r.ndr.rate.unwrap();
        assert!((4_950_000.0..=5_000_000.0).contains(&ndr), "{ndr}");
        let pdr = r.pdr.rate.unwrap();
        // 0.999 * 8e6 / r >= 0.995  <=>  r <= 8.032 Mpps.
        assert!((7_950_000.0..=8_032_000.0).contains(&pdr), "{pdr}");
    }

    #[test]
    fn maximum_passes() {
        let c = cfg();
        let r = search(&c, device(f64::MAX, f64::MAX, 0.0));
        assert_eq!(r.trials.len(), 1);
        assert_eq!(r.ndr.rate, Some(c.max_rate));
        assert_eq!(r.pdr.rate, Some(c.max_rate));
        assert_eq!(r.ndr.failed_at, None);
        assert!(r.ndr.converged);
    }

    #[test]
    fn nothing_passes() {
        let c = cfg();
        let r = search(&c, |_| Trial {
            rate: 0.0,
            offered: N,
            received: N / 2,
        });
        assert_eq!(r.ndr.rate, None);
        assert_eq!(r.pdr.rate, None);
        assert!(r.ndr.converged && r.pdr.converged);
        assert_eq!(r.trials.last().unwrap().rate, c.min_rate);
        assert!(r.trials.len() <= 30);
    }

    #[test]
    fn pdr_only_between_min_and_max() {
        // Every rate loses 0.2 %: NDR below the minimum, PDR at the maximum.
        let c = cfg();
        let r = search(&c, |_| Trial {
            rate: 0.0,
            offered: N,
            received: N - N / 500,
        });
        assert_eq!(r.ndr.rate, None);
        assert_eq!(r.pdr.rate, Some(c.max_rate));
    }

    #[test]
    fn noise_is_survived_and_bounded() {
        // A device whose limit wanders by +-5 % from trial to trial: the
        // search must stop within max_trials and report measured rates.
        let mut k = 0u32;
        let c = SearchConfig {
            max_trials: 25,
            ..cfg()
        };
        let r = search(&c, |rate| {
            k += 1;
            let cap = 6_000_000.0 * if k.is_multiple_of(3) { 0.95 } else { 1.05 };
            device(cap, f64::MAX, 0.0)(rate)
        });
        assert!(r.trials.len() <= 25);
        let ndr = r.ndr.rate.unwrap();
        assert!((5_000_000.0..=6_300_000.0).contains(&ndr), "{ndr}");
        let t = r.ndr.trial.unwrap();
        assert_eq!(t.rate, ndr);
        assert_eq!(t.loss(), 0.0);
    }

    #[test]
    fn a_failure_below_the_lower_bound_reopens_it() {
        let c = cfg();
        let mut i = Interval::new(&c);
        i.update(&c, 5e6, true);
        i.update(&c, 6e6, false);
        assert_eq!((i.lo, i.hi), (5e6, 6e6));
        // The earlier pass was luck: 4 Mpps fails now.
        i.update(&c, 4e6, false);
        assert_eq!((i.lo, i.lo_ok, i.hi), (c.min_rate, false, 4e6));
        // And a pass above the upper bound reopens that one.
        i.update(&c, 4.5e6, true);
        assert_eq!((i.lo, i.hi, i.hi_ok), (4.5e6, c.max_rate, false));
        assert_eq!(i.next(&c), Some(c.max_rate));
    }
}

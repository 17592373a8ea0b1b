//! `[metrics]`: the Prometheus endpoint (off unless `listen` is set).
use super::raw::RawMetrics;
use super::{ConfigError, Metrics, Quoted};
use std::net::SocketAddr;

type R<T> = Result<T, ConfigError>;

fn int(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> R<i64> {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        return Err(ConfigError::new(key, v, format!("must be in {lo}..={hi}")));
    }
    Ok(v)
}

pub(super) fn validate(r: RawMetrics) -> R<Metrics> {
    let d = Metrics::default();
    let listen = match r.listen {
        None => None,
        Some(s) => {
            let a: SocketAddr = s.trim().parse().map_err(|_| {
                ConfigError::new(
                    "metrics.listen",
                    Quoted(&s),
                    "not an address and port like \"127.0.0.1:9417\" or \"[::1]:9417\"",
                )
            })?;
            if a.port() == 0 {
                return Err(ConfigError::new(
                    "metrics.listen",
                    Quoted(&s),
                    "port 0 is not a fixed port: Prometheus could not find it",
                ));
            }
            Some(a)
        }
    };
    let max = i64::from(u16::MAX);
    Ok(Metrics {
        listen,
        max_session_series: int(
            "metrics.max_session_series",
            r.max_session_series,
            d.max_session_series as i64,
            0,
            max,
        )? as usize,
        max_switch_series: int(
            "metrics.max_switch_series",
            r.max_switch_series,
            d.max_switch_series as i64,
            0,
            max,
        )? as usize,
        timeout_ms: int(
            "metrics.timeout_ms",
            r.timeout_ms,
            d.timeout_ms.into(),
            100,
            60_000,
        )? as u32,
    })
}

#[cfg(test)]
mod test {
    use crate::config::{Config, ConfigError, Metrics};

    const BASE: &str =
        "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"192.0.2.1/24\"\n";

    fn cfg(metrics: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{BASE}[metrics]\n{metrics}"))
    }

    #[test]
    fn off_by_default() {
        let c = Config::from_toml_str(BASE).unwrap();
        assert_eq!(c.metrics, Metrics::default());
        assert_eq!(c.metrics.listen, None);
        assert_eq!(c.metrics.max_session_series, 1000);
        assert_eq!(c.metrics.max_switch_series, 1000);
        assert_eq!(c.metrics.timeout_ms, 2000);
    }

    #[test]
    fn parsed() {
        let c = cfg("listen = \"127.0.0.1:9417\"\nmax_session_series = 0\nmax_switch_series = 7\ntimeout_ms = 500\n")
            .unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9417".parse().unwrap()));
        assert_eq!(c.metrics.max_session_series, 0);
        assert_eq!(c.metrics.max_switch_series, 7);
        assert_eq!(c.metrics.timeout_ms, 500);
        let c = cfg("listen = \"[::1]:9417\"\n").unwrap();
        assert_eq!(c.metrics.listen, Some("[::1]:9417".parse().unwrap()));
    }

    #[test]
    fn errors_name_key_and_value() {
        for (doc, key, value) in [
            ("listen = \"9417\"", "metrics.listen", "\"9417\""),
            (
                "listen = \"localhost:9417\"",
                "metrics.listen",
                "\"localhost:9417\"",
            ),
            (
                "listen = \"127.0.0.1:0\"",
                "metrics.listen",
                "\"127.0.0.1:0\"",
            ),
            (
                "max_session_series = -1",
                "metrics.max_session_series",
                "-1",
            ),
            (
                "max_switch_series = 65536",
                "metrics.max_switch_series",
                "65536",
            ),
            ("timeout_ms = 99", "metrics.timeout_ms", "99"),
        ] {
            let e = cfg(doc).unwrap_err();
            assert_eq!(
                (e.key.as_str(), e.value.as_str()),
                (key, value),
                "{doc}: {e}"
            );
        }
        let e = cfg("port = 9417").unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
    }
}

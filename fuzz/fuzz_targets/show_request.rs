//! The control socket (`src/control/socket.rs`): the request line las
//! reads (`telemetry::show::Request::parse`) and the JSON answer
//! `las show` reads back (`Response` deserialisation and rendering).
//!
//! Checked: a request that parses prints (`line`) as a request that
//! parses to the same; an answer that parses renders, and serialises to
//! JSON that parses to the same answer.
#![no_main]

use las::telemetry::show::{Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The socket reads one line as UTF-8 and trims it.
    if let Ok(line) = std::str::from_utf8(data) {
        let line = line.split('\n').next().unwrap_or_default();
        if let Ok(r) = Request::parse(line.trim()) {
            assert_eq!(
                Request::parse(&r.line()),
                Ok(r.clone()),
                "line {:?}",
                r.line()
            );
        }
    }
    if let Ok(resp) = serde_json::from_slice::<Response>(data) {
        let _ = resp.render();
        let json = serde_json::to_string(&resp).expect("serialises");
        let back: Response = serde_json::from_str(&json).expect("own JSON parses");
        assert_eq!(back, resp);
    }
});

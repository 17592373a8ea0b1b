//! The local control socket that `las show` talks to: a Unix stream
//! socket, one request line in, one JSON document out.
use crate::telemetry::show::{Request, Response};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    conn: Option<UnixStream>,
}

impl ControlSocket {
    /// Binds `path`, replacing a stale socket file but refusing to steal
    /// the socket of a running las.
    pub fn bind(path: &Path) -> Result<ControlSocket, String> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("control socket directory {}: {e}", dir.display()))?;
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {} is in use: is another las running? (set [control] socket)",
                    path.display()
                ));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
        Ok(ControlSocket {
            listener,
            path: path.to_owned(),
            conn: None,
        })
    }

    /// Accepts one pending client and reads its request line, if any.
    /// A client gets 200 ms to send its line.
    pub fn accept_request(&mut self) -> Option<Result<Request, String>> {
        let (stream, _) = self.listener.accept().ok()?;
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
        let mut line = String::new();
        let mut r = BufReader::new(stream.try_clone().ok()?);
        let req = match r.read_line(&mut line) {
            Ok(_) => Request::parse(line.trim()),
            Err(e) => Err(format!("reading request: {e}")),
        };
        self.conn = Some(stream);
        Some(req)
    }

    /// Sends the answer to the client of the last `accept_request`.
    pub fn respond(&mut self, resp: &Response) {
        if let Some(mut s) = self.conn.take() {
            let body = serde_json::to_string(resp)
                .unwrap_or_else(|e| format!("{{\"kind\":\"error\",\"error\":\"encoding: {e}\"}}"));
            let _ = s.write_all(body.as_bytes());
            let _ = s.write_all(b"\n");
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Client side: sends `req` to the las listening on `path`.
pub fn query(path: &Path, req: &Request) -> Result<Response, String> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach las at {}: {e} (is it running? --socket or [control] socket sets the path)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(format!("{}\n", req.line()).as_bytes())
        .map_err(|e| format!("sending request: {e}"))?;
    let mut body = String::new();
    BufReader::new(s)
        .read_line(&mut body)
        .map_err(|e| format!("reading answer: {e}"))?;
    serde_json::from_str(&body).map_err(|e| format!("bad answer from las: {e}: {body:?}"))
}

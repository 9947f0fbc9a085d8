//! Test support for the web surface: a real `retrovue serve` on loopback, and a real headless
//! Chromium driven over the DevTools protocol (a websocket) — navigate, evaluate, click.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The shared harness: the tests' one temporary directory and daemon.
pub use crate::support::daemon::Daemon;
pub use crate::support::TempDir;

/// Run one of the project's `scripts/ensure-*.sh`.
pub fn ensure(script: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/{script}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A headless Chromium with one page, driven over the DevTools protocol; killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    _profile: TempDir,
}

impl Browser {
    pub fn launch() -> Browser {
        ensure("ensure-chromium.sh");
        let program = ["chromium", "chromium-browser"]
            .into_iter()
            .find(|p| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {p}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("chromium on PATH");
        let profile = TempDir::new("rv-chromium-");
        let mut child = Command::new(program)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                // No cast/DIAL discovery: nothing of this test may send multicast.
                "--disable-features=MediaRouter,DialMediaRouteProvider,Translate",
                "--autoplay-policy=no-user-gesture-required",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The rest (dbus complaints of a headless box) is drained unread.
                if line.contains("DevTools listening on ") {
                    let _ = tx.send(line.clone());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium prints its DevTools address");
        let port = line
            .split("ws://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no DevTools port in {line:?}"))
            .to_string();
        // The page target opened with about:blank.
        let deadline = Instant::now() + Duration::from_secs(30);
        let ws_url = loop {
            let text = ureq::get(&format!("http://127.0.0.1:{port}/json/list"))
                .call()
                .unwrap()
                .into_string()
                .unwrap();
            let targets: Value = serde_json::from_str(&text).unwrap();
            let page = targets.as_array().unwrap().iter().find_map(|t| {
                (t["type"] == "page")
                    .then(|| t["webSocketDebuggerUrl"].as_str().map(str::to_string))
                    .flatten()
            });
            if let Some(url) = page {
                break url;
            }
            assert!(Instant::now() < deadline, "chromium has no page: {targets}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let (ws, _) = tungstenite::connect(ws_url.as_str()).expect("DevTools websocket");
        if let MaybeTlsStream::Plain(stream) = ws.get_ref() {
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
        }
        let mut browser = Browser {
            child,
            ws,
            next_id: 1,
            _profile: profile,
        };
        browser.call("Page.enable", json!({}));
        browser.call("Runtime.enable", json!({}));
        browser
    }

    /// One DevTools command; its `result` (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(message)).expect("DevTools send");
        loop {
            let message = match self.ws.read() {
                // A stop and continue of this process interrupts a read with a timeout; the
                // websocket keeps what it had buffered, so reading again is safe.
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                other => other.expect("DevTools read"),
            };
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["id"] == id {
                if let Some(error) = value.get("error") {
                    panic!("DevTools {method}: {error}");
                }
                return value["result"].clone();
            }
        }
    }

    /// Open `url` and return once the page is at it. Under load the first navigation of a
    /// fresh target can be lost (the guide waits then timed out on an empty page): a navigation
    /// that reports an error, or whose page is not there within 10 s, is tried again, for at
    /// most a minute.
    pub fn navigate(&mut self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let result = self.call("Page.navigate", json!({ "url": url }));
            if result.get("errorText").is_none() {
                let tried = Instant::now();
                while tried.elapsed() < Duration::from_secs(10) {
                    let href = self.eval("location.href");
                    if href.as_str().is_some_and(|h| h.starts_with(url)) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            assert!(
                Instant::now() < deadline,
                "cannot open {url} in chromium: {result}"
            );
        }
    }

    /// The value of a JavaScript expression (promises awaited); panics on a thrown exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = result.get("exceptionDetails") {
            panic!("JavaScript {expression:?} threw: {e}");
        }
        result["result"]["value"].clone()
    }

    /// Evaluate `expression` until it is truthy; its value. Panics with `what` after `secs`.
    pub fn wait_for(&mut self, secs: u64, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let value = self.eval(expression);
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() >= deadline {
                let page = self.diagnosis();
                panic!("{what}: still {value} after {secs} s; the page: {page}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the page is showing and what it fetched, for a failed wait's message: its
    /// location, load state, status line, the start of its body and each resource with its
    /// duration and status.
    pub fn diagnosis(&mut self) -> Value {
        self.eval(
            "({ href: location.href, \
               ready: document.readyState, \
               status: document.getElementById('status')?.textContent ?? null, \
               body: (document.body?.innerHTML ?? '').slice(0, 400), \
               resources: performance.getEntriesByType('resource').map(e => \
                 `${e.name} ${Math.round(e.duration)} ms ${e.responseStatus ?? ''}`) })",
        )
    }

    /// A real mouse click (pressed and released) in the middle of the element `selector`.
    pub fn click(&mut self, selector: &str) {
        let selector_js = serde_json::to_string(selector).unwrap();
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector_js}); \
             e.scrollIntoView({{block: 'center', inline: 'nearest'}}); \
             const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ));
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

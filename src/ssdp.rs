//! SSDP discovery (HTTP-037): a UDP responder answering M-SEARCH for the root device, the
//! MediaServer device type and the device's uuid with the LOCATION of `/device.xml`, and — only
//! when bound to a non-loopback address — joining the SSDP multicast group and announcing itself
//! with NOTIFY. Bound to loopback it never sends to multicast; it only answers unicast searches.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The SSDP multicast group and port.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const PORT: u16 = 1900;
/// The UPnP device type the daemon is (as in `/device.xml`).
pub const DEVICE_TYPE: &str = "urn:schemas-upnp-org:device:MediaServer:1";
/// How often an announcing responder repeats its NOTIFY.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(300);
const SERVER: &str = "Linux UPnP/1.0 RetroVue/0.1";

/// A running responder; stopped (with `ssdp:byebye` when it announced) on [`Responder::stop`].
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Where it listens.
    pub local: SocketAddr,
    /// Whether it joined the group and announces itself.
    pub announcing: bool,
}

impl Responder {
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The search targets a search for `st` matches (`ssdp:all`: every one).
pub fn targets(st: &str, udn: &str) -> Vec<String> {
    let all = [
        "upnp:rootdevice".to_string(),
        udn.to_string(),
        DEVICE_TYPE.to_string(),
    ];
    if st.eq_ignore_ascii_case("ssdp:all") {
        return all.to_vec();
    }
    all.into_iter()
        .filter(|t| t.eq_ignore_ascii_case(st))
        .collect()
}

/// The USN for a notification or search type.
fn usn(target: &str, udn: &str) -> String {
    if target == udn {
        udn.to_string()
    } else {
        format!("{udn}::{target}")
    }
}

/// The `ST` of a well-formed `M-SEARCH * HTTP/1.1` with `MAN: "ssdp:discover"`; `None` otherwise.
pub fn parse_search(datagram: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(datagram).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next()?.trim();
    if !first.eq_ignore_ascii_case("M-SEARCH * HTTP/1.1") {
        return None;
    }
    let mut st = None;
    let mut man = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_uppercase().as_str() {
            "ST" => st = Some(value.to_string()),
            "MAN" => {
                man = value
                    .trim_matches('"')
                    .eq_ignore_ascii_case("ssdp:discover")
            }
            _ => {}
        }
    }
    st.filter(|st| man && !st.is_empty())
}

/// One search answer.
pub fn response(target: &str, udn: &str, location: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: {location}\r\n\
         SERVER: {SERVER}\r\nST: {target}\r\nUSN: {}\r\nContent-Length: 0\r\n\r\n",
        usn(target, udn)
    )
}

fn notify(target: &str, udn: &str, location: &str, alive: bool) -> String {
    let nts = if alive { "ssdp:alive" } else { "ssdp:byebye" };
    let extra = if alive {
        format!("CACHE-CONTROL: max-age=1800\r\nLOCATION: {location}\r\nSERVER: {SERVER}\r\n")
    } else {
        String::new()
    };
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: {GROUP}:{PORT}\r\n{extra}NT: {target}\r\nNTS: {nts}\r\nUSN: {}\r\n\r\n",
        usn(target, udn)
    )
}

/// The local address that reaches `peer` (no datagram is sent).
fn local_ip_towards(peer: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let probe = UdpSocket::bind(any).ok()?;
    probe.connect(peer).ok()?;
    Some(probe.local_addr().ok()?.ip())
}

/// `http://{ip}:{port}/device.xml` as seen from `peer`.
fn location(http: SocketAddr, peer: SocketAddr) -> String {
    let ip = if http.ip().is_unspecified() {
        local_ip_towards(peer).unwrap_or(http.ip())
    } else {
        http.ip()
    };
    format!("http://{}/device.xml", SocketAddr::new(ip, http.port()))
}

/// Start answering on `bind` for the HTTP server at `http`, the device `udn` (`uuid:…`).
pub fn start(bind: SocketAddr, http: SocketAddr, udn: &str) -> io::Result<Responder> {
    let socket = UdpSocket::bind(bind)?;
    let local = socket.local_addr()?;
    let announcing = !bind.ip().is_loopback();
    if announcing {
        let interface = match bind.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        socket.join_multicast_v4(&GROUP, &interface)?;
    }
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let udn = udn.to_string();
    let thread = std::thread::Builder::new()
        .name("ssdp".into())
        .spawn(move || run(&socket, http, &udn, announcing, &flag))?;
    Ok(Responder {
        stop,
        thread: Some(thread),
        local,
        announcing,
    })
}

fn announce(socket: &UdpSocket, http: SocketAddr, udn: &str, alive: bool) {
    let group = SocketAddr::from((GROUP, PORT));
    let location = location(http, group);
    for target in targets("ssdp:all", udn) {
        if let Err(e) = socket.send_to(notify(&target, udn, &location, alive).as_bytes(), group) {
            log::warn!("ssdp: cannot announce: {e}");
            return;
        }
    }
}

fn run(socket: &UdpSocket, http: SocketAddr, udn: &str, announcing: bool, stop: &AtomicBool) {
    let mut next_announce = Instant::now();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        if announcing && Instant::now() >= next_announce {
            announce(socket, http, udn, true);
            next_announce = Instant::now() + ANNOUNCE_EVERY;
        }
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                log::warn!("ssdp: {e}");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let Some(st) = parse_search(&buf[..n]) else {
            continue;
        };
        let location = location(http, peer);
        for target in targets(&st, udn) {
            if let Err(e) = socket.send_to(response(&target, udn, &location).as_bytes(), peer) {
                log::debug!("ssdp: cannot answer {peer}: {e}");
            }
        }
    }
    if announcing {
        announce(socket, http, udn, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_parsed_and_answered_per_target() {
        // contract: HTTP-037
        let udn = "uuid:1-2";
        let search = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
        assert_eq!(parse_search(search.as_bytes()).as_deref(), Some("ssdp:all"));
        assert_eq!(
            parse_search(b"NOTIFY * HTTP/1.1\r\nST: ssdp:all\r\n\r\n"),
            None
        );
        assert_eq!(
            parse_search(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n"),
            None
        );
        assert_eq!(targets("ssdp:all", udn).len(), 3);
        assert_eq!(targets("upnp:rootdevice", udn), vec!["upnp:rootdevice"]);
        assert_eq!(targets(DEVICE_TYPE, udn), vec![DEVICE_TYPE]);
        assert_eq!(targets(udn, udn), vec![udn]);
        assert!(targets("urn:other", udn).is_empty());
        let answer = response("upnp:rootdevice", udn, "http://1.2.3.4:5/device.xml");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(answer.contains("\r\nUSN: uuid:1-2::upnp:rootdevice\r\n"));
        assert!(answer.contains("\r\nLOCATION: http://1.2.3.4:5/device.xml\r\n"));
    }
}

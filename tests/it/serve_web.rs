//! The web surface end to end (contracts/http.md HTTP-030..039): the guide at `/` rendered in a
//! real headless Chromium against a real daemon; SSDP answered on loopback (unicast only, never
//! multicast); the HDHomeRun scan; logos that are images; XMLTV with years, art and reruns,
//! valid against the DTD, and gzipped. Playback of a clicked channel needs the HLS route and is
//! in tests/serve_web_play.rs.

use crate::support_web;

use std::io::Read;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support_web::{ensure, Browser, Daemon, TempDir};

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The demo lineup with a PNG logo file on `retro-one` and every Maple Street episode a file
/// in `dir` beside a `poster.jpg`.
fn lineup_with_art(dir: &Path) -> String {
    let demo = include_str!("../../fixtures/demo/lineup.toml");
    std::fs::write(dir.join("one.png"), PNG).unwrap();
    std::fs::write(
        dir.join("poster.jpg"),
        b"\xFF\xD8\xFF\xE0 not really a jpeg",
    )
    .unwrap();
    let mut out = String::new();
    for line in demo.lines() {
        out.push_str(line);
        out.push('\n');
        if let Some(id) = line
            .strip_prefix("id = \"maple-street-")
            .and_then(|r| r.strip_suffix('"'))
        {
            let media = dir.join(format!("maple-street-{id}.mkv"));
            std::fs::write(&media, b"media").unwrap();
            out.push_str(&format!("path = \"{}\"\n", media.display()));
        }
        if line == "id = \"retro-one\"" {
            out.push_str(&format!("logo = \"{}\"\n", dir.join("one.png").display()));
        }
    }
    let file = dir.join("lineup.toml");
    std::fs::write(&file, out).unwrap();
    file.display().to_string()
}

/// Every channel has something on now: the keeper published its first days.
fn wait_until_on_air(daemon: &Daemon, channels: &[Value]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for channel in channels {
        let id = channel["id"].as_str().unwrap();
        while daemon.get(&format!("/api/channels/{id}/now")).0 != 200 {
            assert!(Instant::now() < deadline, "channel {id} never went on air");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The demo daemon with every channel on air, and a fresh browser.
fn on_air_with_a_browser() -> (Daemon, Browser) {
    let daemon = Daemon::start(&[]);
    let channels = daemon.json("/api/channels");
    wait_until_on_air(&daemon, channels.as_array().unwrap());
    (daemon, Browser::launch())
}

#[test]
fn a_guide_that_could_not_load_tries_again_within_seconds() {
    // contract: HTTP-030
    let (daemon, mut browser) = on_air_with_a_browser();
    // The guide's rows cannot be fetched: the page says so.
    browser.call("Network.enable", serde_json::json!({}));
    browser.call(
        "Network.setBlockedURLs",
        serde_json::json!({ "urls": ["*/api/epg*"] }),
    );
    browser.navigate(&format!("{}/", daemon.base()));
    browser.wait_for(
        30,
        "the failure is shown",
        "(document.getElementById('status')?.textContent ?? '').includes('could not be loaded')",
    );
    // Once it can, the page fills in at its next try, seconds later (not a minute later).
    browser.call("Network.setBlockedURLs", serde_json::json!({ "urls": [] }));
    browser.wait_for(
        20,
        "the guide fills in after the failure",
        "document.querySelectorAll('[data-now]').length > 0",
    );
}

#[test]
fn a_guide_fetch_that_is_never_answered_is_abandoned_and_tried_again() {
    // contract: HTTP-030
    let (daemon, mut browser) = on_air_with_a_browser();
    // Every request for the guide's rows is held by the browser and never answered.
    browser.call(
        "Fetch.enable",
        serde_json::json!({ "patterns": [{ "urlPattern": "*/api/epg*" }] }),
    );
    browser.navigate(&format!("{}/", daemon.base()));
    browser.wait_for(
        40,
        "the unanswered fetch is given up and shown",
        "(document.getElementById('status')?.textContent ?? '').includes('no answer within 15 s')",
    );
    // Once requests are answered again, the page's next try fills it in.
    browser.call("Fetch.disable", serde_json::json!({}));
    browser.wait_for(
        30,
        "the guide fills in after the unanswered fetch",
        "document.querySelectorAll('[data-now]').length > 0",
    );
}

#[test]
fn a_guide_whose_script_could_not_load_reloads_itself() {
    // contract: HTTP-030
    let (daemon, mut browser) = on_air_with_a_browser();
    browser.call("Network.enable", serde_json::json!({}));
    browser.call(
        "Network.setBlockedURLs",
        serde_json::json!({ "urls": ["*/static/guide.js"] }),
    );
    browser.navigate(&format!("{}/", daemon.base()));
    // The script's load failed: the page has its HTML but no guide.
    browser.wait_for(
        30,
        "the page loaded without its script",
        "document.readyState === 'complete' && \
         performance.getEntriesByType('resource').some(e => e.name.endsWith('/static/guide.js'))",
    );
    assert_eq!(
        browser.eval("document.querySelectorAll('.row[data-channel]').length"),
        serde_json::json!(0)
    );
    browser.call("Network.setBlockedURLs", serde_json::json!({ "urls": [] }));
    browser.wait_for(
        30,
        "the page reloads and fills in",
        "document.querySelectorAll('[data-now]').length > 0",
    );
}

#[test]
fn the_web_guide_shows_every_channel_and_what_is_on_now() {
    // contract: HTTP-030
    let daemon = Daemon::start(&[]);
    let base = daemon.base();
    let channels = daemon.json("/api/channels");
    let channels = channels.as_array().unwrap();
    assert!(channels.len() >= 2);
    wait_until_on_air(&daemon, channels);
    let mut browser = Browser::launch();
    let started = Instant::now();
    let mut last_problem = String::new();
    // A programme may end between the page's fetch and ours: three tries.
    for _attempt in 0..3 {
        browser.navigate(&format!("{base}/"));
        browser.wait_for(
            60,
            "every channel rendered",
            &format!(
                "document.querySelectorAll('.row[data-channel]').length === {} && \
                 document.querySelectorAll('[data-now]').length > 0",
                channels.len()
            ),
        );
        eprintln!("guide rendered in {:?}", started.elapsed());
        let rows = browser.eval(
            "[...document.querySelectorAll('.row[data-channel]')].map(r => ({ \
               id: r.dataset.channel, \
               number: r.querySelector('.number').textContent, \
               name: r.querySelector('.name').textContent, \
               logo: r.querySelector('.head img').getAttribute('src'), \
               logoLoaded: r.querySelector('.head img').complete && \
                 r.querySelector('.head img').naturalWidth > 0, \
               nowTitle: r.querySelector('[data-now] .title')?.textContent ?? null, \
               nowSub: r.querySelector('[data-now] .sub')?.textContent ?? null, \
               cells: r.querySelectorAll('.cell').length }))",
        );
        let rows = rows.as_array().unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let expected: Vec<&str> = channels.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, expected, "every channel, in guide order");
        let mut problems = Vec::new();
        for (row, channel) in rows.iter().zip(channels) {
            let id = channel["id"].as_str().unwrap();
            assert_eq!(row["number"], channel["number"]);
            assert_eq!(row["name"], channel["name"]);
            assert_eq!(row["logo"], format!("/logo/{id}.svg").as_str());
            assert!(row["logoLoaded"].as_bool().unwrap(), "{id}: logo shown");
            assert!(row["cells"].as_u64().unwrap() >= 1, "{id}: programmes");
            let now = daemon.json(&format!("/api/channels/{id}/now"));
            let programme = &now["programme"];
            if programme.is_null() {
                continue;
            }
            if row["nowTitle"] != programme["title"] {
                problems.push(format!(
                    "{id}: page says {} on now, /now says {}",
                    row["nowTitle"], programme["title"]
                ));
            }
            if let Some(episode) = programme["episode_title"].as_str() {
                if !row["nowSub"].as_str().unwrap_or("").contains(episode) {
                    problems.push(format!(
                        "{id}: episode {episode:?} not in {}",
                        row["nowSub"]
                    ));
                }
            }
        }
        last_problem = problems.join("\n");
        if problems.is_empty() {
            break;
        }
    }
    assert!(last_problem.is_empty(), "{last_problem}");

    // The now-line is inside the grid, and the clock says the daemon's now.
    let line = browser.eval(
        "(() => { const l = document.getElementById('nowline'); \
          const g = document.querySelector('.grid'); \
          return l && [parseFloat(l.style.left), g.scrollWidth]; })()",
    );
    let (left, width) = (line[0].as_f64().unwrap(), line[1].as_f64().unwrap());
    assert!(
        left > 190.0 && left < width,
        "now-line at {left} of {width}"
    );
    // Offline: everything the page loaded came from the daemon.
    let loaded = browser.eval("performance.getEntriesByType('resource').map(e => e.name)");
    for url in loaded.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&format!("{base}/")),
            "{url} is not the daemon's"
        );
    }
    let (status, _, kind) = daemon.request("GET", "/static/guide.js");
    assert_eq!(
        (status, kind.as_str()),
        (200, "text/javascript; charset=utf-8")
    );
    let (status, _) = daemon.get("/static/nope.js");
    assert_eq!(status, 404);
}

#[test]
fn clicking_a_channel_shows_its_programme_and_plays_its_hls_url() {
    // contract: HTTP-031
    let daemon = Daemon::start(&[]);
    let base = daemon.base();
    let channels = daemon.json("/api/channels");
    let id = channels[1]["id"].as_str().unwrap().to_string();
    let mut browser = Browser::launch();
    browser.navigate(&format!("{base}/"));
    browser.wait_for(
        60,
        "the guide rendered",
        "document.querySelectorAll('.row[data-channel]').length > 1",
    );
    browser.click(&format!(".row[data-channel=\"{id}\"] .head"));
    let player = browser.wait_for(
        30,
        "the clicked channel is in the player",
        &format!(
            "(() => {{ const v = document.getElementById('video'); \
              return !document.getElementById('player').hidden && \
                v.dataset.channel === '{id}' && \
                document.querySelector('[data-playing-now=\"{id}\"] .title') && \
                [v.dataset.source, v.dataset.player, \
                 document.querySelector('[data-playing-now=\"{id}\"] .title').textContent]; }})()"
        ),
    );
    assert_eq!(player[0], format!("/channel/{id}.m3u8").as_str());
    let engine = player[1].as_str().unwrap().to_string();
    eprintln!("player: {engine}");
    assert!(engine == "native" || engine == "hls.js", "{engine}");
    if engine == "hls.js" {
        // The vendored hls.js came from the daemon and attached to the video.
        browser.wait_for(30, "hls.js loaded", "typeof window.Hls === 'function'");
        browser.wait_for(30, "hls.js attached", "!!window.retrovueGuide.hls");
    }
    let now = daemon.json(&format!("/api/channels/{id}/now"));
    let title = player[2].as_str().unwrap();
    let next = daemon.json(&format!("/api/channels/{id}/now"));
    assert!(
        now["programme"]["title"] == title || next["programme"]["title"] == title,
        "details show {title:?}, /now says {}",
        now["programme"]["title"]
    );
    let links = browser.eval(
        "[...document.querySelectorAll('#details .links a')].map(a => a.getAttribute('href'))",
    );
    let links: Vec<&str> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(links.contains(&"/channellist.m3u"), "{links:?}");
    assert!(links.contains(&"/epg.xml"), "{links:?}");
    assert!(
        links.contains(&format!("/channel/{id}.m3u8").as_str()),
        "{links:?}"
    );
    let (status, body, _) = daemon.request("GET", "/static/hls.min.js");
    assert_eq!(status, 200);
    assert!(body.len() > 100_000, "the vendored hls.js");
}

/// Answers to one M-SEARCH, until `want` came or 5 s passed.
fn search(to: &str, st: &str, want: usize) -> Vec<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let message = format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\n\r\n"
    );
    // Unicast to the responder's loopback port only.
    socket.send_to(message.as_bytes(), to).unwrap();
    let mut answers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    while answers.len() < want && Instant::now() < deadline {
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            answers.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    answers
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[test]
fn ssdp_answers_a_unicast_search_on_loopback_with_the_device_location() {
    // contract: HTTP-037
    let daemon = Daemon::start(&["--ssdp-bind", "127.0.0.1:0"]);
    let line = daemon.log_line("ssdp: answering searches on ", 30);
    assert!(
        line.contains("(unicast only)"),
        "loopback never announces: {line}"
    );
    let to = line
        .split("answering searches on ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(to.starts_with("127.0.0.1:"), "{to}");

    let answers = search(&to, "ssdp:all", 3);
    assert_eq!(answers.len(), 3, "{answers:?}");
    let mut targets: Vec<&str> = answers.iter().map(|a| header(a, "ST").unwrap()).collect();
    targets.sort();
    // Sorted: upnp:… < urn:… < uuid:….
    assert_eq!(targets[0], "upnp:rootdevice");
    assert_eq!(targets[1], "urn:schemas-upnp-org:device:MediaServer:1");
    let uuid = targets[2].to_string();
    assert!(uuid.starts_with("uuid:"), "{targets:?}");
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(header(answer, "USN").unwrap().starts_with(&uuid));
        assert_eq!(
            header(answer, "LOCATION"),
            Some(format!("{}/device.xml", daemon.base()).as_str())
        );
    }
    let location = header(&answers[0], "LOCATION").unwrap().to_string();
    let (status, xml) = match ureq::get(&location).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("GET {location}: {e}"),
    };
    assert_eq!(status, 200);
    assert!(xml.contains("<deviceType>urn:schemas-upnp-org:device:MediaServer:1</deviceType>"));
    assert!(xml.contains(&format!("<UDN>{uuid}</UDN>")), "{xml}");

    for st in [
        "upnp:rootdevice",
        "urn:schemas-upnp-org:device:MediaServer:1",
    ] {
        let answers = search(&to, st, 1);
        assert_eq!(answers.len(), 1, "{st}");
        assert_eq!(header(&answers[0], "ST"), Some(st));
    }
}

#[test]
fn a_loopback_daemon_runs_no_ssdp_unless_asked() {
    // contract: HTTP-037
    let daemon = Daemon::start(&[]);
    daemon.log_line("channels: ", 30);
    let (status, _) = daemon.get("/healthz");
    assert!(status == 200 || status == 503);
    assert_eq!(
        daemon.log_count("ssdp:"),
        0,
        "no responder on a loopback bind"
    );
}

#[test]
fn hdhomerun_scan_and_tuner_count() {
    // contract: HTTP-036
    // contract: HTTP-008
    let daemon = Daemon::start(&["--tuner-count", "2"]);
    for scan in ["start", "abort"] {
        let (status, _, _) = daemon.request("POST", &format!("/lineup.post?scan={scan}"));
        assert_eq!(status, 200, "scan={scan}");
    }
    let (status, body, _) = daemon.request("POST", "/lineup.post?scan=sideways");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = daemon.request("GET", "/lineup.post");
    assert_eq!(status, 405);
    let (status, _, _) = daemon.request("POST", "/lineup.json");
    assert_eq!(status, 405);
    let status = daemon.json("/lineup_status.json");
    assert_eq!(status["ScanPossible"], 1);
    assert_eq!(status["ScanInProgress"], 0);
    assert_eq!(daemon.json("/discover.json")["TunerCount"], 2);

    let other = Daemon::start(&[]);
    assert_eq!(other.json("/discover.json")["TunerCount"], 4);
}

#[test]
fn logos_are_images_and_every_guide_uses_them() {
    // contract: HTTP-032
    // contract: HTTP-033
    // contract: HTTP-039
    let dir = TempDir::new("rv-logo-");
    let lineup = lineup_with_art(&dir.path);
    let daemon = Daemon::start(&["--lineup", &lineup]);
    let base = daemon.base();
    let channels = daemon.json("/api/channels");
    let channels = channels.as_array().unwrap();
    let logo = |id: &str| {
        if id == "retro-one" {
            format!("{base}/logo/{id}.png")
        } else {
            format!("{base}/logo/{id}.svg")
        }
    };
    let (_, m3u) = daemon.get("/channellist.m3u");
    assert!(m3u.starts_with(&format!(
        "#EXTM3U url-tvg=\"{base}/epg.xml\" x-tvg-url=\"{base}/epg.xml\"\n"
    )));
    let (_, xml) = daemon.get("/epg.xml");
    let hdhr = daemon.json("/lineup.json");
    for (i, c) in channels.iter().enumerate() {
        let id = c["id"].as_str().unwrap();
        assert_eq!(c["logo"], logo(id).as_str());
        assert_eq!(c["hls"], format!("{base}/channel/{id}.m3u8").as_str());
        assert!(m3u.contains(&format!("tvg-logo=\"{}\"", logo(id))), "{id}");
        assert!(
            xml.contains(&format!("<icon src=\"{}\"/>", logo(id))),
            "{id}"
        );
        assert_eq!(hdhr[i]["ImageURL"], logo(id).as_str());

        // Every channel has a generated SVG: XML whose root is <svg>.
        let (status, svg, kind) = daemon.request("GET", &format!("/logo/{id}.svg"));
        assert_eq!((status, kind.as_str()), (200, "image/svg+xml"));
        let file = dir.path.join(format!("{id}.svg"));
        std::fs::write(&file, &svg).unwrap();
        let root = Command::new("xmllint")
            .args(["--xpath", "name(/*)"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            root.status.success(),
            "{}",
            String::from_utf8_lossy(&root.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&root.stdout).trim(), "svg");
        let name = c["name"].as_str().unwrap();
        assert!(
            String::from_utf8_lossy(&svg).contains(name),
            "{id}: names {name}"
        );
    }
    // The configured file is served as it is: a PNG.
    let (status, png, kind) = daemon.request("GET", "/logo/retro-one.png");
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png, PNG);
    for missing in ["/logo/nope.svg", "/logo/movie-one.png"] {
        let (status, _) = daemon.get(missing);
        assert_eq!(status, 404, "{missing}");
    }
}

#[test]
fn xmltv_has_years_art_and_reruns_is_dtd_valid_and_gzipped() {
    // contract: HTTP-034
    // contract: HTTP-035
    // contract: HTTP-038
    // contract: HTTP-039
    let dir = TempDir::new("rv-art-");
    let lineup = lineup_with_art(&dir.path);
    let daemon = Daemon::start(&["--lineup", &lineup]);
    let base = daemon.base();
    let (status, xml) = daemon.get("/epg.xml");
    assert_eq!(status, 200);
    assert!(xml.contains("<date>1978</date>"), "years");
    assert!(xml.contains("<previously-shown/>"));
    let art = format!("<icon src=\"{base}/art/maple-street-s01e");
    assert!(xml.contains(&art), "art icons");
    let file = dir.path.join("epg.xml");
    std::fs::write(&file, &xml).unwrap();
    let check = Command::new("xmllint")
        .arg("--noout")
        .arg("--dtdvalid")
        .arg(ensure("ensure-xmllint.sh"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    // The art itself, and the rows of /api with year and icon.
    let (status, bytes, kind) = daemon.request("GET", "/art/maple-street-s01e01.jpg");
    assert_eq!((status, kind.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, std::fs::read(dir.path.join("poster.jpg")).unwrap());
    for missing in ["/art/maple-street-s01e01.png", "/art/nope.jpg"] {
        assert_eq!(daemon.get(missing).0, 404, "{missing}");
    }
    let rows = daemon.json("/api/epg");
    let with_art: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["icon"].is_null())
        .collect();
    assert!(!with_art.is_empty(), "rows of episodes with art");
    for r in with_art {
        assert_eq!(r["year"].as_i64().map(|y| y / 10), Some(197), "{r}");
        assert!(r["icon"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/art/maple-street-")));
    }

    // /epg.xml.gz is the same document, gzipped (the guide may move on between two requests).
    let before = daemon.get("/epg.xml").1;
    let (status, gz, kind) = daemon.request("GET", "/epg.xml.gz");
    let after = daemon.get("/epg.xml").1;
    assert_eq!((status, kind.as_str()), (200, "application/gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text == before || text == after,
        "gunzipped /epg.xml.gz is /epg.xml"
    );
    eprintln!("epg.xml {} bytes, gzipped {} bytes", text.len(), gz.len());
}

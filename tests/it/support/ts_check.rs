//! A small MPEG-TS checker for tests (ISO/IEC 13818-1 §2.4.3): walks 188-byte packets and
//! reports every backward PCR or PES decode-time step, and every continuity-counter jump, that is
//! not signalled by a `discontinuity_indicator`. Written independently of the code under test.

#![allow(dead_code)]

use std::collections::BTreeMap;

pub const PACKET: usize = 188;
const NULL_PID: u16 = 0x1FFF;
const WRAP_90K: i64 = 1 << 33;
const WRAP_27M: i64 = WRAP_90K * 300;

/// A timestamp step worth reporting: backward, forward by more than half a second, or signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub packet: usize,
    pub pid: u16,
    /// "pcr" or "dts" (the PES decode time: DTS, or PTS when there is none).
    pub kind: &'static str,
    /// Signed step in milliseconds (negative: backward), the shorter way round the wrap.
    pub delta_ms: i64,
    /// A discontinuity_indicator covered it.
    pub signalled: bool,
}

#[derive(Debug, Default)]
pub struct Report {
    pub packets: usize,
    /// Unsignalled problems, each naming the packet index and PID.
    pub problems: Vec<String>,
    /// Packets carrying discontinuity_indicator = 1.
    pub discontinuities: Vec<(usize, u16)>,
    /// Backward steps, forward steps over 500 ms, and every step a discontinuity covers.
    pub steps: Vec<Step>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Default)]
struct PidState {
    last_cc: Option<u8>,
    last_payload: Option<Vec<u8>>,
    duplicates: u32,
    last_pcr: Option<i64>,
    /// A discontinuity_indicator was seen on this PID since its last PCR.
    pcr_signalled: bool,
    last_dts: Option<i64>,
    /// A discontinuity_indicator was seen on this PID since its last PES timestamp.
    dts_signalled: bool,
    /// The time-base break count when its last PES timestamp was seen.
    breaks_at_dts: u64,
}

fn ts90(b: &[u8]) -> i64 {
    ((((b[0] >> 1) & 7) as i64) << 30)
        | ((b[1] as i64) << 22)
        | (((b[2] >> 1) as i64) << 15)
        | ((b[3] as i64) << 7)
        | ((b[4] >> 1) as i64)
}

/// `a - b` the shorter way round a wrap of `wrap`.
fn wrap_diff(a: i64, b: i64, wrap: i64) -> i64 {
    (a - b + wrap / 2).rem_euclid(wrap) - wrap / 2
}

/// Checks a byte stream of whole TS packets.
pub fn check(bytes: &[u8]) -> Report {
    let mut report = Report::default();
    if !bytes.len().is_multiple_of(PACKET) {
        report.problems.push(format!(
            "{} bytes is not a whole number of packets",
            bytes.len()
        ));
    }
    let mut pids: BTreeMap<u16, PidState> = BTreeMap::new();
    let mut pcr_pids: Vec<u16> = Vec::new();
    // Discontinuities signalled on a PCR PID: a new system time base for every PID.
    let mut time_base_breaks: u64 = 0;
    for (n, p) in bytes.chunks_exact(PACKET).enumerate() {
        report.packets += 1;
        if p[0] != 0x47 {
            report.problems.push(format!("packet {n}: no sync byte"));
            continue;
        }
        let pid = (((p[1] & 0x1F) as u16) << 8) | p[2] as u16;
        if pid == NULL_PID {
            continue;
        }
        let pusi = p[1] & 0x40 != 0;
        let has_af = p[3] & 0x20 != 0;
        let has_payload = p[3] & 0x10 != 0;
        let cc = p[3] & 0x0F;
        let af_len = if has_af { p[4] as usize } else { 0 };
        if has_af && af_len > 183 {
            report.problems.push(format!(
                "packet {n} pid {pid:#x}: adaptation field too long"
            ));
            continue;
        }
        let flags = if has_af && af_len > 0 { p[5] } else { 0 };
        let di = flags & 0x80 != 0;
        let state = pids.entry(pid).or_default();
        if di {
            report.discontinuities.push((n, pid));
            state.pcr_signalled = true;
            state.dts_signalled = true;
            if pcr_pids.contains(&pid) {
                time_base_breaks += 1;
            }
        }
        // Continuity counter.
        let payload_at = if has_af { 5 + af_len } else { 4 };
        let payload = &p[payload_at.min(PACKET)..];
        if let Some(last) = state.last_cc {
            if has_payload {
                let duplicate = cc == last
                    && state.duplicates == 0
                    && state.last_payload.as_deref() == Some(payload);
                if duplicate {
                    state.duplicates += 1;
                } else {
                    state.duplicates = 0;
                    if cc != (last + 1) & 0x0F && !di {
                        report.problems.push(format!(
                            "packet {n} pid {pid:#x}: continuity counter jumps {last} -> {cc}"
                        ));
                    }
                }
            } else if cc != last && !di {
                report.problems.push(format!(
                    "packet {n} pid {pid:#x}: continuity counter changes {last} -> {cc} \
                     on a packet without payload"
                ));
            }
        }
        state.last_cc = Some(cc);
        if has_payload {
            state.last_payload = Some(payload.to_vec());
        }
        // PCR.
        if has_af && af_len >= 7 && flags & 0x10 != 0 {
            let base = ((p[6] as i64) << 25)
                | ((p[7] as i64) << 17)
                | ((p[8] as i64) << 9)
                | ((p[9] as i64) << 1)
                | ((p[10] as i64) >> 7);
            let ext = (((p[10] & 1) as i64) << 8) | p[11] as i64;
            let pcr = base * 300 + ext;
            if !pcr_pids.contains(&pid) {
                pcr_pids.push(pid);
            }
            if let Some(last) = state.last_pcr {
                let delta = wrap_diff(pcr, last, WRAP_27M);
                let signalled = state.pcr_signalled;
                if delta <= 0 || delta > 13_500_000 || signalled {
                    report.steps.push(Step {
                        packet: n,
                        pid,
                        kind: "pcr",
                        delta_ms: delta / 27_000,
                        signalled,
                    });
                }
                if delta <= 0 && !signalled {
                    report.problems.push(format!(
                        "packet {n} pid {pid:#x}: PCR steps back {} ms unsignalled",
                        -delta / 27_000
                    ));
                }
            }
            state.last_pcr = Some(pcr);
            state.pcr_signalled = false;
        }
        // PES decode time.
        if pusi && has_payload && payload.len() >= 14 && payload[..3] == [0, 0, 1] {
            let stream_id = payload[3];
            let pts_dts = payload[7] >> 6;
            if stream_id >= 0xBC && pts_dts & 0b10 != 0 {
                let dts = if pts_dts == 0b11 && payload.len() >= 19 {
                    ts90(&payload[14..19])
                } else {
                    ts90(&payload[9..14])
                };
                if let Some(last) = state.last_dts {
                    let delta = wrap_diff(dts, last, WRAP_90K);
                    let signalled = state.dts_signalled || state.breaks_at_dts != time_base_breaks;
                    if delta <= 0 || delta > 45_000 || signalled {
                        report.steps.push(Step {
                            packet: n,
                            pid,
                            kind: "dts",
                            delta_ms: delta / 90,
                            signalled,
                        });
                    }
                    if delta <= 0 && !signalled {
                        report.problems.push(format!(
                            "packet {n} pid {pid:#x}: decode time steps back {} ms unsignalled",
                            -delta / 90
                        ));
                    }
                }
                state.last_dts = Some(dts);
                state.dts_signalled = false;
                state.breaks_at_dts = time_base_breaks;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crafted packet: `af` adaptation-field bytes after the length (flags first), then a
    /// payload (padded with 0xFF).
    fn packet(pid: u16, cc: u8, pusi: bool, af: Option<&[u8]>, payload: Option<&[u8]>) -> Vec<u8> {
        let mut p = vec![
            0x47,
            (if pusi { 0x40 } else { 0 }) | (pid >> 8) as u8,
            pid as u8,
            0,
        ];
        let control = match (af.is_some(), payload.is_some()) {
            (false, true) => 0x10,
            (true, false) => 0x20,
            (true, true) => 0x30,
            (false, false) => 0x00,
        };
        p[3] = control | (cc & 0x0F);
        let payload = payload.unwrap_or(&[]);
        if let Some(af) = af {
            let len = PACKET - 4 - 1 - payload.len();
            p.push(len as u8);
            p.extend_from_slice(af);
            p.resize(5 + len, 0xFF);
        }
        p.extend_from_slice(payload);
        p.resize(PACKET, 0xFF);
        p
    }

    fn pcr_af(pcr: i64, di: bool) -> Vec<u8> {
        let base = pcr / 300 % WRAP_90K;
        let ext = pcr % 300;
        vec![
            0x10 | if di { 0x80 } else { 0 },
            (base >> 25) as u8,
            (base >> 17) as u8,
            (base >> 9) as u8,
            (base >> 1) as u8,
            (((base & 1) << 7) as u8) | 0x7E | ((ext >> 8) as u8 & 1),
            ext as u8,
        ]
    }

    fn pes(pts: i64) -> Vec<u8> {
        let t = pts % WRAP_90K;
        vec![
            0,
            0,
            1,
            0xC0,
            0,
            0,
            0x84,
            0x80,
            5,
            0x21 | ((((t >> 30) & 7) as u8) << 1),
            (t >> 22) as u8,
            ((((t >> 15) & 0x7F) as u8) << 1) | 1,
            (t >> 7) as u8,
            (((t & 0x7F) as u8) << 1) | 1,
            0xAA,
        ]
    }

    #[test]
    fn a_continuous_stream_passes_and_wraps_are_forward() {
        let mut s = Vec::new();
        for i in 0..40u8 {
            s.extend(packet(
                0x101,
                i,
                true,
                None,
                Some(&pes(WRAP_90K - 20 * 3000 + i as i64 * 3000)),
            ));
        }
        s.extend(packet(
            0x100,
            0,
            false,
            Some(&pcr_af(WRAP_27M - 300, false)),
            None,
        ));
        s.extend(packet(0x100, 0, false, Some(&pcr_af(600, false)), None));
        s.extend(packet(NULL_PID, 7, false, None, Some(&[])));
        let report = check(&s);
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.packets, 43);
    }

    #[test]
    fn an_unsignalled_continuity_jump_is_reported_and_a_signalled_one_is_not() {
        let mut s = Vec::new();
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        s.extend(packet(0x101, 0, false, None, Some(&[2])));
        let report = check(&s);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("continuity counter jumps 3 -> 0"));
        let mut s = Vec::new();
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        s.extend(packet(0x101, 0, false, Some(&[0x80]), Some(&[2])));
        assert!(check(&s).ok());
        // An adaptation-only packet keeps the counter; a change there is a jump.
        let mut s = Vec::new();
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        s.extend(packet(0x101, 3, false, Some(&[0x00]), None));
        s.extend(packet(0x101, 4, false, None, Some(&[2])));
        assert!(check(&s).ok());
        s.extend(packet(0x101, 6, false, Some(&[0x00]), None));
        assert_eq!(check(&s).problems.len(), 1);
        // One duplicate packet is allowed, a second is a jump.
        let mut s = Vec::new();
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        assert!(check(&s).ok());
        s.extend(packet(0x101, 3, false, None, Some(&[1])));
        assert_eq!(check(&s).problems.len(), 1);
    }

    #[test]
    fn a_backward_pcr_is_reported_unless_signalled() {
        let second = 27_000_000;
        let mut s = Vec::new();
        s.extend(packet(
            0x100,
            0,
            false,
            Some(&pcr_af(20 * second, false)),
            None,
        ));
        s.extend(packet(
            0x100,
            0,
            false,
            Some(&pcr_af(5 * second, false)),
            None,
        ));
        let report = check(&s);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("PCR steps back 15000 ms"));
        assert_eq!(report.steps[0].delta_ms, -15_000);
        let mut s = Vec::new();
        s.extend(packet(
            0x100,
            0,
            false,
            Some(&pcr_af(20 * second, false)),
            None,
        ));
        s.extend(packet(
            0x100,
            0,
            false,
            Some(&pcr_af(5 * second, true)),
            None,
        ));
        let report = check(&s);
        assert!(report.ok(), "{:?}", report.problems);
        assert!(report.steps[0].signalled);
        assert_eq!(report.discontinuities, vec![(1, 0x100)]);
    }

    #[test]
    fn a_backward_decode_time_is_reported_unless_a_discontinuity_covers_it() {
        let mut s = Vec::new();
        s.extend(packet(0x101, 0, true, None, Some(&pes(900_000))));
        s.extend(packet(0x101, 1, true, None, Some(&pes(90_000))));
        let report = check(&s);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("decode time steps back 9000 ms"));
        // Signalled on its own PID (an adaptation-only packet before it).
        let mut s = Vec::new();
        s.extend(packet(0x101, 0, true, None, Some(&pes(900_000))));
        s.extend(packet(0x101, 0, false, Some(&[0x80]), None));
        s.extend(packet(0x101, 1, true, None, Some(&pes(90_000))));
        assert!(check(&s).ok());
        // Signalled by a new time base on the PCR PID.
        let mut s = Vec::new();
        s.extend(packet(0x100, 0, false, Some(&pcr_af(1, false)), None));
        s.extend(packet(0x101, 0, true, None, Some(&pes(900_000))));
        s.extend(packet(0x100, 0, false, Some(&pcr_af(2, true)), None));
        s.extend(packet(0x101, 1, true, None, Some(&pes(90_000))));
        assert!(check(&s).ok());
        // A repeated decode time is not forward either.
        let mut s = Vec::new();
        s.extend(packet(0x101, 0, true, None, Some(&pes(900_000))));
        s.extend(packet(0x101, 1, true, None, Some(&pes(900_000))));
        assert_eq!(check(&s).problems.len(), 1);
    }

    #[test]
    fn broken_framing_is_reported() {
        let mut s = packet(0x101, 0, false, None, Some(&[1]));
        s[0] = 0x48;
        assert_eq!(check(&s).problems.len(), 1);
        assert_eq!(check(&s[..100]).problems.len(), 1);
    }
}

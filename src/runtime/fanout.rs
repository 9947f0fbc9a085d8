//! Fan-out of one channel's transport stream (DAEMON-005): shared chunks of whole 188-byte
//! packets go to every viewer's bounded queue with `try_send`; a full queue drops that viewer so
//! it can never slow the engine or the others.

use std::io::Read;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use retrovue_core::manager::ViewerId;

pub const PACKET_SIZE: usize = 188;

/// A piece of the stream: whole TS packets, shared by every viewer.
pub type Chunk = Arc<[u8]>;

/// Why a viewer left the fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// Its HTTP side went away.
    Left,
    /// Its queue was full: it fell behind.
    Dropped,
}

/// The viewers of one channel; survives engine restarts.
pub struct FanOut {
    viewers: Mutex<Vec<(ViewerId, Sender<Chunk>)>>,
    /// The latest chunk, handed to a joining viewer at once so its first bytes need not wait
    /// for the engine's next write.
    latest: Mutex<Option<Chunk>>,
    on_departure: Box<dyn Fn(ViewerId, Departure) + Send + Sync>,
}

impl FanOut {
    pub fn new(on_departure: impl Fn(ViewerId, Departure) + Send + Sync + 'static) -> FanOut {
        FanOut {
            viewers: Mutex::new(Vec::new()),
            latest: Mutex::new(None),
            on_departure: Box::new(on_departure),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ViewerId, Sender<Chunk>)>> {
        self.viewers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, viewer: ViewerId, queue: Sender<Chunk>) {
        let mut viewers = self.lock();
        if let Some(latest) = self
            .latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            let _ = queue.try_send(latest);
        }
        viewers.push((viewer, queue));
    }

    /// A new engine session starts: the previous session's packets are no longer current.
    pub fn forget_latest(&self) {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Forget viewers (their queues close, so their streams end).
    pub fn remove(&self, viewers: &[ViewerId]) {
        self.lock().retain(|(id, _)| !viewers.contains(id));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offer a chunk to every viewer without ever blocking.
    pub fn broadcast(&self, chunk: &Chunk) {
        let mut departed = Vec::new();
        let mut viewers = self.lock();
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(chunk));
        viewers.retain(|(id, queue)| match queue.try_send(Arc::clone(chunk)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                departed.push((*id, Departure::Dropped));
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                departed.push((*id, Departure::Left));
                false
            }
        });
        drop(viewers);
        for (id, why) in departed {
            (self.on_departure)(id, why);
        }
    }
}

/// Reads are gathered for at most this long before a chunk goes out: fewer, larger chunks keep a
/// bounded queue a few seconds deep at any bitrate, for a negligible delay.
const GATHER: Duration = Duration::from_millis(5);
/// A chunk goes out as soon as it holds this much.
const GATHER_BYTES: usize = 32 * 1024;

/// Wait until `fd` is readable or `timeout` passes.
fn readable(fd: RawFd, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut poll, 1, ms) > 0 }
}

/// Read an engine's stdout until EOF, handing whole packets to the fan-out. Bytes of a packet
/// split across reads wait for the rest; they are never sent alone. With `fd`, reads arriving
/// within a few milliseconds are gathered into one chunk.
pub fn pump_packets(mut source: impl Read, fd: Option<RawFd>, fanout: &FanOut) {
    const READ_SIZE: usize = 348 * PACKET_SIZE; // ~64 KiB
    let mut buffer = vec![0u8; READ_SIZE];
    let mut filled = 0;
    let mut read = |buffer: &mut [u8]| loop {
        match source.read(buffer) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other.unwrap_or(0),
        }
    };
    loop {
        let n = read(&mut buffer[filled..]);
        let mut eof = n == 0;
        filled += n;
        if let Some(fd) = fd {
            let started = Instant::now();
            while !eof && filled < GATHER_BYTES {
                let Some(left) = GATHER.checked_sub(started.elapsed()) else {
                    break;
                };
                if !readable(fd, left) {
                    break;
                }
                let n = read(&mut buffer[filled..]);
                eof = n == 0;
                filled += n;
            }
        }
        let whole = filled - filled % PACKET_SIZE;
        if whole > 0 {
            let chunk: Chunk = Arc::from(&buffer[..whole]);
            fanout.broadcast(&chunk);
            buffer.copy_within(whole..filled, 0);
            filled -= whole;
        }
        if eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn full_queue_drops_only_that_viewer_and_packets_stay_whole() {
        // contract: DAEMON-005
        let dropped = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&dropped);
        let fanout = FanOut::new(move |_, why| {
            if why == Departure::Dropped {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let (fast_tx, fast_rx) = crossbeam_channel::bounded(16);
        let (slow_tx, _slow_rx) = crossbeam_channel::bounded(2);
        fanout.add(1, fast_tx);
        fanout.add(2, slow_tx);
        // 10 packets arriving in odd-sized reads.
        let data: Vec<u8> = (0..10 * PACKET_SIZE)
            .map(|i| (i / PACKET_SIZE) as u8)
            .collect();
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = 100.min(self.0.len() - self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        pump_packets(Trickle(data.clone(), 0), None, &fanout);
        let received: Vec<u8> = fast_rx.try_iter().flat_map(|c| c.to_vec()).collect();
        assert_eq!(received, data);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(fanout.len(), 1);
    }
}

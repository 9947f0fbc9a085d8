//! Fan-out of one channel's transport stream (DAEMON-005): shared chunks of whole 188-byte
//! packets go to every viewer's bounded queue with `try_send`; a full queue drops that viewer so
//! it can never slow the engine or the others.

use std::io::Read;
use std::sync::{Arc, Mutex};

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
    on_departure: Box<dyn Fn(ViewerId, Departure) + Send + Sync>,
}

impl FanOut {
    pub fn new(on_departure: impl Fn(ViewerId, Departure) + Send + Sync + 'static) -> FanOut {
        FanOut {
            viewers: Mutex::new(Vec::new()),
            on_departure: Box::new(on_departure),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ViewerId, Sender<Chunk>)>> {
        self.viewers.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, viewer: ViewerId, queue: Sender<Chunk>) {
        self.lock().push((viewer, queue));
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
        self.lock()
            .retain(|(id, queue)| match queue.try_send(Arc::clone(chunk)) {
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
        for (id, why) in departed {
            (self.on_departure)(id, why);
        }
    }
}

/// Read an engine's stdout until EOF, handing whole packets to the fan-out. Bytes of a packet
/// split across reads wait for the rest; they are never sent alone.
pub fn pump_packets(mut source: impl Read, fanout: &FanOut) {
    const READ_SIZE: usize = 348 * PACKET_SIZE; // ~64 KiB
    let mut buffer = vec![0u8; READ_SIZE];
    let mut filled = 0;
    loop {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => return,
            Ok(n) => {
                filled += n;
                let whole = filled - filled % PACKET_SIZE;
                if whole > 0 {
                    let chunk: Chunk = Arc::from(&buffer[..whole]);
                    fanout.broadcast(&chunk);
                    buffer.copy_within(whole..filled, 0);
                    filled -= whole;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
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
        pump_packets(Trickle(data.clone(), 0), &fanout);
        let received: Vec<u8> = fast_rx.try_iter().flat_map(|c| c.to_vec()).collect();
        assert_eq!(received, data);
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(fanout.len(), 1);
    }
}

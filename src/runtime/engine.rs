//! One playout-engine child process (contracts/engine-protocol.md, DAEMON-006): spawned with
//! piped stdio and a parent-death signal, control lines written to its stdin, stdout pumped into
//! the channel's fan-out, stderr evidence forwarded to the ChannelManager thread; killed and
//! reaped on drop, so no engine ever outlives its owner.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use retrovue_core::manager::SessionId;

use super::fanout::{pump_packets, FanOut};
use super::EngineSpec;
use crate::engine::protocol::{Control, Evidence};

/// The per-channel engine arguments appended after the daemon's (ENGINE-020, ENGINE-024): the
/// channel's `--profile=TEXT` when it has an `output_profile`, and for the shipped ffmpeg
/// engine `--channel-name=NAME` (the TS service name).
pub fn channel_args(
    spec: &EngineSpec,
    channel: Option<&retrovue_core::model::Channel>,
) -> Vec<String> {
    let Some(channel) = channel else {
        return Vec::new();
    };
    let mut args = Vec::new();
    if let Some(profile) = &channel.output_profile {
        args.push(format!("--profile={profile}"));
    }
    let is_ffmpeg_engine = spec
        .program
        .file_name()
        .is_some_and(|name| name == "retrovue-engine-ffmpeg");
    if is_ffmpeg_engine {
        args.push(format!("--channel-name={}", channel.name));
    }
    args
}

/// What an engine's reader threads report to the ChannelManager thread.
#[derive(Debug)]
pub enum EngineMessage {
    Evidence(SessionId, Evidence),
    /// The first bytes of output arrived: the engine is on the air (MGR-011).
    Output(SessionId),
    /// stderr reached EOF: the process is exiting or gone.
    Closed(SessionId),
}

/// The engine's stdout, announcing its first bytes once.
struct Announced<R> {
    inner: R,
    first: Option<Box<dyn FnOnce() + Send>>,
}

impl<R: std::io::Read> std::io::Read for Announced<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        if n > 0 {
            if let Some(first) = self.first.take() {
                first();
            }
        }
        Ok(n)
    }
}

/// A running engine; dropping it stops the process (stdin EOF, SIGTERM, then SIGKILL).
pub struct EngineProcess {
    pub session: SessionId,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl EngineProcess {
    pub fn spawn(
        spec: &EngineSpec,
        channel: &str,
        channel_args: &[String],
        session: SessionId,
        messages: Sender<EngineMessage>,
        fanout: Arc<FanOut>,
    ) -> std::io::Result<EngineProcess> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .args(channel_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group: a terminal's Ctrl-C reaches the daemon only, which then stops
        // its engines in order instead of seeing them all "crash" at once.
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child when
        // the spawning thread dies (DAEMON-006: not even a killed daemon leaves an engine).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let stdin = child.stdin.take();
        let output = messages.clone();
        std::thread::Builder::new()
            .name(format!("ts-{channel}"))
            .spawn(move || {
                let fd = stdout.as_raw_fd();
                let announced = Announced {
                    inner: stdout,
                    first: Some(Box::new(move || {
                        let _ = output.send(EngineMessage::Output(session));
                    })),
                };
                pump_packets(announced, Some(fd), &fanout)
            })?;
        let name = channel.to_string();
        std::thread::Builder::new()
            .name(format!("ev-{channel}"))
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    match Evidence::parse_line(&line) {
                        Some(evidence) => {
                            if messages
                                .send(EngineMessage::Evidence(session, evidence))
                                .is_err()
                            {
                                return;
                            }
                        }
                        None => log::debug!("engine {name}: {line}"),
                    }
                }
                let _ = messages.send(EngineMessage::Closed(session));
            })?;
        Ok(EngineProcess {
            session,
            child,
            stdin,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Write one control line; a dead engine is noticed through its closed stderr instead.
    pub fn send(&mut self, control: &Control) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let mut line = serde_json::to_string(control).expect("control serialises");
        line.push('\n');
        if stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.flush())
            .is_err()
        {
            self.stdin = None;
        }
    }

    /// Reap an engine whose stderr closed: wait briefly, then kill.
    pub fn reap(mut self) -> Option<ExitStatus> {
        let status = self.wait_for(Duration::from_millis(1_000));
        if status.is_none() {
            let _ = self.child.kill();
            return self.child.wait().ok();
        }
        status
    }

    fn wait_for(&mut self, bound: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + bound;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
                _ => return None,
            }
        }
    }

    /// Stop: `stop` and stdin EOF, then SIGTERM, then SIGKILL after a bound; always reaped.
    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        self.send(&Control::Stop);
        self.stdin = None;
        if self.wait_for(Duration::from_millis(300)).is_some() {
            return;
        }
        // SAFETY: plain kill(2) on our own, not yet reaped child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        if self.wait_for(Duration::from_millis(1_000)).is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

//! RetroVue shell: the command line, persistence, runtime threads, HTTP and ingest around the
//! pure core. Everything that touches the clock, files, processes, sockets or databases is here.

pub mod cli;
pub mod clock;
pub mod daemon;
/// The playout engines live in their own crate; the daemon uses their wire model and TS helpers.
pub use retrovue_engines as engine;
pub mod error;
pub mod http;
pub mod ingest;
pub mod lineup_file;
pub mod runtime;
pub mod ssdp;
pub mod store;
pub mod xmltv;

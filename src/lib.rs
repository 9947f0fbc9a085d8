//! RetroVue shell: the command line, persistence, runtime threads, HTTP and ingest around the
//! pure core. Everything that touches the clock, files, processes, sockets or databases is here.

pub mod cli;
pub mod clock;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod http;
pub mod ingest;
pub mod lineup_file;
pub mod runtime;
pub mod ssdp;
pub mod store;
pub mod xmltv;

//! RetroVue simulator: drives the core's ChannelManager, horizon keeper and as-run recorder in
//! virtual time with seeded viewers, simulated playout engines and injected faults, checking the
//! runtime invariants after every step (contracts/sim.md).

pub mod faults;
pub mod queue;
pub mod report;
pub mod viewers;
pub mod world;

pub use faults::FaultPlan;
pub use viewers::ViewerModel;
pub use world::{run, SimConfig, SimOutcome};

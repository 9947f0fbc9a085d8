//! `retrovue-engine-air` (contracts/engine-air.md): the engine adapter that drives one AIR
//! playout process over gRPC and speaks our engine protocol (contracts/engine-protocol.md).
//!
//! The code generated from `proto/` (in OUT_DIR, where tidy does not look) derives
//! `prost::Message` and sends it with `tonic_prost::ProstCodec`: those are the two direct
//! dependencies only generated code names.

pub mod adapter;
pub mod evidence;
pub mod plan;

/// Generated from proto/playout.proto: AIR's control service (AIR is the server).
pub mod playout {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("retrovue.playout");
}

/// Generated from proto/evidence.proto: AIR's evidence service (the adapter is the server).
pub mod evidence_proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("retrovue.evidence.v1");
}

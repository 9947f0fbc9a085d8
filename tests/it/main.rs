//! RetroVue's integration tests as one binary (one link, one harness): the CLI, the store on
//! SQLite and PostgreSQL, ingest, the engines, the daemon, the README journey, the data-driven
//! timelines and the code base's own tidiness. Shared helpers live in `support*`.

mod support;
mod support_cli;
mod support_media;
mod support_web;

mod backup_restore;
mod cli_catalog;
mod cli_journey;
mod cli_lineup;
mod cli_plex;
mod cli_scheduling;
mod cli_sim;
mod cluster;
mod cluster_edges;
mod engine_ffmpeg;
mod engine_profiles;
mod engine_synthetic;
mod ingest_ffprobe;
mod ingest_filesystem;
mod ingest_providers;
mod ingest_safety;
mod ingest_speed;
mod input_preview;
mod papercuts;
mod papercuts14;
mod readme_cluster;
mod readme_journey;
mod schedule_ops;
mod serve_daemon;
mod serve_hls;
mod serve_onetruth;
mod serve_splice;
mod serve_web;
mod serve_web_play;
mod store_cli;
mod store_contract;
mod store_race;
mod store_schema;
mod tidy;
mod timelines;
mod vanished_media;

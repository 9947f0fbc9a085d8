//! Compiles proto/*.proto (written from AIR.md) with the pure-Rust `protox` compiler, so no
//! system `protoc` is needed, and generates the tonic clients and servers from its descriptors.

fn main() {
    let files = ["proto/playout.proto", "proto/evidence.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"]).expect("AIR protos compile");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)
        .expect("generate gRPC code");
}

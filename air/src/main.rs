//! `retrovue-engine-air [--air=PATH] [--program-format=JSON]`: the engine that plays through AIR
//! (contracts/engine-air.md). Speaks the engine protocol (contracts/engine-protocol.md).

use retrovue_engine_air::adapter;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match adapter::parse_args(&args, std::env::var("RETROVUE_AIR").ok()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("retrovue-engine-air: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(adapter::run(options));
    // The stdin and socket threads block in reads: leave without waiting for them.
    std::process::exit(code);
}

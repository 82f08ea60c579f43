//! Compiles the wire definitions in `proto/` with protox (pure Rust), so
//! building needs no system `protoc`.

use std::path::PathBuf;

const PROTO_FILES: &[&str] = &[
    "go-plugin/grpc_broker.proto",
    "go-plugin/grpc_controller.proto",
    "go-plugin/grpc_stdio.proto",
    "grpc/health/v1/health.proto",
    "vault/sdk/plugin/pb/backend.proto",
    "vault/sdk/logical/version.proto",
    "vault/sdk/helper/pluginutil/multiplexing.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let includes = [root.clone(), root.join("vault")];
    let files: Vec<PathBuf> = PROTO_FILES.iter().map(|f| root.join(f)).collect();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    for extra in [
        "vault/sdk/logical/identity.proto",
        "vault/sdk/logical/plugin.proto",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(extra).display());
    }
    let descriptors = protox::compile(&files, includes)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}

//! Code generated from `proto/` at build time. Plugins never use these types:
//! the SDK converts them to its own at the edge. Public only so that the
//! test-support crate can play the host.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

pub mod plugin {
    tonic::include_proto!("plugin");
}

pub mod pb {
    tonic::include_proto!("pb");
}

pub mod logical {
    tonic::include_proto!("logical");
}

pub mod multiplexing {
    tonic::include_proto!("pluginutil.multiplexing");
}

pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

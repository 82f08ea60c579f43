//! Any bytes as a `HandleRequest` from the host, decoded and routed through
//! a framework backend with paths of every kind: an answer or an error,
//! never a panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vault_plugin_sdk::backend::{Backend, BackendType};
use vault_plugin_sdk::framework::token;
use vault_plugin_sdk::framework::{Field, FieldData, Framework, Path, pattern};
use vault_plugin_sdk::fuzzing::decode_request;
use vault_plugin_sdk::logical::{Error, Request, Response};

struct State;

async fn echo(_: &State, _: &Request, data: &FieldData) -> Result<Option<Response>, Error> {
    let mut params = token::TokenParams::default();
    params.parse(data)?;
    let mut resp = Response::default();
    params.populate_data(&mut resp.data);
    Ok(Some(resp))
}

async fn exists(_: &State, _: &Request, data: &FieldData) -> Result<bool, Error> {
    Ok(data.get::<String>("name")?.len() % 2 == 0)
}

fn backend() -> &'static Framework<State> {
    static BACKEND: OnceLock<Framework<State>> = OnceLock::new();
    BACKEND.get_or_init(|| {
        Framework::new(BackendType::Auth, State)
            .path(
                Path::new(format!("role/{}", pattern::generic_name("name")))
                    .field(Field::string("name"))
                    .field(Field::string("secret").sensitive())
                    .fields(token::fields())
                    .fields(token::deprecated_fields())
                    .existence(exists)
                    .write(echo)
                    .read(echo),
            )
            .path(Path::new(format!("files/{}", pattern::match_all("path"))).read(echo))
            .build()
            .expect("patterns compile")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = decode_request(data) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let _ = backend().existence_check(request.clone()).await;
        let _ = backend().handle_request(request).await;
    });
});

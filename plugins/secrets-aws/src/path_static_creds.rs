//! `static-creds/<name>`: the current key of a static role.

use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, Path, pattern};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::AwsBackend;
use crate::rotation::stored_credential;

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![
        Path::new(format!(
            "static-creds/{}",
            pattern::generic_name_with_at("name")
        ))
        .field(Field::string("name").description("The name of this role."))
        .read(read_static_creds)
        .help(
            "Retrieve static credentials from the named role.",
            "This path reads AWS credentials for a certain static role. The keys are rotated \
             periodically according to their configuration, and will return the same key \
             until they are rotated.",
        ),
    ]
}

async fn read_static_creds(
    _: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let name: String = data.get("name")?;
    Ok(stored_credential(req.storage.as_ref(), &name)
        .await?
        .map(|c| {
            Response::with_data(json!({
                "access_key": c.access_key,
                "secret_key": c.secret_key,
                "expiration": c.expiration,
            }))
        }))
}

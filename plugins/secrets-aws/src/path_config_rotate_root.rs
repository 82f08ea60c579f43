//! `config/rotate-root`: replace the configured access key with a new one
//! of the same IAM user, so that only this engine knows it.

use serde_json::json;
use vault_plugin_sdk::framework::{JsonStorage, Path};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::AwsBackend;
use crate::client::AwsError;
use crate::path_config_root::{CONFIG_ROOT_KEY, read_config};
use crate::secret_access_keys::aws_failure;

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![Path::new("config/rotate-root").update(rotate_root).help(
        "Request to rotate the AWS credentials used by Vault",
        "This path attempts to rotate the AWS credentials used by Vault for this mount. It is \
         only valid if Vault has been configured to use AWS IAM credentials via the \
         config/root endpoint.",
    )]
}

async fn rotate_root(
    backend: &AwsBackend,
    req: &Request,
    _: &vault_plugin_sdk::framework::FieldData,
) -> Result<Option<Response>, Error> {
    // The clients are taken before the lock: building them reads the config.
    let resolved = backend.resolved(req).await?;
    let iam = resolved.clients.iam.clone();
    let _guard = backend.config_lock.write().await;
    let Some(mut config) = read_config(req).await? else {
        return Err(Error::internal("no configuration found for config/root"));
    };
    if config.access_key.is_empty() || config.secret_key.is_empty() {
        return Err(Error::invalid(
            "Cannot call config/rotate-root when either access_key or secret_key is empty",
        ));
    }
    // No user name: the caller, i.e. the configured key's own user.
    let user = iam
        .get_user()
        .send()
        .await
        .map_err(|e| aws_failure("error calling GetUser", &AwsError::from_sdk(&e)))?;
    let user_name = user
        .user()
        .map(|u| u.user_name().to_string())
        .ok_or_else(|| Error::internal("nil user returned from GetUser"))?;
    let created = iam
        .create_access_key()
        .user_name(&user_name)
        .send()
        .await
        .map_err(|e| aws_failure("error calling CreateAccessKey", &AwsError::from_sdk(&e)))?;
    let key = created
        .access_key()
        .ok_or_else(|| Error::internal("nil response from CreateAccessKey"))?;
    let old_access_key = std::mem::replace(&mut config.access_key, key.access_key_id().to_string());
    config.secret_key = key.secret_access_key().to_string();

    if let Err(err) = req.storage.put_json(CONFIG_ROOT_KEY, &config).await {
        // The new key is useless if it was not stored; do not leave it.
        let _ = iam
            .delete_access_key()
            .user_name(&user_name)
            .access_key_id(&config.access_key)
            .send()
            .await;
        return Err(Error::internal(format!(
            "error saving new config/root: {err}"
        )));
    }
    backend.forget_clients();

    // Deleted with the old key's client, which is still valid until this
    // call succeeds.
    iam.delete_access_key()
        .user_name(&user_name)
        .access_key_id(&old_access_key)
        .send()
        .await
        .map_err(|e| {
            Error::internal(format!(
                "error deleting old access key: {}",
                AwsError::from_sdk(&e)
            ))
        })?;
    Ok(Some(Response::with_data(json!({
        "access_key": config.access_key,
    }))))
}

//! `config/root`: the credentials and endpoints the engine manages IAM and
//! STS with. Stored as the reference stores it (`config/root`, its JSON
//! names), so a migrated mount keeps working.

use serde::{Deserialize, Serialize};
use serde_json::json;
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::AwsBackend;
use crate::username_template::Template;

pub const CONFIG_ROOT_KEY: &str = "config/root";

/// The reference's default: one template for both credential kinds, cut to
/// IAM's 64 and STS's 32 character limits.
pub const DEFAULT_USERNAME_TEMPLATE: &str = r#"{{ if (eq .Type "STS") }}{{ printf "vault-%s-%s"  (unix_time) (random 20) | truncate 32 }}{{ else }}{{ printf "vault-%s-%s-%s" (printf "%s-%s" (.DisplayName) (.PolicyName) | truncate 42) (unix_time) (random 20) | truncate 64 }}{{ end }}"#;

/// Go's `aws.UseServiceDefaultRetries`.
pub const DEFAULT_MAX_RETRIES: i64 = -1;

/// The stored root configuration (the reference's `rootConfig`). Fields this
/// plugin does not use (identity tokens) are kept so a round trip through
/// this plugin loses nothing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RootConfig {
    pub access_key: String,
    pub secret_key: String,
    pub iam_endpoint: String,
    pub sts_endpoint: String,
    #[serde(deserialize_with = "crate::role::null_as_default")]
    pub sts_fallback_endpoints: Vec<String>,
    pub sts_region: String,
    #[serde(deserialize_with = "crate::role::null_as_default")]
    pub sts_fallback_regions: Vec<String>,
    pub region: String,
    pub max_retries: i64,
    pub username_template: String,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl RootConfig {
    pub fn template(&self) -> &str {
        if self.username_template.is_empty() {
            DEFAULT_USERNAME_TEMPLATE
        } else {
            &self.username_template
        }
    }
}

pub async fn read_config(req: &Request) -> Result<Option<RootConfig>, Error> {
    req.storage.get_json(CONFIG_ROOT_KEY).await
}

pub fn paths() -> Vec<Path<AwsBackend>> {
    vec![
        Path::new("config/root")
            .fields(fields())
            .read(read_root)
            .update(write_root)
            .help(
                "Configure the root credentials that are used to manage IAM.",
                "Before doing anything, the AWS backend needs credentials that are able to \
                 manage IAM policies, users, access keys, etc. This endpoint is used to \
                 configure those credentials. They don't necessarily need to be root keys as \
                 long as they have permission to manage IAM. Without access_key and \
                 secret_key the AWS SDK's default credential chain is used (environment, \
                 shared config, web identity, ECS and EC2 instance roles).",
            ),
    ]
}

fn fields() -> Vec<Field> {
    vec![
        Field::string("access_key").description("Access key with permission to create new keys."),
        Field::string("secret_key")
            .description("Secret key with permission to create new keys.")
            .sensitive(),
        Field::string("region").description("Region for API calls."),
        Field::string("iam_endpoint").description("Endpoint to custom IAM server URL"),
        Field::string("sts_endpoint").description("Endpoint to custom STS server URL"),
        Field::string("sts_region").description("Specific region for STS API calls."),
        Field::comma_string_slice("sts_fallback_endpoints")
            .description("Fallback endpoints if sts_endpoint is unreachable"),
        Field::comma_string_slice("sts_fallback_regions")
            .description("Fallback regions if sts_region is unreachable"),
        Field::int("max_retries")
            .default(DEFAULT_MAX_RETRIES)
            .description("Maximum number of retries for recoverable exceptions of AWS APIs"),
        Field::string("username_template").description("Template to generate custom IAM usernames"),
    ]
}

async fn read_root(
    backend: &AwsBackend,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let _guard = backend.config_lock.read().await;
    let Some(config) = read_config(req).await? else {
        return Ok(None);
    };
    Ok(Some(Response::with_data(json!({
        "access_key": config.access_key,
        "region": config.region,
        "iam_endpoint": config.iam_endpoint,
        "sts_endpoint": config.sts_endpoint,
        "sts_region": config.sts_region,
        "sts_fallback_endpoints": config.sts_fallback_endpoints,
        "sts_fallback_regions": config.sts_fallback_regions,
        "max_retries": config.max_retries,
        "username_template": config.username_template,
    }))))
}

async fn write_root(
    backend: &AwsBackend,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let _guard = backend.config_lock.write().await;
    // An update keeps what the request leaves out, as the reference does
    // since it gained fields that are set separately.
    let mut config = read_config(req).await?.unwrap_or(RootConfig {
        max_retries: DEFAULT_MAX_RETRIES,
        ..RootConfig::default()
    });
    let strings: [(&str, &mut String); 7] = [
        ("access_key", &mut config.access_key),
        ("secret_key", &mut config.secret_key),
        ("region", &mut config.region),
        ("iam_endpoint", &mut config.iam_endpoint),
        ("sts_endpoint", &mut config.sts_endpoint),
        ("sts_region", &mut config.sts_region),
        ("username_template", &mut config.username_template),
    ];
    for (name, slot) in strings {
        if let Some(value) = data.get_ok::<String>(name)? {
            *slot = value;
        }
    }
    if let Some(v) = data.get_ok::<Vec<String>>("sts_fallback_endpoints")? {
        config.sts_fallback_endpoints = v;
    }
    if let Some(v) = data.get_ok::<Vec<String>>("sts_fallback_regions")? {
        config.sts_fallback_regions = v;
    }
    if let Some(v) = data.get_ok::<i64>("max_retries")? {
        config.max_retries = v;
    }
    if config.username_template.is_empty() {
        config.username_template = DEFAULT_USERNAME_TEMPLATE.to_string();
    }
    if config.access_key.is_empty() != config.secret_key.is_empty() {
        return Err(Error::invalid(
            "access_key and secret_key must be set together, or both left empty to use the \
             default credential chain",
        ));
    }
    if config.sts_fallback_endpoints.len() != config.sts_fallback_regions.len() {
        return Err(Error::invalid(
            "fallback endpoints and fallback regions must be the same length",
        ));
    }
    if let Err(err) = Template::parse(&config.username_template) {
        return Err(Error::invalid(format!("field `username_template`: {err}")));
    }
    req.storage.put_json(CONFIG_ROOT_KEY, &config).await?;
    backend.forget_clients();
    Ok(None)
}

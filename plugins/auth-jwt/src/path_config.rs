//! `config`: where the keys come from, the OIDC client, the algorithms and
//! issuer tokens must have. Keys and discovery are checked when written.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use vault_plugin_sdk::framework::{Field, FieldData, JsonStorage, Path};
use vault_plugin_sdk::logical::{Error, Request, Response};

use crate::backend::{JwtAuth, parse_public_key, resolve_with};
use crate::config::{CONFIG_KEY, Config, JwksPair, KeySource, client};
use crate::discovery::Provider;
use crate::jose::Algorithm;
use crate::jwks::RemoteKeySet;
use crate::provider::CustomProvider;

pub fn paths() -> Vec<Path<JwtAuth>> {
    vec![
        Path::new("config")
            .fields(fields())
            .read(read_config)
            .update(write_config)
            .help(
                "Configures the JWT authentication backend.",
                "The JWT authentication backend validates JWTs (or OIDC) using the configured \
                 credentials. If using OIDC Discovery, the URL must be provided, along with \
                 (optionally) the CA cert to use for the connection. If performing JWT \
                 validation locally, a set of public keys must be provided.",
            ),
    ]
}

fn fields() -> Vec<Field> {
    vec![
        Field::string("oidc_discovery_url").description(
            "The base URL of the OIDC Discovery URL without \".well-known/openid-configuration\" \
             component. Cannot be used with \"jwks_url\" or \"jwt_validation_pubkeys\".",
        ),
        Field::string("oidc_discovery_ca_pem").description(
            "The CA certificate or chain of certificates, in PEM format, to use to validate \
             connections to the OIDC Discovery URL. If not set, system certificates are used.",
        ),
        Field::string("oidc_client_id")
            .description("The OAuth Client ID configured with your OIDC provider."),
        Field::string("oidc_client_secret")
            .description("The OAuth Client Secret configured with your OIDC provider.")
            .sensitive(),
        Field::string("oidc_response_mode").description(
            "The response mode to be used in the OAuth2 request. Allowed values are 'query' and \
             'form_post'.",
        ),
        Field::comma_string_slice("oidc_response_types").description(
            "The response types to request. Allowed values are 'code' and 'id_token'. Defaults \
             to 'code'.",
        ),
        Field::string("jwks_url").description(
            "JWKS URL to use to authenticate signatures. Cannot be used with \
             \"oidc_discovery_url\" or \"jwt_validation_pubkeys\".",
        ),
        Field::string("jwks_ca_pem").description(
            "The CA certificate or chain of certificates, in PEM format, to use to validate \
             connections to the JWKS URL. If not set, system certificates are used.",
        ),
        Field::slice("jwks_pairs").description(
            "Set of JWKS Url and CA certificate (or chain of certificates) pairs. CA certificates \
             must be in PEM format. Cannot be used with \"jwks_url\" or \"jwks_ca_pem\".",
        ),
        Field::lowercase_string("default_role").description(
            "The default role to use if none is provided during login. If not set, a role is \
             required during login.",
        ),
        Field::comma_string_slice("jwt_validation_pubkeys").description(
            "A list of PEM-encoded public keys to use to authenticate signatures locally. Cannot \
             be used with \"jwks_url\" or \"oidc_discovery_url\".",
        ),
        Field::comma_string_slice("jwt_supported_algs")
            .description("A list of supported signing algorithms. Defaults to RS256."),
        Field::string("bound_issuer")
            .description("The value against which to match the 'iss' claim in a JWT. Optional."),
        Field::map("provider_config")
            .description("Provider-specific configuration. Optional.")
            .display_name("Provider Config"),
        Field::comma_string_slice("override_allowed_server_names").description(
            "A list of hostnames to accept when performing TLS validation, which applies both to \
             OIDC and JWKS. This overrides default checks that expect the TLS subject to match \
             the hostname specified in the connection URL",
        ),
        Field::bool("namespace_in_state")
            .description(
                "Pass namespace in the OIDC state parameter instead of as a separate query \
                 parameter. Defaults to true for new configs.",
            )
            .display_name("Namespace in OIDC state"),
        Field::bool("skip_jwks_validation").description(
            "When true and oidc_discovery_url or jwks_url are specified, if the connection fails \
             to load, a warning will be issued and status can be checked later by reading the \
             config endpoint.",
        ),
    ]
}

async fn read_config(
    backend: &JwtAuth,
    req: &Request,
    _: &FieldData,
) -> Result<Option<Response>, Error> {
    let Some(config) = JwtAuth::stored_config(req.storage.as_ref()).await? else {
        return Ok(None);
    };
    let mut data = Map::new();
    let c = &config;
    for (key, value) in [
        ("oidc_discovery_url", json!(c.oidc_discovery_url)),
        ("oidc_discovery_ca_pem", json!(c.oidc_discovery_ca_pem)),
        ("oidc_client_id", json!(c.oidc_client_id)),
        ("oidc_response_mode", json!(c.oidc_response_mode)),
        ("oidc_response_types", json!(c.oidc_response_types)),
        ("default_role", json!(c.default_role)),
        ("jwt_validation_pubkeys", json!(c.jwt_validation_pubkeys)),
        ("jwt_supported_algs", json!(c.jwt_supported_algs)),
        ("jwks_url", json!(c.jwks_url)),
        ("jwks_ca_pem", json!(c.jwks_ca_pem)),
        ("jwks_pairs", json!(c.jwks_pairs_json())),
        ("bound_issuer", json!(c.bound_issuer)),
        ("provider_config", Value::Object(c.provider_config_shown())),
        (
            "override_allowed_server_names",
            json!(c.override_allowed_server_names),
        ),
        ("namespace_in_state", json!(c.namespace_in_state)),
    ] {
        data.insert(key.into(), value);
    }
    let mut resp = Response::default();
    match backend.resolved(req.storage.as_ref()).await {
        Ok(_) => {
            data.insert("status".into(), json!("valid"));
        }
        Err(e) => {
            data.insert("status".into(), json!("invalid"));
            resp.warnings
                .push(format!("failed to construct JWK validator: {e}"));
        }
    }
    resp.data = data;
    Ok(Some(resp))
}

impl Config {
    /// `provider_config` without the provider's secrets (an API token, a
    /// service account key).
    fn provider_config_shown(&self) -> Map<String, Value> {
        let mut shown = self.provider_config.clone();
        if let Some(Value::String(name)) = self.provider_config.get("provider") {
            for key in CustomProvider::sensitive_keys(name) {
                shown.remove(*key);
            }
        }
        shown
    }

    fn jwks_pairs_json(&self) -> Value {
        Value::Array(
            self.jwks_pairs
                .iter()
                .map(|p| json!({"jwks_url": p.jwks_url, "jwks_ca_pem": p.jwks_ca_pem}))
                .collect(),
        )
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

/// The `jwks_pairs` list: objects with `jwks_url` and `jwks_ca_pem`.
fn parse_pairs(raw: &[Value]) -> Result<Vec<JwksPair>, Error> {
    const SHAPE: &str = "jwks_pairs must be provided as a list of json objects with the fields jwks_url and jwks_ca_pem";
    raw.iter()
        .map(|item| {
            let Value::Object(map) = item else {
                return Err(invalid(format!("invalid jwks_pairs: {SHAPE}")));
            };
            let text = |key: &str| match map.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(invalid(format!(
                    "invalid jwks_pairs: '{key}' expected type 'string'"
                ))),
            };
            Ok(JwksPair {
                jwks_url: text("jwks_url")?,
                jwks_ca_pem: text("jwks_ca_pem")?,
            })
        })
        .collect()
}

async fn write_config(
    backend: &JwtAuth,
    req: &Request,
    data: &FieldData,
) -> Result<Option<Response>, Error> {
    let raw_pairs: Vec<Value> = data.get("jwks_pairs")?;
    let mut config = Config {
        oidc_discovery_url: data.get("oidc_discovery_url")?,
        oidc_discovery_ca_pem: data.get("oidc_discovery_ca_pem")?,
        oidc_client_id: data.get("oidc_client_id")?,
        oidc_client_secret: data.get("oidc_client_secret")?,
        oidc_response_mode: data.get("oidc_response_mode")?,
        oidc_response_types: data.get("oidc_response_types")?,
        jwks_url: data.get("jwks_url")?,
        jwks_ca_pem: data.get("jwks_ca_pem")?,
        jwks_pairs: Vec::new(),
        jwt_validation_pubkeys: data.get("jwt_validation_pubkeys")?,
        jwt_supported_algs: data.get("jwt_supported_algs")?,
        bound_issuer: data.get("bound_issuer")?,
        default_role: data.get("default_role")?,
        provider_config: data.get("provider_config")?,
        override_allowed_server_names: data.get("override_allowed_server_names")?,
        namespace_in_state: true,
    };
    let skip_validation: bool = data.get("skip_jwks_validation")?;
    let existing = JwtAuth::stored_config(req.storage.as_ref()).await?;
    config.namespace_in_state = match (data.get_ok::<bool>("namespace_in_state")?, &existing) {
        (Some(v), _) => v,
        (None, None) => true,
        (None, Some(old)) => old.namespace_in_state,
    };

    let methods = [
        !config.oidc_discovery_url.is_empty(),
        !config.jwt_validation_pubkeys.is_empty(),
        !config.jwks_url.is_empty(),
        !raw_pairs.is_empty(),
        CustomProvider::supplies_keys(&config),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    let has_id = !config.oidc_client_id.is_empty();
    let has_secret = !config.oidc_client_secret.is_empty();

    let mut resp = Response::default();
    let mut seed: Option<KeySource> = None;
    let mut provider: Option<CustomProvider> = None;
    if methods != 1 {
        return Err(invalid(
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', \
             'oidc_discovery_url', or 'provider_config' must be set",
        ));
    } else if has_id != has_secret {
        return Err(invalid(
            "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
        ));
    } else if !config.oidc_discovery_url.is_empty() {
        if config
            .oidc_discovery_url
            .contains(".well-known/openid-configuration")
        {
            return Err(invalid(
                "'oidc_discovery_url' contains '.well-known' component",
            ));
        }
        let discovered = match client(&config.oidc_discovery_ca_pem, &config) {
            Ok(http) => Provider::discover(&config.oidc_discovery_url, http)
                .await
                .map_err(|e| e.to_string()),
            Err(_) => Err("could not parse CA PEM value successfully".to_string()),
        };
        match discovered {
            Ok(provider) => seed = Some(KeySource::Discovery(Arc::new(provider))),
            Err(e) if !skip_validation => {
                tracing::error!(error = %e, "error checking oidc discovery URL");
                return Err(invalid(format!("error checking oidc discovery URL: {e}")));
            }
            Err(_) => resp
                .warnings
                .push("error checking oidc discovery URL".into()),
        }
    } else if has_id {
        return Err(invalid("'oidc_discovery_url' must be set for OIDC"));
    } else if !config.jwks_ca_pem.is_empty() && !raw_pairs.is_empty() {
        return Err(invalid(
            "CA PEMs must be provided as part of the 'jwks_pairs' when using multiple JWKS URLs",
        ));
    } else if !raw_pairs.is_empty() && !config.bound_issuer.is_empty() {
        return Err(invalid(
            "Bound issuer is not supported for use with 'jwks_pairs'",
        ));
    } else if !config.jwks_url.is_empty() {
        let pair = JwksPair {
            jwks_url: config.jwks_url.clone(),
            jwks_ca_pem: config.jwks_ca_pem.clone(),
        };
        match check_jwks(&config, &pair).await? {
            Some(set) => seed = Some(KeySource::Jwks(vec![set])),
            None if !skip_validation => return Err(invalid("error checking jwks URL")),
            None => resp.warnings.push("error checking jwks URL".into()),
        }
    } else if !raw_pairs.is_empty() {
        config.jwks_pairs = parse_pairs(&raw_pairs)?;
        let checks = config
            .jwks_pairs
            .iter()
            .map(|pair| check_jwks(&config, pair));
        let results = futures_util::future::join_all(checks).await;
        let mut sets = Vec::new();
        for (pair, result) in config.jwks_pairs.iter().zip(results) {
            match result? {
                Some(set) => sets.push(set),
                None if !skip_validation => {
                    return Err(invalid(format!(
                        "error checking jwks URL {}",
                        pair.jwks_url
                    )));
                }
                None => resp
                    .warnings
                    .push(format!("error checking jwks URL {}", pair.jwks_url)),
            }
        }
        if sets.len() == config.jwks_pairs.len() {
            seed = Some(KeySource::Jwks(sets));
        }
    } else if CustomProvider::supplies_keys(&config) {
        // OpenBao answers these with a 500; they are the operator's to fix.
        let set_up = CustomProvider::from_config(&config).map_err(|e| invalid(e.to_string()))?;
        if let Some(CustomProvider::Kubernetes(kubernetes)) = &set_up {
            match kubernetes.key_set().await {
                Ok(set) => seed = Some(KeySource::Jwks(vec![set])),
                Err(e) if !skip_validation => {
                    tracing::error!(error = %e, "error checking kubernetes oidc discovery");
                    return Err(invalid(format!(
                        "error checking kubernetes oidc discovery: {e}"
                    )));
                }
                Err(_) => resp
                    .warnings
                    .push("error checking kubernetes oidc discovery".into()),
            }
        }
        provider = set_up;
    } else {
        let mut keys = Vec::new();
        for pem in &config.jwt_validation_pubkeys {
            keys.push(
                parse_public_key(pem)
                    .map_err(|e| invalid(format!("error parsing public key: {e}")))?,
            );
        }
        seed = Some(KeySource::Static(keys));
    }

    if let Some(bad) = config
        .jwt_supported_algs
        .iter()
        .find(|a| a.parse::<Algorithm>().is_err())
    {
        return Err(invalid(format!(
            "invalid jwt_supported_algs: unsupported signing algorithm {bad:?}"
        )));
    }
    if config
        .oidc_response_types
        .iter()
        .any(|t| t != "code" && t != "id_token")
    {
        return Err(invalid(format!(
            "invalid response_types [{}]. 'code' and 'id_token' are allowed",
            config.oidc_response_types.join(" ")
        )));
    }
    match config.oidc_response_mode.as_str() {
        "" | "query" if config.has_response_type("id_token") => {
            return Err(invalid(
                "query response_mode may not be used with an id_token response_type",
            ));
        }
        "" | "query" | "form_post" => {}
        other => return Err(invalid(format!("invalid response_mode: {other:?}"))),
    }
    let provider = match provider {
        Some(set_up) => Some(set_up),
        None => CustomProvider::from_config(&config)
            .map_err(|e| invalid(format!("invalid provider_config: {e}")))?,
    };

    req.storage.put_json(CONFIG_KEY, &config).await?;
    let resolved = match seed {
        Some(keys) => resolve_with(config, Some(keys), provider)
            .await
            .ok()
            .map(Arc::new),
        None => None,
    };
    backend.set_resolved(resolved);
    Ok((!resp.warnings.is_empty()).then_some(resp))
}

/// Fetches a JWKS to check the URL and CA (and keep the keys for the first
/// logins). `Ok(None)` when the document cannot be fetched or read.
async fn check_jwks(config: &Config, pair: &JwksPair) -> Result<Option<RemoteKeySet>, Error> {
    let http = client(&pair.jwks_ca_pem, config).map_err(|e| {
        tracing::error!(error = %e, "error checking jwks_ca_pem");
        invalid("error checking jwks_ca_pem")
    })?;
    let set = RemoteKeySet::new(pair.jwks_url.clone(), http);
    match set.fetch().await {
        Ok(_) => Ok(Some(set)),
        Err(e) => {
            tracing::error!(url = %pair.jwks_url, error = %e, "error checking jwks URL");
            Ok(None)
        }
    }
}

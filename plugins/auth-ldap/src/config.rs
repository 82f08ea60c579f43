//! The stored `config`: the LDAP servers and how to find users and groups,
//! kept in the JSON layout Vault's LDAP auth method writes, so a migrated
//! mount's storage loads as it is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use vault_plugin_sdk::framework::token::TokenParams;
use vault_plugin_sdk::framework::{Field, FieldData};
use vault_plugin_sdk::logical::Error;

use crate::template::Template;
use crate::tls;

/// Storage key of the config.
pub const CONFIG_KEY: &str = "config";

pub const DEFAULT_URL: &str = "ldap://127.0.0.1";
pub const DEFAULT_USER_FILTER: &str = "({{.UserAttr}}={{.Username}})";
pub const DEFAULT_GROUP_FILTER: &str =
    "(|(memberUid={{.Username}})(member={{.UserDN}})(uniqueMember={{.UserDN}}))";
/// Idle connections kept per mount when the config does not say.
pub const DEFAULT_POOL_SIZE: i64 = 8;

/// The fields a user filter may use.
pub const USER_FILTER_FIELDS: &[&str] = &["UserAttr", "Username"];
/// The fields a group filter may use.
pub const GROUP_FILTER_FIELDS: &[&str] = &["UserDN", "Username"];

const TLS_VERSIONS: &[&str] = &["tls10", "tls11", "tls12", "tls13"];
const DEREF_VALUES: &[&str] = &["never", "finding", "searching", "always"];
pub const SCHEMAS: &[&str] = &["openldap", "ad", "racf"];
const CREDENTIAL_TYPES: &[&str] = &["password", "phrase"];

/// The config as stored.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(flatten)]
    pub token: TokenParams,
    pub url: String,
    pub userdn: String,
    pub anonymous_group_search: bool,
    pub groupdn: String,
    pub groupfilter: String,
    pub groupattr: String,
    pub upndomain: String,
    pub username_as_alias: bool,
    pub userfilter: String,
    pub userattr: String,
    pub certificate: String,
    pub insecure_tls: bool,
    pub starttls: bool,
    pub binddn: String,
    pub bindpass: String,
    pub deny_null_bind: bool,
    pub discoverdn: bool,
    pub tls_min_version: String,
    pub tls_max_version: String,
    pub use_token_groups: bool,
    pub use_pre111_group_cn_behavior: Option<bool>,
    /// Seconds.
    pub request_timeout: i64,
    /// Seconds.
    pub connection_timeout: i64,
    pub dereference_aliases: String,
    pub max_page_size: i64,
    pub enable_samaccountname_login: bool,
    pub password_policy: String,
    pub rotation_url: String,
    pub rotation_schema: String,
    pub rotation_credential_type: String,
    /// Ours: idle connections kept for logins; 0 opens one per login as
    /// the reference does. Absent in a migrated config.
    pub connection_pool_size: Option<i64>,
    // Vault once stored these three under their Go names; it still does.
    #[serde(rename = "CaseSensitiveNames", skip_serializing_if = "Option::is_none")]
    pub case_sensitive_names: Option<bool>,
    #[serde(rename = "ClientTLSCert")]
    pub client_tls_cert: String,
    #[serde(rename = "ClientTLSKey")]
    pub client_tls_key: String,
}

/// The fields of `config`, with the reference's defaults and texts.
pub fn fields() -> Vec<Field> {
    vec![
        Field::bool("anonymous_group_search")
            .default(false)
            .description(
                "Use anonymous binds when performing LDAP group searches (if true the initial \
             credentials will still be used for the initial connection test).",
            ),
        Field::string("url").default(DEFAULT_URL).description(
            "LDAP URL to connect to (default: ldap://127.0.0.1). Multiple URLs can be specified \
             by concatenating them with commas; they will be tried in-order.",
        ),
        Field::string("userdn")
            .description("LDAP domain to use for users (eg: ou=People,dc=example,dc=org)"),
        Field::string("binddn").description("LDAP DN for searching for the user DN (optional)"),
        Field::string("bindpass")
            .description("LDAP password for searching for the user DN (optional)")
            .sensitive(),
        Field::string("groupdn").description(
            "LDAP search base to use for group membership search (eg: \
             ou=Groups,dc=example,dc=org)",
        ),
        Field::string("groupfilter")
            .default(DEFAULT_GROUP_FILTER)
            .description(
                "Go template for querying group membership of user (optional) The template can \
             access the following context variables: UserDN, Username",
            ),
        Field::string("groupattr").default("cn").description(
            "LDAP attribute to follow on objects returned by <groupfilter> in order to \
             enumerate user group membership. Examples: \"cn\" or \"memberOf\", etc.",
        ),
        Field::string("userfilter")
            .default(DEFAULT_USER_FILTER)
            .description(
                "Go template for LDAP user search filer (optional) The template can access the \
             following context variables: UserAttr, Username",
            ),
        Field::string("upndomain")
            .description("Enables userPrincipalDomain login with [username]@UPNDomain (optional)"),
        Field::bool("username_as_alias")
            .default(false)
            .description("If true, sets the alias name to the username"),
        Field::string("userattr")
            .default("cn")
            .description("Attribute used for users (default: cn)"),
        Field::string("certificate").description(
            "CA certificate to use when verifying LDAP server certificate, must be x509 PEM \
             encoded (optional)",
        ),
        Field::string("client_tls_cert").description(
            "Client certificate to provide to the LDAP server, must be x509 PEM encoded \
             (optional)",
        ),
        Field::string("client_tls_key")
            .description(
                "Client certificate key to provide to the LDAP server, must be x509 PEM encoded \
                 (optional)",
            )
            .sensitive(),
        Field::bool("discoverdn")
            .description("Use anonymous bind to discover the bind DN of a user (optional)"),
        Field::bool("insecure_tls").description(
            "Skip LDAP server SSL Certificate verification - VERY insecure (optional)",
        ),
        Field::bool("starttls").description(
            "Issue a StartTLS command after establishing unencrypted connection (optional)",
        ),
        Field::string("tls_min_version")
            .default("tls12")
            .allowed_values(TLS_VERSIONS.iter().copied())
            .description(
                "Minimum TLS version to use. Accepted values are 'tls10', 'tls11', 'tls12' or \
                 'tls13'. Defaults to 'tls12'",
            ),
        Field::string("tls_max_version")
            .default("tls12")
            .allowed_values(TLS_VERSIONS.iter().copied())
            .description(
                "Maximum TLS version to use. Accepted values are 'tls10', 'tls11', 'tls12' or \
                 'tls13'. Defaults to 'tls12'",
            ),
        Field::bool("deny_null_bind").default(true).description(
            "Denies an unauthenticated LDAP bind request if the user's password is empty; \
             defaults to true",
        ),
        Field::bool("case_sensitive_names").description(
            "If true, case sensitivity will be used when comparing usernames and groups for \
             matching policies.",
        ),
        Field::bool("use_token_groups").default(false).description(
            "If true, use the Active Directory tokenGroups constructed attribute of the user to \
             find the group memberships. This will find all security groups including nested \
             ones.",
        ),
        Field::bool("use_pre111_group_cn_behavior").description(
            "In Vault 1.1.1 a fix for handling group CN values of different cases unfortunately \
             introduced a regression that could cause previously defined groups to not be found \
             due to a change in the resulting name. If set true, the pre-1.1.1 behavior for \
             matching group CNs will be used.",
        ),
        Field::duration("request_timeout")
            .default("90s")
            .description(
                "Timeout, in seconds, for the connection when making requests against the server \
             before returning back an error.",
            ),
        Field::duration("connection_timeout")
            .default("30s")
            .description(
                "Timeout, in seconds, when attempting to connect to the LDAP server before trying \
             the next URL in the configuration.",
            ),
        Field::string("dereference_aliases")
            .default("never")
            .allowed_values(DEREF_VALUES.iter().copied())
            .description(
                "When aliases should be dereferenced on search operations. Accepted values are \
                 'never', 'finding', 'searching', 'always'. Defaults to 'never'.",
            ),
        Field::int("max_page_size").default(0).description(
            "If set to a value greater than 0, the LDAP backend will use the LDAP server's paged \
             search control to request pages of up to the given size.",
        ),
        Field::bool("enable_samaccountname_login")
            .default(false)
            .description(
                "If true, matching sAMAccountName attribute values will be allowed to login when \
             upndomain is defined.",
            ),
        Field::string("password_policy")
            .description("Password policy to use to rotate the root password"),
        Field::string("rotation_url").default("").description(
            "LDAP URL to connect to for password rotation if it is different from the \
             configured LDAP URL",
        ),
        Field::string("rotation_schema")
            .default("openldap")
            .allowed_values(SCHEMAS.iter().copied())
            .description(
                "The desired LDAP schema used when modifying user account passwords. Available \
                 options are 'openldap', 'ad', and 'racf'. If not specified, 'openldap' will be \
                 used.",
            ),
        Field::string("rotation_credential_type")
            .default("password")
            .allowed_values(CREDENTIAL_TYPES.iter().copied())
            .description(
                "The type of credential to manage. Options include: 'password', 'phrase'. \
                 Defaults to 'password'. Will only affect RACF schema.",
            ),
        Field::int("connection_pool_size")
            .default(DEFAULT_POOL_SIZE)
            .description(
                "How many idle, service-bound connections to keep for logins (not in Vault's \
                 built-in method). 0 opens a new connection for every login.",
            ),
    ]
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

impl Config {
    /// A config of defaults, as a read answers before anything is written.
    pub fn defaults(schema: &FieldData) -> Result<Config, Error> {
        let mut config = Config::default();
        config.apply(schema, false)?;
        config.case_sensitive_names = Some(false);
        config.use_pre111_group_cn_behavior = Some(false);
        Ok(config)
    }

    /// Applies a write: fields the request names, or every field's default
    /// when there is no stored config yet; then validates, with the
    /// reference's messages.
    pub fn apply(&mut self, data: &FieldData, had_existing: bool) -> Result<(), Error> {
        let set = |name: &str| data.contains(name) || !had_existing;
        if set("anonymous_group_search") {
            self.anonymous_group_search = data.get("anonymous_group_search")?;
        }
        if set("username_as_alias") {
            self.username_as_alias = data.get("username_as_alias")?;
        }
        if set("url") {
            self.url = data.get::<String>("url")?.to_lowercase();
        }
        if set("userfilter") {
            let filter: String = data.get("userfilter")?;
            if !filter.is_empty() {
                Template::parse(&filter, USER_FILTER_FIELDS)
                    .map_err(|e| invalid(format!("invalid userfilter: {e}")))?;
            }
            self.userfilter = filter;
        }
        if set("userattr") {
            self.userattr = data.get::<String>("userattr")?.to_lowercase();
        }
        if set("userdn") {
            self.userdn = data.get("userdn")?;
        }
        if set("groupdn") {
            self.groupdn = data.get("groupdn")?;
        }
        if set("groupfilter") {
            let filter: String = data.get("groupfilter")?;
            if !filter.is_empty() {
                Template::parse(&filter, GROUP_FILTER_FIELDS)
                    .map_err(|e| invalid(format!("invalid groupfilter: {e}")))?;
            }
            self.groupfilter = filter;
        }
        if set("groupattr") {
            self.groupattr = data.get("groupattr")?;
        }
        if set("upndomain") {
            self.upndomain = data.get("upndomain")?;
        }
        if set("certificate") {
            let certificate: String = data.get("certificate")?;
            if !certificate.is_empty() {
                tls::validate_ca(&certificate)
                    .map_err(|e| invalid(format!("failed to parse server tls cert: {e}")))?;
            }
            self.certificate = certificate;
        }
        if set("client_tls_cert") {
            self.client_tls_cert = data.get("client_tls_cert")?;
        }
        if set("client_tls_key") {
            self.client_tls_key = data.get("client_tls_key")?;
        }
        match (
            self.client_tls_cert.is_empty(),
            self.client_tls_key.is_empty(),
        ) {
            (false, false) => {
                tls::client_identity(&self.client_tls_cert, &self.client_tls_key)
                    .map_err(|e| invalid(format!("failed to parse client X509 key pair: {e}")))?;
            }
            (true, true) => {}
            _ => {
                return Err(invalid(
                    "both client_tls_cert and client_tls_key must be set",
                ));
            }
        }
        if set("insecure_tls") {
            self.insecure_tls = data.get("insecure_tls")?;
        }
        if set("tls_min_version") {
            self.tls_min_version = data.get("tls_min_version")?;
            if !TLS_VERSIONS.contains(&self.tls_min_version.as_str()) {
                return Err(invalid("invalid 'tls_min_version'"));
            }
        }
        if set("tls_max_version") {
            self.tls_max_version = data.get("tls_max_version")?;
            if !TLS_VERSIONS.contains(&self.tls_max_version.as_str()) {
                return Err(invalid("invalid 'tls_max_version'"));
            }
        }
        if self.tls_max_version < self.tls_min_version {
            return Err(invalid(
                "'tls_max_version' must be greater than or equal to 'tls_min_version'",
            ));
        }
        if set("starttls") {
            self.starttls = data.get("starttls")?;
        }
        if set("binddn") {
            self.binddn = data.get("binddn")?;
        }
        if set("bindpass") {
            self.bindpass = data.get("bindpass")?;
        }
        if set("deny_null_bind") {
            self.deny_null_bind = data.get("deny_null_bind")?;
        }
        if set("discoverdn") {
            self.discoverdn = data.get("discoverdn")?;
        }
        if set("case_sensitive_names") {
            self.case_sensitive_names = Some(data.get("case_sensitive_names")?);
        }
        if data.contains("use_pre111_group_cn_behavior") {
            self.use_pre111_group_cn_behavior = Some(data.get("use_pre111_group_cn_behavior")?);
        }
        if set("use_token_groups") {
            self.use_token_groups = data.get("use_token_groups")?;
        }
        if set("request_timeout") {
            self.request_timeout = data.get("request_timeout")?;
        }
        if set("connection_timeout") {
            self.connection_timeout = data.get("connection_timeout")?;
        }
        if set("dereference_aliases") {
            self.dereference_aliases = data.get("dereference_aliases")?;
            if !DEREF_VALUES.contains(&self.dereference_aliases.as_str()) {
                return Err(invalid(format!(
                    "invalid 'dereference_aliases' {:?}: must be one of {}",
                    self.dereference_aliases,
                    DEREF_VALUES.join(", ")
                )));
            }
        }
        if set("max_page_size") {
            self.max_page_size = data.get("max_page_size")?;
        }
        if set("enable_samaccountname_login") {
            self.enable_samaccountname_login = data.get("enable_samaccountname_login")?;
        }
        if data.contains("password_policy") {
            self.password_policy = data.get("password_policy")?;
        }
        if data.contains("rotation_url") {
            self.rotation_url = data.get::<String>("rotation_url")?.to_lowercase();
        }
        self.rotation_schema = data.get("rotation_schema")?;
        if !SCHEMAS.contains(&self.rotation_schema.as_str()) {
            return Err(invalid(format!(
                "invalid 'rotation_schema' {:?}: must be one of {}",
                self.rotation_schema,
                SCHEMAS.join(", ")
            )));
        }
        self.rotation_credential_type = data.get("rotation_credential_type")?;
        if !CREDENTIAL_TYPES.contains(&self.rotation_credential_type.as_str()) {
            return Err(invalid(format!(
                "invalid 'rotation_credential_type' {:?}: must be one of {}",
                self.rotation_credential_type,
                CREDENTIAL_TYPES.join(", ")
            )));
        }
        if set("connection_pool_size") {
            let size: i64 = data.get("connection_pool_size")?;
            if !(0..=1024).contains(&size) {
                return Err(invalid("connection_pool_size must be between 0 and 1024"));
            }
            self.connection_pool_size = Some(size);
        }
        for (name, secs) in [
            ("request_timeout", self.request_timeout),
            ("connection_timeout", self.connection_timeout),
        ] {
            if secs < 0 {
                return Err(invalid(format!("{name} cannot be negative")));
            }
        }
        if self.max_page_size < 0 {
            return Err(invalid("max_page_size cannot be negative"));
        }
        Ok(())
    }

    /// Whether usernames and group names compare without case (the default
    /// since Vault 0.11; configs older than that stay case-sensitive).
    pub fn case_insensitive(&self) -> bool {
        !self.case_sensitive_names.unwrap_or(true)
    }

    /// Whether a service account searches for users (else the bind DN is
    /// built from the username).
    pub fn searches_for_user(&self) -> bool {
        self.discoverdn || (!self.binddn.is_empty() && !self.bindpass.is_empty())
    }

    /// Whether logins re-bind as the service account after the user's bind.
    pub fn has_service_account(&self) -> bool {
        !self.binddn.is_empty() && !self.bindpass.is_empty()
    }

    /// Idle connections to keep.
    pub fn pool_size(&self) -> usize {
        usize::try_from(self.connection_pool_size.unwrap_or(DEFAULT_POOL_SIZE)).unwrap_or(0)
    }

    /// What a read returns: everything but the bind password and the
    /// client certificate and key.
    pub fn read_data(&self) -> Map<String, Value> {
        let mut data = json!({
            "url": self.url,
            "userdn": self.userdn,
            "groupdn": self.groupdn,
            "groupfilter": self.groupfilter,
            "groupattr": self.groupattr,
            "userfilter": self.userfilter,
            "upndomain": self.upndomain,
            "userattr": self.userattr,
            "certificate": self.certificate,
            "insecure_tls": self.insecure_tls,
            "starttls": self.starttls,
            "binddn": self.binddn,
            "deny_null_bind": self.deny_null_bind,
            "discoverdn": self.discoverdn,
            "tls_min_version": self.tls_min_version,
            "tls_max_version": self.tls_max_version,
            "use_token_groups": self.use_token_groups,
            "anonymous_group_search": self.anonymous_group_search,
            "request_timeout": self.request_timeout,
            "connection_timeout": self.connection_timeout,
            "username_as_alias": self.username_as_alias,
            "dereference_aliases": self.dereference_aliases,
            "max_page_size": self.max_page_size,
            "enable_samaccountname_login": self.enable_samaccountname_login,
            "password_policy": self.password_policy,
            "rotation_url": self.rotation_url,
            "rotation_schema": self.rotation_schema,
            "rotation_credential_type": self.rotation_credential_type,
            "connection_pool_size": self.connection_pool_size.unwrap_or(DEFAULT_POOL_SIZE),
        });
        let Some(map) = data.as_object_mut() else {
            return Map::new();
        };
        if let Some(cs) = self.case_sensitive_names {
            map.insert("case_sensitive_names".into(), cs.into());
        }
        if let Some(pre) = self.use_pre111_group_cn_behavior {
            map.insert("use_pre111_group_cn_behavior".into(), pre.into());
        }
        self.token.populate_data(map);
        std::mem::take(map)
    }

    /// The reference's warning when a user filter ignores `userattr`.
    pub fn user_filter_warning(&self) -> Option<&'static str> {
        if self.userfilter.is_empty()
            || self.userfilter.contains("{{.UserAttr}}")
            || self.userfilter.contains(&self.userattr)
        {
            None
        } else {
            Some(
                "userfilter configured does not consider userattr and may result in colliding \
                 entity aliases on logins",
            )
        }
    }
}

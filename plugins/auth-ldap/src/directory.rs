//! A login's conversation with the directory: find the user, check the
//! password with a bind, then read the user's groups and alias, following
//! the reference's rules for which identity does each step.
//!
//! Unlike the reference, the user's entry is searched once (its DN and the
//! alias attribute together), and the service account's connection is not
//! re-bound after the user's bind: the user binds on a second pooled
//! connection, so the service-bound one stays bound for the next login.

use std::collections::BTreeSet;

use ldap3::{Scope, SearchEntry};
use thiserror::Error;

use crate::config::{Config, DEFAULT_USER_FILTER, GROUP_FILTER_FIELDS, USER_FILTER_FIELDS};
use crate::connection::{Connection, Identity, LdapError, Search};
use crate::dn::{common_name, sid_to_string};
use crate::escape::{dn_value, filter_value};
use crate::pool::{Checkout, Pool};
use crate::template::Template;

/// The reference's answer to any failure to find or bind the user, so a
/// login cannot tell "no such user" from "wrong password".
pub const USER_BIND_FAILED: &str = "ldap operation failed: failed to bind as user";

#[derive(Debug, Error)]
pub enum LoginError {
    /// The user could not be found or the password was wrong.
    #[error("{USER_BIND_FAILED}")]
    BadCredentials,
    #[error("{0}")]
    Ldap(#[from] LdapError),
    #[error("{0}")]
    Other(String),
}

/// What the directory says about a user who logged in.
#[derive(Debug)]
pub struct Directory {
    /// The user's groups in LDAP (names, deduplicated and sorted).
    pub groups: Vec<String>,
    /// The alias name (the userattr value, or the built bind name).
    pub alias: String,
}

/// The two operations a login may retry.
enum Op<'a> {
    /// Bind as the service account (if not already) and search.
    ServiceSearch(&'a Config, &'a Search<'a>),
    /// Bind as the user.
    UserBind(&'a str, &'a str),
}

async fn run(conn: &mut Connection, op: &Op<'_>) -> Result<Vec<SearchEntry>, LdapError> {
    match op {
        Op::ServiceSearch(config, search) => {
            ensure_service(config, conn).await?;
            conn.search(search).await
        }
        Op::UserBind(dn, password) => {
            conn.bind(dn, password, Identity::User).await?;
            Ok(Vec::new())
        }
    }
}

/// Runs `op` on a checked-out connection; if the connection was an idle
/// one and failed in transport, the pool's copy was stale: retry once on a
/// fresh dial. The connection comes back to the caller on success.
async fn with_retry(
    pool: &Pool,
    mut checkout: Checkout,
    op: &Op<'_>,
) -> Result<(Connection, Vec<SearchEntry>), LdapError> {
    match run(&mut checkout.conn, op).await {
        Ok(value) => Ok((checkout.conn, value)),
        Err(e) if e.is_stale() && checkout.reused => {
            let mut conn = pool.dialer().dial().await?;
            let value = run(&mut conn, op).await?;
            Ok((conn, value))
        }
        Err(e) => Err(e),
    }
}

/// Binds `conn` as the service account unless it already is; an empty
/// password makes it the reference's unauthenticated bind (anonymous when
/// `binddn` is empty too).
async fn ensure_service(config: &Config, conn: &mut Connection) -> Result<(), LdapError> {
    if conn.identity == Identity::Service {
        return Ok(());
    }
    conn.bind(&config.binddn, &config.bindpass, Identity::Service)
        .await
}

/// The user search filter for `username`.
pub fn user_filter(config: &Config, username: &str) -> Result<String, LoginError> {
    let text = if config.userfilter.is_empty() {
        DEFAULT_USER_FILTER
    } else {
        &config.userfilter
    };
    let template = Template::parse(text, USER_FILTER_FIELDS).map_err(|e| {
        LoginError::Other(format!(
            "LDAP search failed due to template compilation error: {e}"
        ))
    })?;
    let (attr, name) = if config.upndomain.is_empty() {
        (filter_value(&config.userattr), filter_value(username))
    } else {
        (
            "userPrincipalName".to_string(),
            format!("{}@{}", filter_value(username), config.upndomain),
        )
    };
    let rendered = template.render(|field| match field {
        "UserAttr" => attr.clone(),
        _ => name.clone(),
    });
    if !config.upndomain.is_empty() && config.enable_samaccountname_login {
        return Ok(format!(
            "(|{rendered}(sAMAccountName={}))",
            filter_value(username)
        ));
    }
    Ok(rendered)
}

/// The bind name when the user is not searched for.
fn built_bind_name(config: &Config, username: &str) -> String {
    if config.upndomain.is_empty() {
        format!(
            "{}={},{}",
            config.userattr,
            dn_value(username),
            config.userdn
        )
    } else {
        format!("{}@{}", dn_value(username), config.upndomain)
    }
}

fn attribute_values(entry: &SearchEntry, name: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (attr, values) in &entry.attrs {
        if attr.eq_ignore_ascii_case(name) {
            out.extend(values.iter().map(|v| v.as_bytes().to_vec()));
        }
    }
    for (attr, values) in &entry.bin_attrs {
        if attr.eq_ignore_ascii_case(name) {
            out.extend(values.iter().cloned());
        }
    }
    out
}

fn string_values(entry: &SearchEntry, name: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .filter(|(attr, _)| attr.eq_ignore_ascii_case(name))
        .flat_map(|(_, values)| values.iter().cloned())
        .collect()
}

/// Authenticates `username` (already trimmed and, when names are
/// case-insensitive, lowercased) with `password`.
pub async fn authenticate(
    pool: &Pool,
    config: &Config,
    username: &str,
    password: &str,
) -> Result<Directory, LoginError> {
    // 1. The user's bind DN (and alias attribute), by search or by building it.
    let (service_conn, bind_dn, alias_values) = if config.searches_for_user() {
        let filter = user_filter(config, username)?;
        tracing::debug!(userdn = %config.userdn, filter = %filter, "discovering user");
        let attrs = [config.userattr.as_str()];
        let search = Search {
            base: &config.userdn,
            scope: Scope::Subtree,
            filter: &filter,
            attrs: &attrs,
            size_limit: 2,
            page_size: 0,
        };
        let service_checkout = pool.get(Identity::Service).await?;
        let result = with_retry(pool, service_checkout, &Op::ServiceSearch(config, &search)).await;
        let (conn, entries) = match result {
            Ok(found) => found,
            Err(e) if e.is_transport() => return Err(e.into()),
            Err(e) => {
                tracing::debug!(error = %e, "LDAP search for binddn failed");
                return Err(LoginError::BadCredentials);
            }
        };
        if entries.len() != 1 {
            tracing::debug!(
                found = entries.len(),
                "LDAP search for binddn 0 or not unique"
            );
            pool.put(conn);
            return Err(LoginError::BadCredentials);
        }
        let entry = &entries[0];
        (
            Some(conn),
            entry.dn.clone(),
            Some(string_values(entry, &config.userattr)),
        )
    } else {
        (None, built_bind_name(config, username), None)
    };
    tracing::debug!(username, binddn = %bind_dn, "user binddn fetched");

    // 2. The password check: pooled, on a connection of its own, so the
    // service connection stays bound as the service account; unpooled, on
    // the connection that searched, as the reference does (one connection
    // per login).
    let one_connection = service_conn.is_some() && !pool.keeps_connections();
    let (service_conn, user_checkout) = match service_conn {
        Some(conn) if one_connection => (
            None,
            Checkout {
                conn,
                reused: false,
            },
        ),
        kept => (kept, pool.get(Identity::User).await?),
    };
    let bound = with_retry(pool, user_checkout, &Op::UserBind(&bind_dn, password)).await;
    let mut user_conn = match bound {
        Ok((conn, _)) => conn,
        Err(e) if e.is_transport() => return Err(e.into()),
        Err(e) => {
            tracing::debug!(error = %e, "ldap bind failed");
            if let Some(conn) = service_conn {
                pool.put(conn);
            }
            return Err(LoginError::BadCredentials);
        }
    };

    // 3. Searches go on as the service account when there is one, else as
    // the user, or anonymously for groups when configured so.
    let (mut search_conn, spare) = match service_conn {
        Some(mut conn) if config.has_service_account() => {
            ensure_service(config, &mut conn).await?;
            (conn, Some(user_conn))
        }
        Some(conn) => (user_conn, Some(conn)),
        // The one unpooled connection: re-bound as the service account
        // after the user's bind, as the reference does.
        None if one_connection && config.has_service_account() => {
            ensure_service(config, &mut user_conn).await?;
            (user_conn, None)
        }
        // Otherwise no search connection means no service account (it
        // would have searched for the user).
        None => (user_conn, None),
    };
    if let Some(spare) = spare {
        pool.put(spare);
    }

    let user_dn = if config.upndomain.is_empty() {
        bind_dn.clone()
    } else {
        find_upn_dn(config, &mut search_conn, username).await?
    };

    let groups = if config.anonymous_group_search {
        let mut anonymous = pool.get(Identity::Anonymous).await?.conn;
        if anonymous.identity != Identity::Anonymous {
            anonymous.bind("", "", Identity::Anonymous).await?;
        }
        let groups = ldap_groups(config, &mut anonymous, &user_dn, username).await;
        pool.put(anonymous);
        groups?
    } else {
        ldap_groups(config, &mut search_conn, &user_dn, username).await?
    };
    pool.put(search_conn);

    let alias = if config.username_as_alias {
        username.to_string()
    } else {
        match alias_values {
            Some(values) => match values.as_slice() {
                [] => {
                    return Err(LoginError::Other(
                        "LDAP attribute missing for entity alias mapping".into(),
                    ));
                }
                [one] => one.clone(),
                _ => {
                    return Err(LoginError::Other(format!(
                        "LDAP entity alias attribute {} empty or not unique for entity alias \
                         mapping",
                        config.userattr
                    )));
                }
            },
            None => built_bind_name(config, username),
        }
    };
    if alias.is_empty() {
        return Err(LoginError::Other(
            "missing entity alias attribute value".into(),
        ));
    }
    Ok(Directory { groups, alias })
}

/// With `upndomain`, the user's DN is found by its userPrincipalName (or
/// sAMAccountName when allowed); the last match wins, as in the reference.
async fn find_upn_dn(
    config: &Config,
    conn: &mut Connection,
    username: &str,
) -> Result<String, LoginError> {
    let upn = format!(
        "(userPrincipalName={}@{})",
        filter_value(username),
        config.upndomain
    );
    let filter = if config.enable_samaccountname_login {
        format!("(|{upn}(sAMAccountName={}))", filter_value(username))
    } else {
        upn
    };
    let entries = conn
        .search(&Search {
            base: &config.userdn,
            scope: Scope::Subtree,
            filter: &filter,
            attrs: &["1.1"],
            size_limit: 0,
            page_size: 0,
        })
        .await
        .map_err(|e| LoginError::Other(format!("LDAP search failed for detecting user: {e}")))?;
    Ok(entries.last().map(|e| e.dn.clone()).unwrap_or_default())
}

/// The user's LDAP groups: through tokenGroups, or the group filter.
pub async fn ldap_groups(
    config: &Config,
    conn: &mut Connection,
    user_dn: &str,
    username: &str,
) -> Result<Vec<String>, LoginError> {
    let entries = if config.use_token_groups {
        token_groups(config, conn, user_dn).await?
    } else {
        filter_groups(config, conn, user_dn, username).await?
    };
    let exact_case = config.use_pre111_group_cn_behavior.unwrap_or(true);
    let mut names = BTreeSet::new();
    for entry in entries {
        let values = string_values(&entry, &config.groupattr);
        if values.is_empty() {
            names.insert(common_name(&entry.dn, exact_case));
        } else {
            for value in values {
                names.insert(common_name(&value, exact_case));
            }
        }
    }
    Ok(names.into_iter().collect())
}

async fn filter_groups(
    config: &Config,
    conn: &mut Connection,
    user_dn: &str,
    username: &str,
) -> Result<Vec<SearchEntry>, LoginError> {
    if config.groupfilter.is_empty() {
        tracing::warn!("groupfilter is empty, will not query server");
        return Ok(Vec::new());
    }
    if config.groupdn.is_empty() {
        tracing::warn!("groupdn is empty, will not query server");
        return Ok(Vec::new());
    }
    let template = Template::parse(&config.groupfilter, GROUP_FILTER_FIELDS).map_err(|e| {
        LoginError::Other(format!(
            "LDAP search failed due to template compilation error: {e}"
        ))
    })?;
    let (dn, name) = (filter_value(user_dn), filter_value(username));
    let filter = template.render(|field| match field {
        "UserDN" => dn.clone(),
        _ => name.clone(),
    });
    tracing::debug!(groupdn = %config.groupdn, filter = %filter, "searching groups");
    let attrs = [config.groupattr.as_str()];
    conn.search(&Search {
        base: &config.groupdn,
        scope: Scope::Subtree,
        filter: &filter,
        attrs: &attrs,
        size_limit: 0,
        page_size: i32::try_from(config.max_page_size).unwrap_or(i32::MAX),
    })
    .await
    .map_err(|e| LoginError::Other(format!("LDAP search failed: {e}")))
}

async fn token_groups(
    config: &Config,
    conn: &mut Connection,
    user_dn: &str,
) -> Result<Vec<SearchEntry>, LoginError> {
    let entries = conn
        .search(&Search {
            base: user_dn,
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attrs: &["tokenGroups"],
            size_limit: 1,
            page_size: 0,
        })
        .await
        .map_err(|e| LoginError::Other(format!("LDAP search failed: {e}")))?;
    let Some(user) = entries.first() else {
        tracing::warn!(userdn = user_dn, groupattr = %config.groupattr, "unable to read object for group attributes");
        return Ok(Vec::new());
    };
    let bases: Vec<String> = attribute_values(user, "tokenGroups")
        .iter()
        .filter_map(|raw| match sid_to_string(raw) {
            Some(sid) => Some(format!("<SID={sid}>")),
            None => {
                tracing::warn!("unable to read sid");
                None
            }
        })
        .collect();
    let searches: Vec<Search<'_>> = bases
        .iter()
        .map(|base| Search {
            base,
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attrs: &["1.1"],
            size_limit: 1,
            page_size: 0,
        })
        .collect();
    let mut groups = Vec::new();
    for (base, result) in bases.iter().zip(conn.search_many(&searches).await) {
        match result {
            Ok(mut found) if !found.is_empty() => groups.push(found.swap_remove(0)),
            Ok(_) => tracing::warn!(sid = %base, "unable to find the group"),
            Err(_) => tracing::warn!(sid = %base, "unable to read the group sid"),
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            userattr: "uid".into(),
            userdn: "ou=users,dc=example,dc=org".into(),
            userfilter: DEFAULT_USER_FILTER.into(),
            ..Config::default()
        }
    }

    #[test]
    fn user_filters_escape_the_username() {
        let c = config();
        assert_eq!(
            user_filter(&c, "alice").ok().as_deref(),
            Some("(uid=alice)")
        );
        assert_eq!(
            user_filter(&c, "*)(uid=*").ok().as_deref(),
            Some("(uid=\\2a\\29\\28uid=\\2a)")
        );
        let upn = Config {
            upndomain: "example.org".into(),
            ..config()
        };
        assert_eq!(
            user_filter(&upn, "al*").ok().as_deref(),
            Some("(userPrincipalName=al\\2a@example.org)")
        );
        let sam = Config {
            enable_samaccountname_login: true,
            ..upn
        };
        assert_eq!(
            user_filter(&sam, "alice").ok().as_deref(),
            Some("(|(userPrincipalName=alice@example.org)(sAMAccountName=alice))")
        );
    }

    #[test]
    fn built_bind_names_escape_the_username() {
        let c = config();
        assert_eq!(
            built_bind_name(&c, "ann,lee"),
            "uid=ann\\,lee,ou=users,dc=example,dc=org"
        );
        let upn = Config {
            upndomain: "example.org".into(),
            ..config()
        };
        assert_eq!(built_bind_name(&upn, "a+b"), "a\\+b@example.org");
    }
}

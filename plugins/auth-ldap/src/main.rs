fn main() -> std::process::ExitCode {
    vault_plugin_auth_ldap::serve()
}

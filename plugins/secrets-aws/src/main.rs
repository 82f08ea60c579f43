fn main() -> std::process::ExitCode {
    vault_plugin_secrets_aws::serve()
}

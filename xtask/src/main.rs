//! Project automation: `cargo xtask <command>`. One module per command.

mod args;
mod bench;
mod bench_aws;
mod bench_floor;
mod bench_jwt;
mod bench_ldap;
mod dev;
mod dist;
mod leak_check;
mod load;
mod new_plugin;
mod plugins;
mod soak;
mod test;
mod tools;

use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <command>

Commands:
  test        Install what the tests need (OpenBao, moto, slapd and Samba when
              root), build the release plugin binaries, run the whole suite.
  dev         Run the plugins in a local OpenBao dev server, configured
              against local stand-ins, with commands to try; Ctrl-C stops it.
  dist        Build the release: reproducible plugin binaries, .tar.gz archives,
              SHA256SUMS, manifest.json and register.sh, into dist/.
  bench       Measure the plugins in a real OpenBao and print one table.
  soak        Long load on each plugin through OpenBao: errors, p99, and
              the plugin's memory, files and sockets before and after.
  new-plugin  Scaffold a new plugin crate that builds and passes its tests.

Run `cargo xtask <command> --help` for a command's options.";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let result = match command.as_deref() {
        Some("test") => test::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("soak") => soak::run(&rest),
        Some("dist") => dist::run(&rest),
        Some("dev") => dev::run(&rest),
        Some("new-plugin") => new_plugin::run(&rest),
        Some("-h" | "--help" | "help") | None => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{HELP}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

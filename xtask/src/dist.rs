//! `cargo xtask dist`: the release. Reproducible plugin binaries, archives,
//! checksums, a manifest and the registration commands.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::args::Args;
use crate::plugins::{self, Shipped};

const HELP: &str = "\
cargo xtask dist [--plugins jwt,ldap,aws] [--version X.Y.Z] [--out dist]
                 [--check-reproducible]

Builds the chosen plugins (default: all) in the release profile (fat LTO, one
codegen unit, stripped) reproducibly: SOURCE_DATE_EPOCH from the last commit,
the workspace, cargo home and target paths remapped, so two clean builds of
one commit give byte-identical binaries. The build happens in
target/dist-build, apart from the test suite's release build.

Writes into --out (default: dist/ at the workspace root):
  <binary>-v<version>                               the plugin, named per version
                                                    so versions sit side by side
  <binary>-v<version>-<target>.tar.gz               it and the LICENSE, if any
  SHA256SUMS                                        over binaries and archives
  manifest.json                                     name, type, version, target,
                                                    sha256, size, rustc, commit
  register.sh                                       `vault plugin register` lines
                                                    (`register.sh bao` for OpenBao)

--version defaults to the crate version, the single source of truth. Another
value is compiled into the binaries (VAULT_PLUGIN_VERSION, read by the SDK's
plugin_info!), so what the binary reports over PluginVersion, what register.sh
registers and what manifest.json says stay one value; dist checks the built
binaries' `--version` against it.

--check-reproducible builds a second time in a fresh target directory and
fails unless every binary is byte-identical (it doubles the build time).";

struct Options {
    plugins: Vec<Shipped>,
    version: Option<String>,
    out: PathBuf,
    check_reproducible: bool,
}

fn parse(args: &[String]) -> anyhow::Result<Option<Options>> {
    let shipped = plugins::shipped()?;
    let mut options = Options {
        plugins: shipped.clone(),
        version: None,
        out: plugins::workspace_root().join("dist"),
        check_reproducible: false,
    };
    let mut args = Args::new(args);
    while let Some((flag, inline)) = args.next_arg() {
        match flag {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(None);
            }
            "--plugins" => {
                options.plugins = plugins::choose(&shipped, &args.value(flag, inline)?)?;
            }
            "--version" => {
                let v = args.value(flag, inline)?;
                let v = v.trim_start_matches('v').to_string();
                if !is_semver(&v) {
                    bail!("--version {v:?} is not a semantic version like 1.2.3");
                }
                options.version = Some(v);
            }
            "--out" => options.out = PathBuf::from(args.value(flag, inline)?),
            "--check-reproducible" => options.check_reproducible = true,
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }
    Ok(Some(options))
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre` / `+build`, as Vault's catalog
/// parses versions.
fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b))
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let Some(options) = parse(args)? else {
        return Ok(());
    };
    let root = plugins::workspace_root();
    let target_dir = plugins::target_dir();
    let facts = Facts::gather(&root)?;

    // One version for the whole release; every chosen crate must agree
    // unless --version overrides them all.
    let crate_versions: BTreeMap<&str, &str> = options
        .plugins
        .iter()
        .map(|p| (p.package.as_str(), p.version.as_str()))
        .collect();
    let version = match &options.version {
        Some(v) => v.clone(),
        None => {
            let mut distinct: Vec<&str> = crate_versions.values().copied().collect();
            distinct.dedup();
            if distinct.len() > 1 {
                bail!(
                    "the chosen plugins' crates have different versions ({crate_versions:?}); \
                     release them separately with --plugins"
                );
            }
            distinct[0].to_string()
        }
    };
    let overridden = crate_versions.values().any(|v| *v != version);
    if overridden {
        println!(
            "xtask: --version {version} differs from the crate version(s) {crate_versions:?}: \
             compiling v{version} into the binaries (VAULT_PLUGIN_VERSION); \
             bump Cargo.toml to keep the crate version the source of truth"
        );
    }

    let build_dir = target_dir.join("dist-build");
    build(&options.plugins, &build_dir, &version, overridden, &facts)?;
    if options.check_reproducible {
        // A fresh directory: nothing reused from the first build.
        let check_dir = target_dir.join("dist-build-check");
        if check_dir.exists() {
            std::fs::remove_dir_all(&check_dir)
                .with_context(|| format!("removing {}", check_dir.display()))?;
        }
        build(&options.plugins, &check_dir, &version, overridden, &facts)?;
        let mut differ = Vec::new();
        for p in &options.plugins {
            let a = sha256_hex(&read(&build_dir.join("release").join(&p.binary))?);
            let b = sha256_hex(&read(&check_dir.join("release").join(&p.binary))?);
            println!("xtask: {}: {a} / {b}", p.binary);
            if a != b {
                differ.push(p.binary.as_str());
            }
        }
        if !differ.is_empty() {
            bail!(
                "not reproducible: {differ:?} differ between {} and {} (compare them with diffoscope)",
                build_dir.display(),
                check_dir.display()
            );
        }
        std::fs::remove_dir_all(&check_dir).ok();
        println!("xtask: reproducible: two clean builds gave identical binaries");
    }

    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("creating {}", options.out.display()))?;
    let license = ["LICENSE", "LICENSE.txt", "LICENSE.md"]
        .iter()
        .map(|name| root.join(name))
        .find(|p| p.is_file());
    if license.is_none() {
        println!(
            "xtask: warning: the workspace has no LICENSE file; archives carry the binary only"
        );
    }

    let mut sums = Vec::new();
    let mut entries = Vec::new();
    let mut vault_lines = Vec::new();
    let mut bao_lines = Vec::new();
    for p in &options.plugins {
        let built = build_dir.join("release").join(&p.binary);
        let bytes = read(&built)?;
        let reported = reported_version(&built)?;
        if reported != format!("v{version}") {
            bail!(
                "{} reports {reported} but the release is v{version}; Vault would refuse to \
                 register it",
                p.binary
            );
        }
        let command = format!("{}-v{version}", p.binary);
        let binary_path = options.out.join(&command);
        write_executable(&binary_path, &bytes)?;
        let sha = sha256_hex(&bytes);

        let archive_name = format!("{command}-{}.tar.gz", facts.target);
        let mut files: Vec<(String, Vec<u8>, u32)> = vec![(command.clone(), bytes.clone(), 0o755)];
        if let Some(license) = &license {
            let name = license
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((name, read(license)?, 0o644));
        }
        let archive = tar_gz(&files, facts.source_date_epoch)?;
        let archive_path = options.out.join(&archive_name);
        std::fs::write(&archive_path, &archive)
            .with_context(|| format!("writing {}", archive_path.display()))?;
        let archive_sha = sha256_hex(&archive);

        sums.push(format!("{sha}  {command}"));
        sums.push(format!("{archive_sha}  {archive_name}"));
        let register = format!(
            "plugin register -sha256={sha} -command={command} -version=v{version} {} {}",
            p.kind, p.catalog_name
        );
        vault_lines.push(format!("    vault {register}"));
        bao_lines.push(format!("    bao {register}"));
        entries.push(json!({
            "name": p.catalog_name,
            "package": p.package,
            "type": p.kind,
            "version": format!("v{version}"),
            "target": facts.target,
            "command": command,
            "sha256": sha,
            "size": bytes.len(),
            "archive": { "name": archive_name, "sha256": archive_sha, "size": archive.len() },
        }));
    }

    sums.sort_by(|a, b| a[66..].cmp(&b[66..]));
    write(&options.out.join("SHA256SUMS"), &(sums.join("\n") + "\n"))?;
    let manifest = json!({
        "version": format!("v{version}"),
        "git_commit": facts.commit,
        "git_dirty": facts.dirty,
        "source_date_epoch": facts.source_date_epoch,
        "rustc": facts.rustc,
        "target": facts.target,
        "plugins": entries,
    });
    write(
        &options.out.join("manifest.json"),
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    let script = format!(
        "#!/bin/sh\n\
         # Registers the plugins of release v{version} (commit {commit}).\n\
         # First copy the binaries into the server's plugin_directory, then run\n\
         # `./register.sh` for Vault or `./register.sh bao` for OpenBao, with\n\
         # VAULT_ADDR/VAULT_TOKEN (BAO_ADDR/BAO_TOKEN) set.\n\
         set -eu\n\
         case \"${{1:-vault}}\" in\n\
         vault)\n{vault}\n    ;;\n\
         bao)\n{bao}\n    ;;\n\
         *)\n    echo \"usage: $0 [vault|bao]\" >&2\n    exit 2\n    ;;\n\
         esac\n",
        commit = facts.commit,
        vault = vault_lines.join("\n"),
        bao = bao_lines.join("\n"),
    );
    let script_path = options.out.join("register.sh");
    write_executable(&script_path, script.as_bytes())?;

    println!(
        "xtask: release v{version} for {} (commit {}{}) in {}:",
        facts.target,
        facts.commit,
        if facts.dirty {
            ", uncommitted changes"
        } else {
            ""
        },
        options.out.display()
    );
    for line in &sums {
        println!("  {line}");
    }
    println!("  manifest.json\n  register.sh");
    Ok(())
}

/// What the build and the manifest record about the machine and the commit.
struct Facts {
    commit: String,
    dirty: bool,
    source_date_epoch: u64,
    rustc: String,
    target: String,
}

impl Facts {
    fn gather(root: &Path) -> anyhow::Result<Facts> {
        let commit = output(
            Command::new("git")
                .current_dir(root)
                .args(["rev-parse", "HEAD"]),
        )?;
        let dirty = !output(Command::new("git").current_dir(root).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]))?
        .is_empty();
        let epoch =
            output(
                Command::new("git")
                    .current_dir(root)
                    .args(["log", "-1", "--format=%ct"]),
            )?;
        let source_date_epoch = epoch
            .parse()
            .with_context(|| format!("git log gave {epoch:?} as the commit time"))?;
        let rustc_vv = output(Command::new("rustc").arg("-vV"))?;
        let rustc = rustc_vv.lines().next().unwrap_or_default().to_string();
        let target = rustc_vv
            .lines()
            .find_map(|l| l.strip_prefix("host: "))
            .context("rustc -vV names no host")?
            .to_string();
        Ok(Facts {
            commit,
            dirty,
            source_date_epoch,
            rustc,
            target,
        })
    }
}

/// One `cargo build --release` of the plugins into `target_dir`, with
/// everything that would make the bytes depend on this machine or this
/// moment pinned or remapped.
fn build(
    chosen: &[Shipped],
    target_dir: &Path,
    version: &str,
    overridden: bool,
    facts: &Facts,
) -> anyhow::Result<()> {
    let root = plugins::workspace_root();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    // Later remaps win, so the target directory (maybe inside the
    // workspace) maps to one name whichever directory the build used:
    // generated code (the protobuf bindings) is include!d from there.
    let remaps = [
        (root.as_path(), "."),
        (cargo_home.as_path(), "/cargo"),
        (target_dir, "/target"),
    ];
    let rustflags: Vec<String> = remaps
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect();
    // aws-lc's C code names its source files in error strings (__FILE__).
    let cflags: Vec<String> = remaps
        .iter()
        .map(|(from, to)| format!("-ffile-prefix-map={}={to}", from.display()))
        .collect();
    let mut cmd = Command::new(plugins::cargo());
    cmd.current_dir(&root)
        .args(["build", "--release", "--locked"])
        .env("CARGO_TARGET_DIR", target_dir)
        .env("SOURCE_DATE_EPOCH", facts.source_date_epoch.to_string())
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\u{1f}"))
        .env_remove("RUSTFLAGS")
        .env("CFLAGS", cflags.join(" "))
        .env("CXXFLAGS", cflags.join(" "));
    if overridden {
        cmd.env("VAULT_PLUGIN_VERSION", version);
    } else {
        cmd.env_remove("VAULT_PLUGIN_VERSION");
    }
    for p in chosen {
        cmd.args(["-p", &p.package, "--bin", &p.binary]);
    }
    println!(
        "xtask: building {} v{version} into {}",
        chosen
            .iter()
            .map(|p| p.short.as_str())
            .collect::<Vec<_>>()
            .join(","),
        target_dir.display()
    );
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    Ok(())
}

/// What the binary says with `--version`: the version it reports over
/// `PluginVersion` too (both come from `plugin_info!`).
fn reported_version(binary: &Path) -> anyhow::Result<String> {
    let text = output(Command::new(binary).arg("--version"))?;
    text.split_whitespace()
        .last()
        .map(str::to_string)
        .with_context(|| format!("{} --version printed nothing", binary.display()))
}

/// A gzip'd ustar archive whose bytes depend only on the files: entries in
/// the given order, mtime `epoch`, owner 0:0, no user names, and a gzip
/// header without a timestamp or file name.
fn tar_gz(files: &[(String, Vec<u8>, u32)], epoch: u64) -> anyhow::Result<Vec<u8>> {
    let mut tar = Vec::new();
    for (name, data, mode) in files {
        if name.len() > 100 {
            bail!("{name}: too long for a tar header");
        }
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |field: &mut [u8], value: u64| {
            let text = format!("{value:0width$o}\0", width = field.len() - 1);
            field.copy_from_slice(text.as_bytes());
        };
        octal(&mut header[100..108], u64::from(*mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], data.len() as u64);
        octal(&mut header[136..148], epoch);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        header[148..156].fill(b' ');
        let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    // The end-of-archive marker: two zero blocks.
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar)?;
    Ok(gz.finish()?)
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn write_executable(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // A new file, not an overwrite: the old one may be a running plugin.
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("replacing {}", path.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_is_checked() {
        for ok in ["0.1.0", "1.22.333", "0.2.0-rc.1", "1.0.0+build.5"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["", "1", "1.2", "1.2.x", "1.2.3 ", "1.2.3/4", "a.b.c"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_plugins_are_refused_with_the_known_ones() {
        let err = parse(&["--plugins".into(), "jwt,kerberos".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"kerberos\""), "{err}");
        assert!(err.contains("jwt, ldap, aws"), "{err}");
    }

    #[test]
    fn archives_are_deterministic_and_readable_by_tar() {
        let files = vec![
            ("tool".to_string(), b"#!/bin/sh\necho hi\n".to_vec(), 0o755),
            ("LICENSE".to_string(), b"text".to_vec(), 0o644),
        ];
        let a = tar_gz(&files, 1_700_000_000).expect("archive");
        let b = tar_gz(&files, 1_700_000_000).expect("archive");
        assert_eq!(a, b);
        let dir = std::env::temp_dir().join(format!("xtask-dist-tar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("a.tar.gz");
        std::fs::write(&path, &a).expect("write");
        let listing = Command::new("tar")
            .args(["-tvzf"])
            .arg(&path)
            .output()
            .expect("tar runs");
        std::fs::remove_dir_all(&dir).ok();
        assert!(listing.status.success(), "{listing:?}");
        let text = String::from_utf8_lossy(&listing.stdout);
        assert!(
            text.contains("rwxr-xr-x") && text.contains("tool"),
            "{text}"
        );
        assert!(
            text.contains("LICENSE") && text.contains("2023-11-1"),
            "{text}"
        );
    }
}

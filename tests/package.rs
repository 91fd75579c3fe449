//! The Debian package, as `cargo deb` lays it out from
//! `[package.metadata.deb]` in Cargo.toml: built here from that same asset
//! list with `dpkg-deb` (the binary under test standing for
//! `target/release/tonewatch`, man pages gzipped as cargo-deb does),
//! unpacked into a scratch root and used there as an installed system
//! would: the binary runs the bundled example with the packaged
//! configuration, `man` finds the page, bash loads the completion, and
//! `systemd-analyze verify` accepts every unit with nothing to say. The
//! committed man pages and completions must be what the binary prints.

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, assert_ok, example, lines};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let manifest = std::fs::read_to_string(Path::new(MANIFEST_DIR).join("Cargo.toml")).unwrap();
    let mut table: toml::Table = manifest.parse().unwrap();
    let package = table.remove("package").unwrap();
    package["metadata"]["deb"].as_table().unwrap().clone()
}

/// The files one asset source names (a `*` in its file name matches any
/// run of characters), with the binary under test for the release binary.
fn sources(source: &str) -> Vec<PathBuf> {
    if source == "target/release/tonewatch" {
        return vec![PathBuf::from(BIN)];
    }
    let path = Path::new(MANIFEST_DIR).join(source);
    let name = path.file_name().unwrap().to_str().unwrap();
    let Some((prefix, suffix)) = name.split_once('*') else {
        assert!(path.is_file(), "asset {source} is missing");
        return vec![path];
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= name.len() - 1
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "asset {source} matches nothing");
    found
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert_ok(&out);
    out
}

/// Stages every asset under `stage`, with the control files, and builds
/// the package; returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    let meta = deb_metadata();
    let stage = dir.join("stage");
    for asset in meta["assets"].as_array().unwrap() {
        let a = asset.as_array().unwrap();
        let (source, dest, mode) = (
            a[0].as_str().unwrap(),
            a[1].as_str().unwrap(),
            u32::from_str_radix(a[2].as_str().unwrap(), 8).unwrap(),
        );
        for from in sources(source) {
            let mut to = stage.join(dest);
            if dest.ends_with('/') {
                to = to.join(from.file_name().unwrap());
            }
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
            if dest.starts_with("usr/share/man/") {
                run(Command::new("gzip").args(["-9n"]).arg(&to));
                to.set_file_name(format!("{}.gz", to.file_name().unwrap().to_str().unwrap()));
            }
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    let arch = run(Command::new("dpkg").arg("--print-architecture")).stdout;
    let arch = String::from_utf8(arch).unwrap();
    let extended: String = meta["extended-description"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| format!(" {l}\n"))
        .collect();
    let control = format!(
        "Package: tonewatch\nVersion: {}-1\nArchitecture: {}\nMaintainer: {}\n\
         Section: {}\nPriority: {}\nDescription: {}\n{extended}",
        env!("CARGO_PKG_VERSION"),
        arch.trim(),
        meta["maintainer"].as_str().unwrap(),
        meta["section"].as_str().unwrap(),
        meta["priority"].as_str().unwrap(),
        env!("CARGO_PKG_DESCRIPTION"),
    );
    let debian = stage.join("DEBIAN");
    std::fs::create_dir_all(&debian).unwrap();
    std::fs::write(debian.join("control"), control).unwrap();
    // Everything under /etc is a configuration file (cargo-deb does the same).
    let mut conffiles = String::new();
    let mut pending = vec![stage.join("etc")];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                conffiles.push_str(&format!("/{}\n", p.strip_prefix(&stage).unwrap().display()));
            }
        }
    }
    std::fs::write(debian.join("conffiles"), conffiles).unwrap();
    let deb = dir.join("tonewatch.deb");
    run(Command::new("dpkg-deb")
        // Uncompressed: the test binary is large and unstripped.
        .args(["--root-owner-group", "-Znone", "--build"])
        .arg(&stage)
        .arg(&deb));
    deb
}

/// A unit file with `/usr/bin/tonewatch` pointing into `root`, and what
/// `systemd-analyze verify` says of it (`--user` for a user unit).
fn verify_unit(root: &Path, unit: &Path, user: bool, scratch: &Path) -> Output {
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(
        text.contains("ExecStart=/usr/bin/tonewatch "),
        "{}",
        unit.display()
    );
    let local = scratch.join(unit.file_name().unwrap());
    std::fs::write(
        &local,
        text.replace(
            "/usr/bin/tonewatch",
            root.join("usr/bin/tonewatch").to_str().unwrap(),
        ),
    )
    .unwrap();
    let runtime = scratch.join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    let mut cmd = Command::new("systemd-analyze");
    if user {
        cmd.arg("--user");
    }
    cmd.arg("verify")
        .arg(&local)
        // `Documentation=man:tonewatch(1)` is looked up with man.
        .env("MANPATH", root.join("usr/share/man"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap()
}

#[test]
fn the_package_installs_a_working_daemon_its_units_and_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let fields = run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .args(["Package", "Version"]));
    assert_eq!(
        String::from_utf8(fields.stdout).unwrap(),
        format!(
            "Package: tonewatch\nVersion: {}-1\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let contents =
        String::from_utf8(run(Command::new("dpkg-deb").arg("-c").arg(&deb)).stdout).unwrap();
    // Installed as root's, whoever built it.
    assert!(
        contents.lines().all(|l| l.contains(" root/root ")),
        "{contents}"
    );

    // The binary, with the packaged configuration.
    let bin = root.join("usr/bin/tonewatch");
    let version = run(Command::new(&bin).arg("--version")).stdout;
    assert_eq!(
        String::from_utf8(version).unwrap().trim(),
        format!("tonewatch {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(Command::new(&bin)
        .arg("replay")
        .arg(example())
        .arg("--config")
        .arg(root.join("etc/tonewatch/config.toml")));
    let records = lines(&out.stdout);
    assert!(records.iter().any(|r| r["type"] == "summary"), "no summary");

    // man finds the page in the package's man path; bash loads the completion.
    let man = run(Command::new("man")
        .arg("tonewatch")
        .env("MANPATH", root.join("usr/share/man"))
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0"));
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(
        page.contains("tonewatch") && page.contains("serve"),
        "{page}"
    );
    let completion = root.join("usr/share/bash-completion/completions/tonewatch");
    let complete = run(Command::new("bash").arg("-c").arg(format!(
        "source '{}' && complete -p tonewatch",
        completion.display()
    )));
    assert!(String::from_utf8_lossy(&complete.stdout).contains("tonewatch"));

    // Every unit passes systemd's own check without a word.
    let scratch = dir.path().join("units");
    std::fs::create_dir_all(&scratch).unwrap();
    for (unit, user) in [
        ("lib/systemd/system/tonewatch-serve.service", false),
        ("lib/systemd/system/tonewatch-supervise.service", false),
        ("usr/lib/systemd/user/tonewatch.service", true),
    ] {
        let out = verify_unit(&root, &root.join(unit), user, &scratch);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{unit}: {said}"
        );
    }
    let serve =
        std::fs::read_to_string(root.join("lib/systemd/system/tonewatch-serve.service")).unwrap();
    for hardening in [
        "Type=notify",
        "WatchdogSec=",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(serve.contains(hardening), "serve unit lacks {hardening}");
    }
}

/// The committed man pages and completions are what the binary prints: a
/// changed option shows up in the package. To refresh them:
/// `tonewatch man --out src/dist/man`, `tonewatch completions bash >
/// src/dist/completions/tonewatch.bash` (zsh: `_tonewatch`, fish:
/// `tonewatch.fish`).
#[test]
fn packaged_pages_and_completions_are_current() {
    let dist = Path::new(MANIFEST_DIR).join("src/dist");
    let dir = tempfile::tempdir().unwrap();
    let clean = |cmd: &mut Command| {
        for (k, _) in std::env::vars() {
            if k.starts_with("TONEWATCH_") {
                cmd.env_remove(k);
            }
        }
        run(cmd)
    };
    clean(Command::new(BIN).arg("man").arg("--out").arg(dir.path()));
    let mut fresh: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    fresh.sort();
    let mut committed: Vec<_> = std::fs::read_dir(dist.join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    committed.sort();
    assert_eq!(fresh, committed, "man pages added or removed");
    for name in fresh {
        let now = std::fs::read(dir.path().join(&name)).unwrap();
        let then = std::fs::read(dist.join("man").join(&name)).unwrap();
        assert!(
            now == then,
            "src/dist/man/{} is stale",
            name.to_string_lossy()
        );
    }
    for (shell, file) in [
        ("bash", "tonewatch.bash"),
        ("zsh", "_tonewatch"),
        ("fish", "tonewatch.fish"),
    ] {
        let now = clean(Command::new(BIN).args(["completions", shell])).stdout;
        let then = std::fs::read(dist.join("completions").join(file)).unwrap();
        assert!(now == then, "src/dist/completions/{file} is stale");
    }
}

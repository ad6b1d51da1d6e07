//! `tandem plugin new NAME [--lang rust|js]`: a plugin project that builds as it is, with the
//! SDK, the world's WIT and an input for each hook beside it, so an author needs nothing but
//! this binary and a Rust toolchain (or Node.js and npm).

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The language a plugin is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
}

impl Lang {
    /// How the project is built, for the line printed once it is written.
    pub fn build_hint(self) -> &'static str {
        match self {
            Lang::Rust => "`cargo build --release`",
            Lang::Js => "`npm install && npm run build`",
        }
    }

    /// The language's own files: the project's (with `{{name}}`, `{{crate}}` and `{{world}}`
    /// filled in) and a copy of its SDK.
    fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => &RUST,
            Lang::Js => &JS,
        }
    }
}

const RUST: [(&str, &str); 6] = [
    (
        "Cargo.toml",
        include_str!("../../plugins/scaffold/rust/Cargo.toml.in"),
    ),
    (
        "src/lib.rs",
        include_str!("../../plugins/scaffold/rust/src/lib.rs.in"),
    ),
    (
        "README.md",
        include_str!("../../plugins/scaffold/rust/README.md.in"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../../plugins/scaffold/rust/.cargo/config.toml"),
    ),
    (
        "sdk/Cargo.toml",
        include_str!("../../plugins/sdk/Cargo.toml"),
    ),
    (
        "sdk/src/lib.rs",
        include_str!("../../plugins/sdk/src/lib.rs"),
    ),
];

const JS: [(&str, &str); 6] = [
    (
        "package.json",
        include_str!("../../plugins/scaffold/js/package.json.in"),
    ),
    // Pins componentize-js's own dependencies to those the examples are built and tested with.
    (
        "package-lock.json",
        include_str!("../../plugins/scaffold/js/package-lock.json.in"),
    ),
    (
        "src/plugin.js",
        include_str!("../../plugins/scaffold/js/src/plugin.js.in"),
    ),
    (
        "README.md",
        include_str!("../../plugins/scaffold/js/README.md.in"),
    ),
    (
        ".gitignore",
        include_str!("../../plugins/scaffold/js/gitignore"),
    ),
    (
        "src/tandem-plugin.js",
        include_str!("../../plugins/sdk-js/tandem-plugin.js"),
    ),
];

/// What every project has, whatever its language: the WIT it is built against and the hooks'
/// fixtures.
const COMMON: [(&str, &str); 8] = [
    (
        "wit/since_v0.2.0/plugin.wit",
        include_str!("../../plugins/wit/since_v0.2.0/plugin.wit"),
    ),
    (
        "fixtures/offline_timeout.json",
        include_str!("../../plugins/fixtures/offline_timeout.json"),
    ),
    (
        "fixtures/email_template.json",
        include_str!("../../plugins/fixtures/email_template.json"),
    ),
    (
        "fixtures/route_notification.json",
        include_str!("../../plugins/fixtures/route_notification.json"),
    ),
    (
        "fixtures/offline_request.json",
        include_str!("../../plugins/fixtures/offline_request.json"),
    ),
    (
        "fixtures/availability.json",
        include_str!("../../plugins/fixtures/availability.json"),
    ),
    (
        "fixtures/operator_alert.json",
        include_str!("../../plugins/fixtures/operator_alert.json"),
    ),
    (
        "fixtures/chat_closed.json",
        include_str!("../../plugins/fixtures/chat_closed.json"),
    ),
];

/// Writes the project into `parent/NAME` (which must not exist); its path.
pub fn new(name: &str, lang: Lang, parent: &Path) -> anyhow::Result<PathBuf> {
    check_name(name)?;
    let root = parent.join(name);
    if root.exists() {
        anyhow::bail!(
            "{} exists already; choose another name or place",
            root.display()
        );
    }
    let crate_name = name.replace('-', "_");
    let world = tandem_plugins::CURRENT_WORLD;
    for (path, text) in lang.files().iter().chain(COMMON.iter()) {
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{world}}", world);
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}

/// A name that is a plugin's, a folder's and (with `_` for `-`) a crate's.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_with_letter || !rest_ok || name.len() > 40 || name.ends_with('-') {
        anyhow::bail!(
            "{name:?} cannot name a plugin: use 1 to 40 lowercase letters, digits and dashes, \
             starting with a letter"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_nothing_is_overwritten() {
        for bad in ["", "Hours", "1st", "my_plugin", "x-", "a/b", "../up"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = new("opening-hours", Lang::Rust, dir.path()).expect("written");
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        assert!(cargo.contains("name = \"opening_hours\""), "{cargo}");
        let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("const NAME: &'static str = \"opening-hours\";"));
        assert!(!lib.contains("{{"), "every placeholder is filled");
        // The WIT copied is the current world's, the one the SDK generates from.
        let wit = format!("wit/since_v{}/plugin.wit", tandem_plugins::CURRENT_WORLD);
        assert!(root.join(wit).exists());
        assert!(
            new("opening-hours", Lang::Js, dir.path()).is_err(),
            "exists already"
        );
    }

    #[test]
    fn a_javascript_project_builds_the_current_world_with_its_sdk_beside_it() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let root = new("opening-hours", Lang::Js, dir.path()).expect("written");
        let package = std::fs::read_to_string(root.join("package.json")).expect("package.json");
        let package: serde_json::Value = serde_json::from_str(&package).expect("JSON");
        let build = package["scripts"]["build"]
            .as_str()
            .expect("a build script");
        let world = tandem_plugins::CURRENT_WORLD;
        assert!(
            build.contains(&format!("--wit wit/since_v{world}")),
            "{build}"
        );
        assert!(build.ends_with("-o opening-hours.wasm"), "{build}");
        assert!(root.join(format!("wit/since_v{world}/plugin.wit")).exists());
        let plugin = std::fs::read_to_string(root.join("src/plugin.js")).expect("plugin.js");
        assert!(plugin.contains("name: \"opening-hours\""), "{plugin}");
        assert!(!plugin.contains("{{"), "every placeholder is filled");
        assert!(root.join("src/tandem-plugin.js").exists());
        let lock = std::fs::read_to_string(root.join("package-lock.json")).expect("a lock file");
        let lock: serde_json::Value = serde_json::from_str(&lock).expect("JSON");
        assert_eq!(lock["name"], "opening-hours");
        assert!(root.join("fixtures/offline_request.json").exists());
    }
}

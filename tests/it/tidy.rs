//! Tests that check the code base itself: the pure core stays pure, every module says what it is
//! for, no debugging leftovers, and contracts and tests cite each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name != "target" && !name.starts_with('.') {
                files_under(&path, ext, out);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

fn rust_files(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        files_under(&root().join(d), "rs", &mut out);
    }
    out
}

/// The `[dependencies]` table's crate names of a manifest.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(root().join(manifest)).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    value
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn core_depends_only_on_pure_crates() {
    let allowed: BTreeSet<&str> = [
        "chrono",
        "chrono-tz",
        "serde",
        "serde_json",
        "sha2",
        "toml",
        "log",
    ]
    .into();
    for dep in dependencies("core/Cargo.toml") {
        assert!(
            allowed.contains(dep.as_str()),
            "core/Cargo.toml depends on {dep}: the core must stay pure"
        );
    }
    let sim_allowed: BTreeSet<&str> = [
        "retrovue-core",
        "serde",
        "serde_json",
        "sha2",
        "chrono",
        "chrono-tz",
        "log",
    ]
    .into();
    for dep in dependencies("sim/Cargo.toml") {
        assert!(
            sim_allowed.contains(dep.as_str()),
            "sim/Cargo.toml depends on {dep}: the simulator drives the core only"
        );
    }
}

#[test]
fn core_and_sim_never_touch_the_world() {
    let forbidden = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "thread::sleep",
        "std::thread",
        "std::process",
        "std::net",
        "std::fs",
        "std::env",
        "HashMap",
        "HashSet",
        "rand::",
        "println!",
        "eprintln!",
    ];
    for file in rust_files(&["core/src", "sim/src"]) {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                assert!(
                    !code.contains(word),
                    "{}:{}: pure code uses {word}",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn every_module_says_what_it_is_for() {
    for file in rust_files(&["core", "sim", "engines", "src", "tests", "benches", "air"]) {
        let text = fs::read_to_string(&file).unwrap();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            first.starts_with("//!"),
            "{} does not start with a //! line",
            file.display()
        );
    }
}

#[test]
fn no_debugging_leftovers() {
    for file in rust_files(&["core", "sim", "engines", "src", "tests", "benches"]) {
        if file.ends_with("tidy.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for word in ["todo!(", "dbg!(", "unimplemented!(", "#[ignore"] {
            assert!(!text.contains(word), "{} contains {word}", file.display());
        }
    }
}

fn contract_ids(line_prefix: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix(line_prefix) else {
            continue;
        };
        let id: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        let valid = id.split_once('-').is_some_and(|(a, n)| {
            !a.is_empty() && n.len() == 3 && n.chars().all(|c| c.is_ascii_digit())
        });
        if valid {
            out.push(id);
        }
    }
    out
}

#[test]
fn contracts_and_tests_cite_each_other() {
    let mut files = Vec::new();
    files_under(&root().join("contracts"), "md", &mut files);
    let mut declared = BTreeSet::new();
    for file in &files {
        for id in contract_ids("## ", &fs::read_to_string(file).unwrap()) {
            assert!(
                declared.insert(id.clone()),
                "contract id {id} declared twice ({})",
                file.display()
            );
        }
    }
    assert!(!declared.is_empty(), "contracts/ declares no rules");
    let mut cited = BTreeSet::new();
    for file in rust_files(&["core", "sim", "engines", "src", "tests", "air"]) {
        let text = fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            if let Some((_, rest)) = line.split_once("// contract:") {
                for id in contract_ids("", rest)
                    .into_iter()
                    .chain(rest.split(',').flat_map(|p| contract_ids("", p)))
                {
                    assert!(
                        declared.contains(&id),
                        "{} cites unknown contract {id}",
                        file.display()
                    );
                    cited.insert(id);
                }
            }
        }
    }
    let uncited: Vec<_> = declared.difference(&cited).collect();
    assert!(uncited.is_empty(), "contracts no test cites: {uncited:?}");
}

/// The allowed arrows between the shell's top-level modules, read from ARCHITECTURE.md.
fn allowed_module_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## Module dependencies")
        .nth(1)
        .expect("ARCHITECTURE.md has a Module dependencies section");
    let mut table = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (module, uses) = (cells[1], cells[2]);
        if !module.starts_with('`') {
            continue; // the header and its rule
        }
        let names = |s: &str| -> BTreeSet<String> {
            s.split(',')
                .map(|n| n.trim().trim_matches('`').to_string())
                .filter(|n| !n.is_empty() && n != "—")
                .collect()
        };
        table.insert(module.trim_matches('`').to_string(), names(uses));
    }
    table
}

#[test]
fn module_arrows_are_the_ones_architecture_allows() {
    let allowed = allowed_module_arrows();
    assert!(allowed.len() > 5, "the table was read: {allowed:?}");
    let src = root().join("src");
    let mut files = Vec::new();
    files_under(&src, "rs", &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        if first == "bin" || first == "lib.rs" || first == "main.rs" {
            continue;
        }
        let module = first.trim_end_matches(".rs").to_string();
        let Some(may_use) = allowed.get(&module) else {
            problems.push(format!(
                "module {module} is missing from ARCHITECTURE.md's table"
            ));
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let used: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if used != module && !used.is_empty() && !may_use.contains(&used) {
                    problems.push(format!(
                        "{}:{}: {module} uses {used}, which ARCHITECTURE.md does not allow",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_dependency_is_used() {
    // Each crate's `[dependencies]` must each be named in that crate's own code (sources, and
    // for the root crate its binaries, benches and tests too); `[dev-dependencies]` in its tests
    // or benches. An unused one only costs build time.
    let crates: [(&str, &[&str], &[&str]); 5] = [
        ("Cargo.toml", &["src"], &["tests", "benches", "src"]),
        ("air/Cargo.toml", &["air/src"], &["air/tests", "air/src"]),
        (
            "core/Cargo.toml",
            &["core/src"],
            &["core/tests", "core/src"],
        ),
        ("sim/Cargo.toml", &["sim/src"], &["sim/tests", "sim/src"]),
        ("engines/Cargo.toml", &["engines/src"], &["engines/src"]),
    ];
    let mut unused = Vec::new();
    for (manifest, code, dev_code) in crates {
        let text = fs::read_to_string(root().join(manifest)).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        for (table, dirs) in [("dependencies", code), ("dev-dependencies", dev_code)] {
            let Some(deps) = value.get(table).and_then(|d| d.as_table()) else {
                continue;
            };
            let sources: String = rust_files(dirs)
                .iter()
                .map(|f| fs::read_to_string(f).unwrap())
                .collect();
            for name in deps.keys() {
                let ident = name.replace('-', "_");
                let used = [
                    format!("{ident}::"),
                    format!("use {ident}"),
                    format!("extern crate {ident}"),
                    format!("{ident}!"),
                ]
                .iter()
                .any(|needle| sources.contains(needle.as_str()));
                if !used {
                    unused.push(format!("{manifest} [{table}] {name}"));
                }
            }
        }
    }
    assert!(
        unused.is_empty(),
        "unused dependencies:\n{}",
        unused.join("\n")
    );
}

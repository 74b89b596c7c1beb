//! The layer rules of CONTRIBUTING.md, checked on the source: `domain/` and
//! `service/` name no web framework, no SQL driver and no sockets; `http/`
//! does not reach into `storage/`. A change that needs one of these arrows
//! is probably in the wrong layer.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            found.push(path);
        }
    }
    found
}

/// The code of a line, without its comment (`//`, `///` or `//!` at its start
/// or after a space; a `://` in a URL is code).
fn code(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") {
        return "";
    }
    match line.find(" //") {
        Some(at) => &line[..at],
        None => line,
    }
}

/// `(file:line, text)` of every line of code under `src/<layer>` naming one of `forbidden`.
fn offences(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(layer);
    let mut found = Vec::new();
    for file in sources(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = code(line);
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_domain_and_the_services_know_no_http_sql_or_sockets() {
    for layer in ["domain", "service"] {
        let found = offences(layer, &["axum", "sqlx", "tokio::net", "hyper"]);
        assert!(found.is_empty(), "src/{layer} must not use axum, sqlx or sockets:\n{}", found.join("\n"));
    }
}

#[test]
fn the_handlers_do_not_reach_into_storage() {
    let found = offences("http", &["crate::storage", "storage::"]);
    assert!(found.is_empty(), "src/http must go through the services, not storage:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_code_and_not_comments() {
    assert_eq!(code("use crate::storage::Store;"), "use crate::storage::Store;");
    assert_eq!(code("    // see storage::droppable"), "");
    assert_eq!(code("let x = 1; // storage::droppable"), "let x = 1;");
    assert_eq!(code(r#"let u = "https://example.org";"#), r#"let u = "https://example.org";"#);
}

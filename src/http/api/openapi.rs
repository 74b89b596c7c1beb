//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON API
//! and the standard OAuth endpoints. It is a file kept beside this one
//! (`openapi.json`) rather than generated from annotations, so that handlers
//! and wire types stay free of documentation attributes; the tests below
//! keep it honest: every route of the routers is described, and nothing
//! else. `tests/it/openapi.rs` checks the answers of a live server against it.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::AppState;

pub const DOCUMENT: &str = include_str!("openapi.json");

/// The session cookie is named after the site, so the description names
/// this server's.
pub async fn get(State(state): State<AppState>) -> Response {
    let doc = DOCUMENT.replace("\"Tachi_SESSION\"", &format!("\"{}\"", state.web.cookie_name));
    let mut res = doc.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    const METHODS: [&str; 9] = ["get", "head", "delete", "options", "patch", "post", "put", "trace", "connect"];

    /// `(method, path)` of every operation the description has, its path
    /// parameters' names left out (`/users/{}`): the routers name them for
    /// the handlers (`user_id`), the description for the caller (`userID`).
    fn described() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                assert!(METHODS.contains(&method.as_str()), "{path}: '{method}' is not a method");
                ops.insert((method.clone(), unnamed(path)));
            }
        }
        ops
    }

    fn unnamed(path: &str) -> String {
        let mut out = String::with_capacity(path.len());
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => {
                    in_param = true;
                    out.push_str("{}");
                }
                '}' => in_param = false,
                _ if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// `(method, path)` of every handler of a router. axum has no public way
    /// to list a router's routes, so this reads its `Debug` form:
    /// `path_router: … RouteId(n): MethodRouter(MethodRouter { get: BoxedHandler,
    /// head: None, … })` for each route, and `RouteId(n): "/path"` for each path. Should an
    /// axum upgrade change that form, the checks below fail; they do not pass
    /// empty-handed. A GET handler answers HEAD too, which the description
    /// leaves implicit.
    fn routed(router: &axum::Router<AppState>) -> BTreeSet<(String, String)> {
        let debug = format!("{router:?}");

        // The routes, not the fallback's (which has route ids of its own).
        let (debug, _) =
            debug.split_once("fallback_router:").unwrap_or_else(|| panic!("no fallback_router in {debug}"));
        let mut methods: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut paths: HashMap<&str, &str> = HashMap::new();
        for part in debug.split("RouteId(").skip(1) {
            let Some((id, rest)) = part.split_once("): ") else { continue };
            if let Some(fields) = rest.strip_prefix("MethodRouter(MethodRouter { ") {
                let set = METHODS
                    .iter()
                    .filter(|m| {
                        let field = format!("{m}: ");
                        let at = fields.find(&field).unwrap_or_else(|| panic!("no '{m}' in {fields}"));
                        !fields[at + field.len()..].starts_with("None")
                    })
                    .copied()
                    .collect();
                methods.insert(id, set);
            } else if let Some(quoted) = rest.strip_prefix('"') {
                paths.insert(id, quoted.split('"').next().unwrap_or_default());
            }
        }
        assert!(!paths.is_empty() && paths.len() == methods.len(), "cannot read the router's routes from: {debug}");
        let mut ops = BTreeSet::new();
        for (id, path) in paths {
            let set = methods.get(id).unwrap_or_else(|| panic!("no methods for {path} in {debug}"));
            assert!(!set.is_empty(), "{path} has no method in {debug}");
            for m in set {
                if *m == "head" && set.contains(&"get") {
                    continue;
                }
                ops.insert((m.to_string(), unnamed(path)));
            }
        }
        ops
    }

    /// What the description must cover: the JSON API, the standard OAuth
    /// endpoints, and the one of them that is a page (`/oauth/authorize`).
    fn must_describe() -> BTreeSet<(String, String)> {
        let mut ops = routed(&crate::http::api::router());
        ops.extend(routed(&crate::http::oauth::router()));
        let pages = routed(&crate::http::pages::router());
        let authorize = ("get".to_owned(), "/oauth/authorize".to_owned());
        assert!(pages.contains(&authorize), "the authorization endpoint moved: {pages:?}");
        ops.insert(authorize);
        ops
    }

    #[test]
    fn the_route_list_is_read_from_the_routers() {
        let ops = routed(&crate::http::api::router());
        assert!(ops.contains(&("get".into(), "/api/v1/status".into())), "{ops:?}");
        assert!(ops.contains(&("post".into(), "/api/v1/status".into())), "{ops:?}");
        assert!(ops.contains(&("delete".into(), "/api/v1/users/{}/api-tokens/{}".into())), "{ops:?}");
        assert!(!ops.contains(&("put".into(), "/api/v1/status".into())), "{ops:?}");
    }

    #[test]
    fn every_route_is_described() {
        let missing: Vec<_> = must_describe().difference(&described()).cloned().collect();
        assert!(missing.is_empty(), "routes missing from src/http/api/openapi.json: {missing:?}");
    }

    #[test]
    fn nothing_else_is_described() {
        let extra: Vec<_> = described().difference(&must_describe()).cloned().collect();
        assert!(extra.is_empty(), "src/http/api/openapi.json describes operations no router has: {extra:?}");
    }

    /// Every `$ref` points at something, and every operation says what it
    /// answers: a tool reading the file would stop at the first dangling one.
    #[test]
    fn the_description_is_whole() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        for r in refs {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("not a local $ref: {r}"));
            assert!(doc.pointer(pointer).is_some(), "dangling $ref: {r}");
        }
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            }
        }
    }

    fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r.to_owned());
                }
                m.values().for_each(|v| collect_refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}

//! Path mapping: turns a media server's file paths into paths this machine can open
//! (contract INGEST-008).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// One rule: a server path starting with `from` is read as `to` followed by the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMapping {
    pub from: String,
    pub to: String,
}

/// An ordered set of mappings; the longest matching `from` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMap {
    mappings: Vec<PathMapping>,
}

impl PathMap {
    /// Validates the rules: every `from` must be non-empty.
    pub fn new(mappings: Vec<PathMapping>) -> AppResult<PathMap> {
        if let Some(index) = mappings.iter().position(|m| m.from.trim().is_empty()) {
            return Err(AppError::bad(format!(
                "path mapping {}: `from` must not be empty",
                index + 1
            )));
        }
        Ok(PathMap { mappings })
    }

    /// Parses `FROM=TO` (the CLI's form); the first `=` separates the two.
    pub fn parse_rule(text: &str) -> AppResult<PathMapping> {
        let (from, to) = text
            .split_once('=')
            .ok_or_else(|| AppError::bad(format!("path mapping {text:?}: expected FROM=TO")))?;
        if from.trim().is_empty() {
            return Err(AppError::bad(format!(
                "path mapping {text:?}: FROM must not be empty"
            )));
        }
        Ok(PathMapping {
            from: from.to_string(),
            to: to.to_string(),
        })
    }

    pub fn mappings(&self) -> &[PathMapping] {
        &self.mappings
    }

    /// The local path for `server_path`; unchanged when no rule matches.
    pub fn map(&self, server_path: &str) -> PathBuf {
        let best = self
            .mappings
            .iter()
            .filter_map(|m| remainder_after(server_path, &m.from).map(|rest| (m, rest)))
            .max_by_key(|(m, _)| trimmed_from(&m.from).len());
        let Some((mapping, rest)) = best else {
            return PathBuf::from(server_path);
        };
        let rest = if mapping.from.contains('\\') {
            rest.replace('\\', "/")
        } else {
            rest.to_string()
        };
        let rest = rest.trim_start_matches('/');
        let to = mapping.to.trim_end_matches('/');
        if rest.is_empty() {
            PathBuf::from(if to.is_empty() { "/" } else { to })
        } else {
            PathBuf::from(format!("{to}/{rest}"))
        }
    }
}

fn trimmed_from(from: &str) -> &str {
    let trimmed = from.trim_end_matches(['/', '\\']);
    if trimmed.is_empty() {
        // `/` itself: keep one separator so it still matches absolute paths.
        &from[..1]
    } else {
        trimmed
    }
}

/// The rest of `path` after `from`, when `from` is a prefix ending at a component boundary.
fn remainder_after<'a>(path: &'a str, from: &str) -> Option<&'a str> {
    let from = trimmed_from(from);
    let rest = path.strip_prefix(from)?;
    let at_boundary =
        rest.is_empty() || rest.starts_with(['/', '\\']) || from.ends_with(['/', '\\']);
    at_boundary.then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rules: &[(&str, &str)]) -> PathMap {
        PathMap::new(
            rules
                .iter()
                .map(|(f, t)| PathMapping {
                    from: f.to_string(),
                    to: t.to_string(),
                })
                .collect(),
        )
        .unwrap()
    }

    // contract: INGEST-008
    #[test]
    fn longest_prefix_on_a_component_boundary_wins() {
        let rules = map(&[
            ("/data", "/mnt/a"),
            ("/data/tv", "/mnt/tv/"),
            ("/", "/root"),
        ]);
        assert_eq!(
            rules.map("/data/tv/Show/a.mkv"),
            PathBuf::from("/mnt/tv/Show/a.mkv")
        );
        assert_eq!(
            rules.map("/data/movies/b.mkv"),
            PathBuf::from("/mnt/a/movies/b.mkv")
        );
        assert_eq!(
            rules.map("/database/c.mkv"),
            PathBuf::from("/root/database/c.mkv")
        );
        assert_eq!(
            map(&[("/data", "/x")]).map("/database/c.mkv"),
            PathBuf::from("/database/c.mkv")
        );
        assert_eq!(
            map(&[("D:\\Media", "/mnt/media")]).map("D:\\Media\\TV\\a.mkv"),
            PathBuf::from("/mnt/media/TV/a.mkv")
        );
        assert!(PathMap::new(vec![PathMapping {
            from: " ".into(),
            to: "/x".into()
        }])
        .is_err());
        assert_eq!(PathMap::parse_rule("/a=/b=c").unwrap().to, "/b=c");
    }
}

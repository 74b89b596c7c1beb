//! The eight permissions an API key can carry, and sets of them.
//!
//! A set is a bitmask so that it is one integer column in storage and one
//! AND on the hot path; the wire formats (a list for clients, a `{perm: true}`
//! map for key documents) are produced only at the edges.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    SubmitScore,
    CustomiseProfile,
    CustomiseSession,
    CustomiseScore,
    DeleteScore,
    ManageRivals,
    ManageTargets,
    ManageChallenges,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::SubmitScore,
        Permission::CustomiseProfile,
        Permission::CustomiseSession,
        Permission::CustomiseScore,
        Permission::DeleteScore,
        Permission::ManageRivals,
        Permission::ManageTargets,
        Permission::ManageChallenges,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::SubmitScore => "submit_score",
            Permission::CustomiseProfile => "customise_profile",
            Permission::CustomiseSession => "customise_session",
            Permission::CustomiseScore => "customise_score",
            Permission::DeleteScore => "delete_score",
            Permission::ManageRivals => "manage_rivals",
            Permission::ManageTargets => "manage_targets",
            Permission::ManageChallenges => "manage_challenges",
        }
    }

    /// What the permission lets an application do, in words a player reads on
    /// the consent screen before approving.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::SubmitScore => "Submit scores to your profile",
            Permission::CustomiseProfile => "Change your profile's about text and status",
            Permission::CustomiseSession => "Rename and edit your play sessions",
            Permission::CustomiseScore => "Edit the comments and highlights of your scores",
            Permission::DeleteScore => "Delete your scores",
            Permission::ManageRivals => "Add and remove your rivals",
            Permission::ManageTargets => "Set and remove your goals and quests",
            Permission::ManageChallenges => "Create and answer challenges for you",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission '{0}' (known: submit_score, customise_profile, customise_session, customise_score, delete_score, manage_rivals, manage_targets, manage_challenges)"
)]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.chars().take(64).collect()))
    }
}

/// A set of permissions. Iteration is always in the canonical order above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u16);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// Storage form: a plain integer column.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// Reads the storage form, ignoring bits no permission has (a value
    /// written by a newer version must not grant anything unknown).
    pub fn from_bits(bits: i64) -> Self {
        PermissionSet((bits & 0xff) as u16)
    }

    /// Parses a list of permission names, refusing unknown names and duplicates
    /// (an OAuth `scope`, the dashboard's form; JSON bodies drop duplicates).
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Self, PermissionListError> {
        let mut set = PermissionSet::EMPTY;
        for name in names {
            let p: Permission = name.as_ref().parse().map_err(PermissionListError::Unknown)?;
            if set.contains(p) {
                return Err(PermissionListError::Duplicate(p));
            }
            set = set.with(p);
        }
        Ok(set)
    }

    /// Parses an OAuth `scope` parameter: space-separated names (RFC 6749 §3.3).
    pub fn parse_scope(scope: &str) -> Result<Self, PermissionListError> {
        let names: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        Self::parse_list(&names)
    }

    pub fn with(self, p: Permission) -> Self {
        PermissionSet(self.0 | p.bit())
    }

    /// The RFC 6749 `scope` form of the set.
    pub fn to_scope(self) -> String {
        self.iter().map(Permission::as_str).collect::<Vec<_>>().join(" ")
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter().fold(PermissionSet::EMPTY, PermissionSet::with)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionListError {
    #[error(transparent)]
    Unknown(UnknownPermission),
    #[error("permission '{0}' is listed twice")]
    Duplicate(Permission),
}

/// Serialized as a list of names, the form of a client's `requestedPermissions`.
impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Permission::as_str))
    }
}

/// Accepts both wire forms a caller may send: `["a", "b"]` or `{"a": true, "b": false}`;
/// unknown names are refused, a name listed twice counts once.
impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            List(Vec<String>),
            Map(std::collections::BTreeMap<String, bool>),
        }
        let names: Vec<String> = match Wire::deserialize(d)
            .map_err(|_| de::Error::custom("permissions must be a list of permission names or a {name: true} object"))?
        {
            Wire::List(v) => v,
            Wire::Map(m) => m.into_iter().filter(|(_, on)| *on).map(|(k, _)| k).collect(),
        };
        // Duplicates are dropped, as the original server's `DedupeArr` does.
        names.iter().map(|n| n.parse::<Permission>()).collect::<Result<PermissionSet, _>>().map_err(de::Error::custom)
    }
}

/// The key document's `{perm: true, ...}` form.
pub struct PermissionMap(pub PermissionSet);

impl Serialize for PermissionMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|p| (p.as_str(), true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_ignore_unknown_bits() {
        let set = PermissionSet::parse_list(&["delete_score", "submit_score"]).unwrap();
        assert_eq!(PermissionSet::from_bits(set.bits()), set);
        assert_eq!(PermissionSet::from_bits(set.bits() | 0x1_0000), set);
        assert_eq!(set.names(), vec!["submit_score", "delete_score"]);
    }

    #[test]
    fn lists_refuse_unknown_and_duplicate_names() {
        assert!(matches!(
            PermissionSet::parse_list(&["submit_score", "submit_score"]),
            Err(PermissionListError::Duplicate(Permission::SubmitScore))
        ));
        assert!(matches!(PermissionSet::parse_list(&["root"]), Err(PermissionListError::Unknown(_))));
    }

    #[test]
    fn scope_is_space_separated() {
        let set = PermissionSet::parse_scope("customise_profile  submit_score").unwrap();
        assert_eq!(set.to_scope(), "submit_score customise_profile");
        assert!(set.is_subset_of(PermissionSet::all()));
        assert!(!PermissionSet::all().is_subset_of(set));
    }

    #[test]
    fn deserializes_both_wire_forms() {
        let a: PermissionSet = serde_json::from_str(r#"["manage_rivals"]"#).unwrap();
        let b: PermissionSet = serde_json::from_str(r#"{"manage_rivals": true, "delete_score": false}"#).unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<PermissionSet>(r#"["nope"]"#).is_err());
        assert!(serde_json::from_str::<PermissionSet>("3").is_err());
        let deduped: PermissionSet = serde_json::from_str(r#"["manage_rivals", "manage_rivals"]"#).unwrap();
        assert_eq!(deduped, a);
    }
}

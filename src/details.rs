//! Parsing `description` into typed details.
//!
//! The platform usually writes a JSON object whose keys depend on the event. Parsing never
//! fails: plain text gives empty details, a value of the wrong type is treated as absent, unknown
//! keys are ignored (they stay in the raw text), and broken JSON gives empty details, as it
//! does to the SQL that filters by description keys.

use async_graphql::Enum;
use serde_json::{Map, Value};

/// Who acted: an ordinary user or an administrator.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserType {
    /// An ordinary user.
    Normal,
    /// A site administrator.
    Admin,
}

/// How a user authenticated at login (or how an account was created).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    /// LDAP directory.
    Ldap,
    /// SAML identity provider.
    Saml,
    /// The platform's own password.
    Local,
}

impl AuthMethod {
    /// The name reported in login statistics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ldap => "LDAP",
            Self::Saml => "SAML",
            Self::Local => "LOCAL",
        }
    }
}

/// The sharing options of sessions and jobs.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SharingStatus {
    /// "All anonymous users with the link".
    AnonymousLink,
    /// "All authenticated users with the link".
    AuthenticatedLink,
    /// "Specific users and teams".
    SpecificUsersAndTeams,
}

impl SharingStatus {
    /// Every status with the product's option text and the enum name.
    const TEXTS: [(SharingStatus, &'static str, &'static str); 3] = [
        (
            Self::AnonymousLink,
            "All anonymous users with the link",
            "ANONYMOUS_LINK",
        ),
        (
            Self::AuthenticatedLink,
            "All authenticated users with the link",
            "AUTHENTICATED_LINK",
        ),
        (
            Self::SpecificUsersAndTeams,
            "Specific users and teams",
            "SPECIFIC_USERS_AND_TEAMS",
        ),
    ];

    /// Reads the product's option text or the enum name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::TEXTS
            .iter()
            .find(|(_, option, name)| {
                option.eq_ignore_ascii_case(text) || name.eq_ignore_ascii_case(text)
            })
            .map(|(status, _, _)| *status)
    }

    /// How the platform may write this status: the option text and the enum name.
    pub fn spellings(self) -> [&'static str; 2] {
        Self::TEXTS
            .iter()
            .find(|(status, _, _)| *status == self)
            .map_or(["", ""], |(_, option, name)| [option, name])
    }

    /// The product's option text, as the platform writes it.
    pub fn option_text(self) -> &'static str {
        Self::TEXTS
            .iter()
            .find(|(status, _, _)| *status == self)
            .map_or("", |(_, option, _)| option)
    }
}

/// Resource usage reported by launches and runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceUsage {
    /// vCPUs.
    pub cpu: Option<f64>,
    /// Memory in GiB.
    pub memory_gib: Option<f64>,
    /// GPUs.
    pub gpu: Option<i64>,
}

/// A sharing-status change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharingChange {
    /// The status before the change.
    pub from: Option<SharingStatus>,
    /// The status after the change.
    pub to: Option<SharingStatus>,
}

/// A referenced object: an id and a name, either of which may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's id (integers are given as their decimal text).
    pub id: Option<String>,
    /// The object's name.
    pub name: Option<String>,
}

/// Everything the server reads from a description.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Details {
    /// `username`.
    pub username: Option<String>,
    /// `user_type`.
    pub user_type: Option<UserType>,
    /// `cpu`, `memory`, `gpu`; present when any of them is.
    pub resource_usage: Option<ResourceUsage>,
    /// `from`, `to`; present when either is.
    pub sharing: Option<SharingChange>,
    /// `auth_method`.
    pub auth_method: Option<AuthMethod>,
    /// `banned`.
    pub banned: Option<bool>,
    /// `session_id`.
    pub session_id: Option<String>,
    /// `job_id`.
    pub job_id: Option<String>,
    /// `run_id`.
    pub run_id: Option<String>,
    /// `model_id`, `model_name`.
    pub model: Option<ObjectRef>,
    /// `project_id`, `project`.
    pub project: Option<ObjectRef>,
    /// `target_username`.
    pub target_username: Option<String>,
    /// `team`.
    pub team: Option<String>,
    /// `file`.
    pub file: Option<String>,
    /// `target`.
    pub target: Option<String>,
    /// `setting`.
    pub setting: Option<String>,
    /// `license_id`.
    pub license_id: Option<String>,
}

impl Details {
    /// Parses a description. Never fails; see the module documentation.
    pub fn parse(description: &str) -> Details {
        let object = match serde_json::from_str::<Value>(description) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Details::default(),
            // Broken JSON reads as nothing, exactly as the SQL filters on description keys
            // (`usernames`) see it, so that details and filters always agree.
            Err(_) => return Details::default(),
        };
        Details::from_object(&object)
    }

    fn from_object(o: &Map<String, Value>) -> Details {
        let resource_usage = ResourceUsage {
            cpu: number(o, "cpu"),
            memory_gib: number(o, "memory"),
            gpu: integer(o, "gpu"),
        };
        let has_usage = resource_usage != ResourceUsage::default();
        let sharing = SharingChange {
            from: string(o, "from").and_then(|s| SharingStatus::parse(&s)),
            to: string(o, "to").and_then(|s| SharingStatus::parse(&s)),
        };
        let has_sharing = sharing != SharingChange::default();
        let model = ObjectRef {
            id: id(o, "model_id"),
            name: string(o, "model_name"),
        };
        let project = ObjectRef {
            id: id(o, "project_id"),
            name: string(o, "project"),
        };
        Details {
            username: string(o, "username"),
            user_type: string(o, "user_type").and_then(|s| match s.to_ascii_uppercase().as_str() {
                "NORMAL" => Some(UserType::Normal),
                "ADMIN" => Some(UserType::Admin),
                _ => None,
            }),
            resource_usage: has_usage.then_some(resource_usage),
            sharing: has_sharing.then_some(sharing),
            auth_method: string(o, "auth_method").and_then(|s| parse_auth_method(&s)),
            banned: o.get("banned").and_then(Value::as_bool),
            session_id: id(o, "session_id"),
            job_id: id(o, "job_id"),
            run_id: id(o, "run_id"),
            model: (model != ObjectRef::default()).then_some(model),
            project: (project != ObjectRef::default()).then_some(project),
            target_username: string(o, "target_username"),
            team: id(o, "team"),
            file: id(o, "file"),
            target: id(o, "target"),
            setting: id(o, "setting"),
            license_id: id(o, "license_id"),
        }
    }
}

/// Reads `LDAP`, `SAML` or `local` in any case.
pub fn parse_auth_method(text: &str) -> Option<AuthMethod> {
    match text.trim().to_ascii_uppercase().as_str() {
        "LDAP" => Some(AuthMethod::Ldap),
        "SAML" => Some(AuthMethod::Saml),
        "LOCAL" => Some(AuthMethod::Local),
        _ => None,
    }
}

fn string(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn number(o: &Map<String, Value>, key: &str) -> Option<f64> {
    o.get(key).and_then(Value::as_f64).filter(|v| v.is_finite())
}

fn integer(o: &Map<String, Value>, key: &str) -> Option<i64> {
    let value = o.get(key)?;
    value.as_i64().or_else(|| {
        // 2.0 is an integer written as a float; 2.5 is not.
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

/// An identifier that the platform writes as an integer or a string.
fn id(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_object_gives_every_typed_field() {
        let d = Details::parse(
            r#"{"username":"ana","user_type":"admin","cpu":2,"memory":4.5,"gpu":1,
                "auth_method":"local","session_id":17,"from":"Specific users and teams",
                "to":"ANONYMOUS_LINK","model_id":"m-1","model_name":"churn","banned":true}"#,
        );
        assert_eq!(d.username.as_deref(), Some("ana"));
        assert_eq!(d.user_type, Some(UserType::Admin));
        let usage = d.resource_usage.expect("usage");
        assert_eq!(
            (usage.cpu, usage.memory_gib, usage.gpu),
            (Some(2.0), Some(4.5), Some(1))
        );
        assert_eq!(d.auth_method, Some(AuthMethod::Local));
        assert_eq!(d.session_id.as_deref(), Some("17"));
        let sharing = d.sharing.expect("sharing");
        assert_eq!(sharing.from, Some(SharingStatus::SpecificUsersAndTeams));
        assert_eq!(sharing.to, Some(SharingStatus::AnonymousLink));
        assert_eq!(d.model.and_then(|m| m.name).as_deref(), Some("churn"));
        assert_eq!(d.banned, Some(true));
    }

    #[test]
    fn wrong_types_are_absent_and_plain_text_is_empty() {
        let d = Details::parse(r#"{"username":5,"cpu":"2","gpu":1.5,"banned":"yes"}"#);
        assert_eq!(d, Details::default());
        assert_eq!(
            Details::parse("engine culled after idle timeout"),
            Details::default()
        );
        assert_eq!(Details::parse("[1,2,3]"), Details::default());
        assert_eq!(Details::parse(""), Details::default());
    }

    #[test]
    fn broken_json_gives_empty_details() {
        let d = Details::parse(r#"{"username": "bo", "user_type": "NORMAL", "cpu": 1.5, "mem"#);
        assert_eq!(d, Details::default());
    }
}

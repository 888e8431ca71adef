//! `EventDetails`: the typed fields read from a description.

use async_graphql::{Object, SimpleObject};

use crate::details::{AuthMethod, Details, ObjectRef, SharingStatus, UserType};

/// What a description says, read into typed fields; absent keys are null.
pub struct EventDetails(pub Details);

/// Resource usage reported by launches and runs.
#[derive(SimpleObject)]
pub struct ResourceUsage {
    /// Virtual CPUs (`cpu` in the description).
    cpu: Option<f64>,
    /// Memory in GiB.
    memory_gib: Option<f64>,
    /// GPUs.
    gpu: Option<i64>,
}

/// A sharing-status change.
#[derive(SimpleObject)]
pub struct SharingDetails {
    /// The status before.
    from: Option<SharingStatus>,
    /// The status after.
    to: Option<SharingStatus>,
}

/// A model or project: an id and a name.
#[derive(SimpleObject)]
pub struct ObjectReference {
    /// The id (integers as their decimal text).
    id: Option<String>,
    /// The name.
    name: Option<String>,
}

impl From<&ObjectRef> for ObjectReference {
    fn from(r: &ObjectRef) -> Self {
        ObjectReference {
            id: r.id.clone(),
            name: r.name.clone(),
        }
    }
}

/// What a description says, read into typed fields; absent keys are null.
#[Object]
impl EventDetails {
    /// `username`: who acted.
    async fn username(&self) -> Option<&str> {
        self.0.username.as_deref()
    }
    /// `user_type`: NORMAL or ADMIN.
    async fn user_type(&self) -> Option<UserType> {
        self.0.user_type
    }
    /// `cpu`, `memory`, `gpu`, on the events that report usage.
    async fn resource_usage(&self) -> Option<ResourceUsage> {
        self.0.resource_usage.as_ref().map(|u| ResourceUsage {
            cpu: u.cpu,
            memory_gib: u.memory_gib,
            gpu: u.gpu,
        })
    }
    /// `from`, `to`, on sharing-status changes.
    async fn sharing(&self) -> Option<SharingDetails> {
        self.0.sharing.as_ref().map(|s| SharingDetails {
            from: s.from,
            to: s.to,
        })
    }
    /// `auth_method`, on logins and LDAP/SAML account creation.
    async fn auth_method(&self) -> Option<AuthMethod> {
        self.0.auth_method
    }
    /// `banned`, on `update user`: true when the account was deactivated.
    async fn banned(&self) -> Option<bool> {
        self.0.banned
    }
    /// `session_id`.
    async fn session_id(&self) -> Option<&str> {
        self.0.session_id.as_deref()
    }
    /// `job_id`.
    async fn job_id(&self) -> Option<&str> {
        self.0.job_id.as_deref()
    }
    /// `run_id`.
    async fn run_id(&self) -> Option<&str> {
        self.0.run_id.as_deref()
    }
    /// `model_id`, `model_name`.
    async fn model(&self) -> Option<ObjectReference> {
        self.0.model.as_ref().map(ObjectReference::from)
    }
    /// `project_id`, `project`.
    async fn project(&self) -> Option<ObjectReference> {
        self.0.project.as_ref().map(ObjectReference::from)
    }
    /// `target_username`: the account acted on.
    async fn target_username(&self) -> Option<&str> {
        self.0.target_username.as_deref()
    }
    /// `team`.
    async fn team(&self) -> Option<&str> {
        self.0.team.as_deref()
    }
    /// `file`.
    async fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }
    /// `target`.
    async fn target(&self) -> Option<&str> {
        self.0.target.as_deref()
    }
    /// `setting`: the Admin Settings entry changed.
    async fn setting(&self) -> Option<&str> {
        self.0.setting.as_deref()
    }
    /// `license_id`.
    async fn license_id(&self) -> Option<&str> {
        self.0.license_id.as_deref()
    }
}

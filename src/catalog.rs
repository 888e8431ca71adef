//! The event catalog: every tracked event's name, kind, category and documentation, in one table.
//!
//! The `EventKind` enum, the category of every name (and so the SQL that filters by category),
//! and the `eventCatalog` query all derive from the single `catalog!` table below, transcribed
//! from the product documentation of the tracked user events. A name the table does not list is
//! served as kind `Unknown`, category `Other`.

use async_graphql::Enum;

/// The product's event categories, as the documentation groups the events.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventCategory {
    /// Engine environment, mounts and profiles.
    Engines,
    /// Experiment runs.
    Experiments,
    /// Files and directories of projects.
    Files,
    /// Deployed models.
    Models,
    /// Jobs and their sharing.
    Jobs,
    /// Licenses.
    Licenses,
    /// Projects and their collaborators.
    Projects,
    /// Interactive sessions and their sharing.
    Sessions,
    /// The Admin Settings page.
    AdminSettings,
    /// Teams and their members.
    Teams,
    /// Accounts, logins and passwords.
    Users,
    /// Event names the catalog does not list.
    Other,
}

impl EventCategory {
    /// Every category, in the documentation's order.
    pub const ALL: [EventCategory; 12] = [
        Self::Engines,
        Self::Experiments,
        Self::Files,
        Self::Models,
        Self::Jobs,
        Self::Licenses,
        Self::Projects,
        Self::Sessions,
        Self::AdminSettings,
        Self::Teams,
        Self::Users,
        Self::Other,
    ];

    /// The GraphQL name (`ADMIN_SETTINGS`), also used where text order breaks ties.
    pub fn name(self) -> &'static str {
        match self {
            Self::Engines => "ENGINES",
            Self::Experiments => "EXPERIMENTS",
            Self::Files => "FILES",
            Self::Models => "MODELS",
            Self::Jobs => "JOBS",
            Self::Licenses => "LICENSES",
            Self::Projects => "PROJECTS",
            Self::Sessions => "SESSIONS",
            Self::AdminSettings => "ADMIN_SETTINGS",
            Self::Teams => "TEAMS",
            Self::Users => "USERS",
            Self::Other => "OTHER",
        }
    }

    /// Parses a category by its GraphQL name, in any case (`sessions`, `Admin_Settings`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
    }

    /// The event names of this category (none for `Other`, which is "every unlisted name").
    pub fn event_names(self) -> impl Iterator<Item = &'static str> {
        CATALOG
            .iter()
            .filter(move |e| e.category == self)
            .map(|e| e.name)
    }
}

/// One tracked event as the documentation describes it.
#[derive(Clone, Copy, Debug)]
pub struct EventType {
    /// The enum value for this name.
    pub kind: EventKind,
    /// The exact `event_name` the platform writes.
    pub name: &'static str,
    /// The documentation's category.
    pub category: EventCategory,
    /// The documentation's text for the event; empty where it has none.
    pub documentation: &'static str,
    /// Whether the event reports resource usage (cpu, memory, gpu) in its description.
    pub reports_resource_usage: bool,
}

macro_rules! catalog {
    ($( $category:ident { $( $kind:ident = $name:literal, $usage:literal, $doc:expr; )* } )*) => {
        /// One value per tracked event name, plus `Unknown` for names the catalog does not list.
        #[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(
                #[doc = $name]
                $kind,
            )*)*
            /// An event name that the catalog does not list.
            Unknown,
        }

        /// The catalog, in the documentation's order.
        pub const CATALOG: &[EventType] = &[
            $($(
                EventType {
                    kind: EventKind::$kind,
                    name: $name,
                    category: EventCategory::$category,
                    documentation: $doc,
                    reports_resource_usage: $usage,
                },
            )*)*
        ];

        impl EventKind {
            /// The kind of an `event_name` as the platform writes it.
            pub fn from_name(name: &str) -> EventKind {
                match name {
                    $($( $name => EventKind::$kind, )*)*
                    _ => EventKind::Unknown,
                }
            }
        }
    };
}

catalog! {
    Engines {
        EngineEnvironmentVarsUpdated = "engine environment vars updated", false, "";
        EngineMountCreated = "engine mount created", false, "";
        EngineMountDeleted = "engine mount deleted", false, "";
        EngineMountUpdated = "engine mount updated", false, "";
        EngineProfileCreated = "engine profile created", false, "";
        EngineProfileDeleted = "engine profile deleted", false, "";
        EngineProfileUpdated = "engine profile updated", false, "";
    }
    Experiments {
        ExperimentRunCreated = "experiment run created", true, "Starting with version 1.6.1, this event also captures resource usage (cpu, memory, gpu) per experiment.";
        ExperimentRunRepeated = "experiment run repeated", true, "Starting with version 1.6.1, this event also captures resource usage (cpu, memory, gpu) per experiment.";
        ExperimentRunCancelled = "experiment run cancelled", false, "";
    }
    Files {
        FileDownloaded = "file downloaded", false, "";
        FileUpdated = "file updated", false, "";
        FileDeleted = "file deleted", false, "";
        FileCopied = "file copied", false, "";
        FileRenamed = "file renamed", false, "";
        FileLinked = "file linked", false, "The logged event indicates when a symlink is created for a file or directory.";
        DirectoryUploaded = "directory uploaded", false, "";
    }
    Models {
        ModelCreated = "model created", true, "Starting with version 1.6.1, this event also captures resource usage (cpu, memory, gpu) per model created.";
        ModelDeleted = "model deleted", false, "";
    }
    Jobs {
        JobCreated = "job created", false, "";
        JobStarted = "job started", true, "Starting with version 1.6.1, this event also captures resource usage (cpu, memory, gpu) per job started.";
        StoppedAllRunsForJob = "stopped all runs for job", false, "";
        JobSharedWithUser = "job shared with user", false, "";
        JobUnsharedWithUser = "job unshared with user", false, "";
        JobSharingUpdated = "job sharing updated", false, "The logged event indicates when the sharing status for a job is changed from one of the following options to another: All anonymous users with the link; All authenticated users with the link; Specific users and teams.";
    }
    Licenses {
        LicenseCreated = "license created", false, "";
        LicenseDeleted = "license deleted", false, "";
    }
    Projects {
        ProjectCreated = "project created", false, "";
        ProjectUpdated = "project updated", false, "";
        ProjectDeleted = "project deleted", false, "";
        CollaboratorAdded = "collaborator added", false, "";
        CollaboratorRemoved = "collaborator removed", false, "";
        CollaboratorInvited = "collaborator invited", false, "";
    }
    Sessions {
        SessionLaunched = "session launched", true, "Starting with version 1.6.1, this event also captures resource usage (cpu, memory, gpu) per session launched.";
        SessionTerminated = "session terminated", false, "";
        SessionStopped = "session stopped", false, "";
        SessionSharedWithUser = "session shared with user", false, "";
        SessionUnsharedWithUser = "session unshared with user", false, "";
        UpdateSessionSharingStatus = "update session sharing status", false, "The logged event indicates when the sharing status for a session is changed from one of the following options to another: All anonymous users with the link; All authenticated users with the link; Specific users and teams.";
    }
    AdminSettings {
        SiteConfigUpdated = "site config updated", false, "The logged event indicates when a setting on the Admin Settings page is changed.";
    }
    Teams {
        AddMemberToTeam = "add member to team", false, "";
        DeleteTeamMember = "delete team member", false, "";
        UpdateTeamMember = "update team member", false, "";
    }
    Users {
        ForgotPassword = "forgot password", false, "";
        PasswordReset = "password reset", false, "";
        UpdateUser = "update user", false, "If the logged event shows that a user is banned, that means that the user account has been deactivated and does not count toward the license.";
        UserSignup = "user signup", false, "";
        UserLogin = "user login", false, "The logged event includes the authorization method, LDAP/SAML or local.";
        UserLogout = "user logout", false, "";
        LdapSamlUserCreation = "ldap/saml user creation", false, "The logged event indicates when a user is created with LDAP or SAML.";
    }
}

impl EventKind {
    /// The catalog entry of this kind; `None` for `Unknown`.
    pub fn entry(self) -> Option<&'static EventType> {
        CATALOG.iter().find(|e| e.kind == self)
    }

    /// The category of this kind (`Other` for `Unknown`).
    pub fn category(self) -> EventCategory {
        self.entry().map_or(EventCategory::Other, |e| e.category)
    }

    /// The enum value's name: the event name's words in SCREAMING_SNAKE_CASE
    /// (`ldap/saml user creation` -> `LDAP_SAML_USER_CREATION`), `UNKNOWN` for `Unknown`.
    pub fn name(self) -> String {
        match self.event_name() {
            Some(name) => name
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_ascii_uppercase)
                .collect::<Vec<_>>()
                .join("_"),
            None => "UNKNOWN".into(),
        }
    }

    /// The exact event name; `None` for `Unknown`.
    pub fn event_name(self) -> Option<&'static str> {
        self.entry().map(|e| e.name)
    }
}

/// Every event name the catalog lists (what `Unknown` and `Other` are defined against).
pub fn known_names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|e| e.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_the_graphql_enum_names() {
        for kind in CATALOG.iter().map(|e| e.kind).chain([EventKind::Unknown]) {
            let graphql = match async_graphql::InputType::to_value(&kind) {
                async_graphql::Value::Enum(name) => name.to_string(),
                other => other.to_string(),
            };
            assert_eq!(kind.name(), graphql);
        }
        assert_eq!(
            EventKind::LdapSamlUserCreation.name(),
            "LDAP_SAML_USER_CREATION"
        );
    }
}

//! Realistic, deterministic synthetic events for trying the server out.
//!
//! About 2,000 users (a few administrators) with skewed activity, a year of history with busier
//! working hours, every event kind of the catalog and every description key the server reads:
//! resource usage, sharing changes, logins by LDAP, SAML and local accounts, bans, and internal
//! components on 127.0.0.1 with and without a user (a few with plain-text descriptions). The same
//! number of events and seed always give the same rows (ChaCha8 is portable across platforms).

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use indicatif::{ProgressBar, ProgressStyle};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::catalog::{CATALOG, EventKind};
use crate::details::SharingStatus;
use crate::store::{NewEventRow, Store, StoreError};

/// Events `serve --demo` loads into an empty database.
pub const DEMO_EVENTS: u64 = 100_000;
/// The default end of the demo's year of history.
pub const DEFAULT_UNTIL: &str = "2026-11-01T00:00:00Z";

/// What to generate.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// How many events.
    pub events: u64,
    /// The random seed.
    pub seed: u64,
    /// The end of the year of history (UTC).
    pub until: NaiveDateTime,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            events: DEMO_EVENTS,
            seed: 1,
            until: chrono::DateTime::parse_from_rfc3339(DEFAULT_UNTIL)
                .map(|t| t.naive_utc())
                .unwrap_or_default(),
        }
    }
}

/// Rows per insert transaction while loading.
const LOAD_CHUNK: usize = 5_000;

/// Generates and inserts the events, with a progress bar on a terminal.
pub async fn load(store: &Store, options: &DemoOptions) -> Result<u64, StoreError> {
    let progress = ProgressBar::new(options.events);
    progress.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    progress.set_message("demo data");
    let mut generator = Generator::new(options);
    let mut inserted = 0;
    let mut chunk = Vec::with_capacity(LOAD_CHUNK);
    loop {
        chunk.clear();
        chunk.extend(generator.by_ref().take(LOAD_CHUNK));
        if chunk.is_empty() {
            break;
        }
        inserted += store.insert_events(&chunk).await?;
        progress.set_position(inserted);
    }
    progress.finish_and_clear();
    Ok(inserted)
}

struct User {
    id: Uuid,
    username: String,
    admin: bool,
    auth: &'static str,
    agent: &'static str,
    ip: String,
    projects: Vec<(u32, String)>,
}

/// An endless-until-`events` iterator of demo rows in time order.
pub struct Generator {
    rng: ChaCha8Rng,
    total: u64,
    produced: u64,
    now: NaiveDateTime,
    start: NaiveDateTime,
    /// Cumulative activity at the end of each hour of the year.
    cumulative: Vec<f64>,
    users: Vec<User>,
    /// Weighted picks; `None` (weights that cannot be used) falls back to the first entry, like
    /// the agent and auth picks.
    user_pick: Option<WeightedIndex<f64>>,
    event_pick: Option<WeightedIndex<f64>>,
    kinds: Vec<EventKind>,
    next_id: u32,
    sharing: HashMap<(bool, u32), SharingStatus>,
    sessions: Vec<u32>,
    jobs: Vec<u32>,
}

const FIRST: &[&str] = &[
    "ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kofi", "lena",
    "mateo", "nora", "omar", "priya", "quinn", "rosa", "sven", "tara", "uma", "viktor", "wen",
    "yara", "zane",
];
const LAST: &[&str] = &[
    "adams", "bauer", "costa", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
    "kim", "lopez", "moreau", "nakamura", "okafor", "patel", "rossi", "silva", "tanaka", "weber",
];
const AGENTS: &[(&str, f64)] = &[
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.103 Safari/537.36",
        1.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        5.0,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        3.0,
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        2.0,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        1.5,
    ),
    ("python-requests/2.32.3", 1.0),
    ("cdsw-cli/1.10.2", 0.5),
];
const INTERNAL_AGENT: &str = "cdsw-internal/1.10.2 (scheduler)";
const AUTH: &[(&str, f64)] = &[("LDAP", 55.0), ("SAML", 30.0), ("local", 15.0)];
const SETTINGS: &[&str] = &[
    "session_timeout",
    "max_engine_cpu",
    "allow_public_sharing",
    "smtp_host",
    "default_engine_image",
];
const TEAMS: &[&str] = &[
    "data-platform",
    "fraud",
    "marketing-analytics",
    "research",
    "risk",
];

/// Relative frequency of each event name in the demo (every catalog entry appears).
fn weight(name: &str) -> f64 {
    match name {
        "user login" => 9.0,
        "user logout" => 6.0,
        "session launched" => 10.0,
        "session stopped" => 6.0,
        "session terminated" => 2.5,
        "file updated" => 8.0,
        "file downloaded" => 6.0,
        "job started" => 6.0,
        "experiment run created" => 4.0,
        "project updated" => 2.0,
        "job created" => 2.0,
        "experiment run repeated" => 1.5,
        "update session sharing status" => 1.2,
        "job sharing updated" => 0.8,
        "model created" | "project created" | "collaborator added" | "directory uploaded"
        | "file copied" | "file renamed" | "file deleted" => 1.0,
        "license created" | "license deleted" => 0.02,
        "site config updated" => 0.08,
        "update user" => 0.25,
        name if name.starts_with("engine ") => 0.15,
        _ => 0.4,
    }
}

impl Generator {
    /// A generator for these options.
    pub fn new(options: &DemoOptions) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let agent_pick = WeightedIndex::new(AGENTS.iter().map(|a| a.1)).ok();
        let auth_pick = WeightedIndex::new(AUTH.iter().map(|a| a.1)).ok();
        let mut users = Vec::with_capacity(2000);
        for i in 0..2000u32 {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes);
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let projects = (0..rng.random_range(1..5))
                .map(|p| {
                    (
                        i * 10 + p,
                        format!(
                            "{first}-{}",
                            ["churn", "forecast", "etl", "nlp", "vision"][rng.random_range(0..5)]
                        ),
                    )
                })
                .collect();
            users.push(User {
                id,
                username: format!("{first}.{last}{i}"),
                admin: i % 50 == 7,
                auth: auth_pick
                    .as_ref()
                    .map_or("LDAP", |p| AUTH[p.sample(&mut rng)].0),
                agent: agent_pick
                    .as_ref()
                    .map_or(AGENTS[0].0, |p| AGENTS[p.sample(&mut rng)].0),
                ip: format!(
                    "10.{}.{}.{}",
                    rng.random_range(0..8),
                    rng.random_range(0..256),
                    rng.random_range(1..255)
                ),
                projects,
            });
        }
        // Skewed activity: a few users act far more often than most.
        let user_pick =
            WeightedIndex::new((0..users.len()).map(|r| 1.0 / ((r + 1) as f64).powf(0.9))).ok();
        let kinds: Vec<EventKind> = CATALOG.iter().map(|e| e.kind).collect();
        let event_pick = WeightedIndex::new(CATALOG.iter().map(|e| weight(e.name))).ok();
        let start = options.until - Duration::days(365);
        let mut cumulative = Vec::with_capacity(365 * 24);
        let mut sum = 0.0;
        for hour in 0..365 * 24 {
            sum += intensity(start + Duration::hours(hour));
            cumulative.push(sum);
        }
        Generator {
            rng,
            total: options.events,
            produced: 0,
            now: start,
            start,
            cumulative,
            users,
            user_pick,
            event_pick,
            kinds,
            next_id: 1,
            sharing: HashMap::new(),
            sessions: Vec::new(),
            jobs: Vec::new(),
        }
    }

    /// Places the next event: event i falls at a random point of the i-th of `total` equal
    /// slices of the year's cumulative activity, so the run spans the year exactly, in order.
    fn advance(&mut self) {
        let total_activity = self.cumulative.last().copied().unwrap_or(1.0);
        let slice = (self.produced as f64 + self.rng.random::<f64>()) / self.total.max(1) as f64;
        let target = slice * total_activity;
        let hour = self.cumulative.partition_point(|c| *c < target);
        let before = if hour == 0 {
            0.0
        } else {
            self.cumulative[hour - 1]
        };
        let within = (self.cumulative.get(hour).copied().unwrap_or(total_activity) - before)
            .max(f64::MIN_POSITIVE);
        let seconds = ((target - before) / within * 3600.0).clamp(0.0, 3599.0);
        let at = self.start + Duration::hours(hour as i64) + Duration::seconds(seconds as i64);
        // Never step back in time (two events may share a second).
        self.now = at.max(self.now);
    }

    fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    fn recent(list: &[u32], rng: &mut ChaCha8Rng) -> Option<u32> {
        if list.is_empty() {
            None
        } else {
            let back = rng.random_range(0..list.len().min(50));
            list.get(list.len() - 1 - back).copied()
        }
    }

    fn usage(&mut self) -> Map<String, Value> {
        let mut m = Map::new();
        let cpu = [0.5, 1.0, 2.0, 4.0, 8.0][self.rng.random_range(0..5)];
        m.insert("cpu".into(), json!(cpu));
        m.insert(
            "memory".into(),
            json!(cpu * [2.0, 4.0][self.rng.random_range(0..2)]),
        );
        let gpu = if self.rng.random_bool(0.1) {
            self.rng.random_range(1..3)
        } else {
            0
        };
        m.insert("gpu".into(), json!(gpu));
        m
    }

    fn make(&mut self, index: u64) -> NewEventRow {
        // Every kind appears at least once, spread over the year; the rest follow the weights.
        let stride = (self.total / self.kinds.len() as u64).max(1);
        let forced = (index % stride == 0)
            .then(|| usize::try_from(index / stride).unwrap_or(usize::MAX))
            .and_then(|k| self.kinds.get(k).copied());
        let rng = &mut self.rng;
        let sampled = self.kinds[self.event_pick.as_ref().map_or(0, |p| p.sample(rng))];
        let kind = forced.unwrap_or(sampled);
        let name = kind.event_name().unwrap_or("user login");
        let rng = &mut self.rng;
        let mut user_index = self.user_pick.as_ref().map_or(0, |p| p.sample(rng));
        let admin_only = matches!(
            kind,
            EventKind::SiteConfigUpdated
                | EventKind::UpdateUser
                | EventKind::LicenseCreated
                | EventKind::LicenseDeleted
        ) || name.starts_with("engine ");
        if admin_only && !self.users[user_index].admin {
            user_index = 7 + 50 * self.rng.random_range(0..40);
        }
        let mut fields = Map::new();
        let mut internal = false;
        let mut plain_text = None;
        match kind {
            EventKind::UserLogin | EventKind::LdapSamlUserCreation => {
                let auth = self.users[user_index].auth;
                let auth = if kind == EventKind::LdapSamlUserCreation && auth == "local" {
                    "LDAP"
                } else {
                    auth
                };
                fields.insert("auth_method".into(), json!(auth));
            }
            EventKind::SessionLaunched => {
                let id = self.fresh_id();
                self.sessions.push(id);
                fields.insert("session_id".into(), json!(id));
                fields.insert(
                    "project_id".into(),
                    json!(self.users[user_index].projects[0].0),
                );
                fields.extend(self.usage());
            }
            EventKind::SessionStopped | EventKind::SessionTerminated => {
                let id = Self::recent(&self.sessions, &mut self.rng).unwrap_or(1);
                fields.insert("session_id".into(), json!(id));
                if self.rng.random_bool(0.25) {
                    // The idle culler: an internal component with no user.
                    internal = true;
                    if kind == EventKind::SessionTerminated && self.rng.random_bool(0.3) {
                        plain_text = Some(format!("session {id} terminated by the idle culler"));
                    }
                }
            }
            EventKind::SessionSharedWithUser | EventKind::SessionUnsharedWithUser => {
                fields.insert(
                    "session_id".into(),
                    json!(Self::recent(&self.sessions, &mut self.rng).unwrap_or(1)),
                );
                let other = &self.users[self.rng.random_range(0..self.users.len())];
                fields.insert("target_username".into(), json!(other.username));
            }
            EventKind::UpdateSessionSharingStatus | EventKind::JobSharingUpdated => {
                let session = kind == EventKind::UpdateSessionSharingStatus;
                let pool = if session { &self.sessions } else { &self.jobs };
                let id = Self::recent(pool, &mut self.rng).unwrap_or(1);
                let from = self
                    .sharing
                    .get(&(session, id))
                    .copied()
                    .unwrap_or(SharingStatus::SpecificUsersAndTeams);
                let to = loop {
                    let pick = [
                        SharingStatus::AnonymousLink,
                        SharingStatus::AuthenticatedLink,
                        SharingStatus::SpecificUsersAndTeams,
                    ][self.rng.random_range(0..3)];
                    if pick != from {
                        break pick;
                    }
                };
                self.sharing.insert((session, id), to);
                fields.insert(
                    if session { "session_id" } else { "job_id" }.into(),
                    json!(id),
                );
                fields.insert("from".into(), json!(from.option_text()));
                fields.insert("to".into(), json!(to.option_text()));
            }
            EventKind::JobCreated => {
                let id = self.fresh_id();
                self.jobs.push(id);
                fields.insert("job_id".into(), json!(id));
                fields.insert(
                    "project_id".into(),
                    json!(self.users[user_index].projects[0].0),
                );
            }
            EventKind::JobStarted => {
                let id = Self::recent(&self.jobs, &mut self.rng).unwrap_or(1);
                fields.insert("job_id".into(), json!(id));
                fields.insert("run_id".into(), json!(self.fresh_id()));
                fields.extend(self.usage());
                // Scheduled runs are started by the scheduler on the owner's behalf.
                internal = self.rng.random_bool(0.4);
            }
            EventKind::StoppedAllRunsForJob
            | EventKind::JobSharedWithUser
            | EventKind::JobUnsharedWithUser => {
                fields.insert(
                    "job_id".into(),
                    json!(Self::recent(&self.jobs, &mut self.rng).unwrap_or(1)),
                );
            }
            EventKind::ExperimentRunCreated
            | EventKind::ExperimentRunRepeated
            | EventKind::ExperimentRunCancelled => {
                fields.insert("run_id".into(), json!(format!("run-{}", self.fresh_id())));
                let (pid, _) = self.users[user_index].projects[0].clone();
                fields.insert("project_id".into(), json!(pid));
                if kind != EventKind::ExperimentRunCancelled {
                    fields.extend(self.usage());
                }
            }
            EventKind::ModelCreated | EventKind::ModelDeleted => {
                let id = self.fresh_id();
                fields.insert("model_id".into(), json!(id));
                fields.insert("model_name".into(), json!(format!("model-{id}")));
                if kind == EventKind::ModelCreated {
                    fields.extend(self.usage());
                }
            }
            EventKind::ProjectCreated
            | EventKind::ProjectUpdated
            | EventKind::ProjectDeleted
            | EventKind::CollaboratorAdded
            | EventKind::CollaboratorRemoved
            | EventKind::CollaboratorInvited => {
                let projects = &self.users[user_index].projects;
                let (pid, pname) = projects[self.rng.random_range(0..projects.len())].clone();
                fields.insert("project_id".into(), json!(pid));
                fields.insert("project".into(), json!(pname));
                if name.starts_with("collaborator") {
                    let other = &self.users[self.rng.random_range(0..self.users.len())];
                    fields.insert("target_username".into(), json!(other.username));
                }
            }
            EventKind::FileDownloaded
            | EventKind::FileUpdated
            | EventKind::FileDeleted
            | EventKind::FileCopied
            | EventKind::FileRenamed
            | EventKind::FileLinked
            | EventKind::DirectoryUploaded => {
                let (pid, _) = self.users[user_index].projects[0].clone();
                fields.insert("project_id".into(), json!(pid));
                let file = [
                    "analysis.ipynb",
                    "train.py",
                    "data/raw.csv",
                    "README.md",
                    "models/model.pkl",
                ][self.rng.random_range(0..5)];
                fields.insert("file".into(), json!(file));
            }
            EventKind::LicenseCreated | EventKind::LicenseDeleted => {
                fields.insert(
                    "license_id".into(),
                    json!(self.rng.random_range(1000..9999)),
                );
            }
            EventKind::SiteConfigUpdated => {
                fields.insert(
                    "setting".into(),
                    json!(SETTINGS[self.rng.random_range(0..SETTINGS.len())]),
                );
            }
            EventKind::AddMemberToTeam
            | EventKind::DeleteTeamMember
            | EventKind::UpdateTeamMember => {
                fields.insert(
                    "team".into(),
                    json!(TEAMS[self.rng.random_range(0..TEAMS.len())]),
                );
                let other = &self.users[self.rng.random_range(0..self.users.len())];
                fields.insert("target_username".into(), json!(other.username));
            }
            EventKind::UpdateUser => {
                let target = &self.users[self.rng.random_range(0..self.users.len())];
                fields.insert("target_username".into(), json!(target.username));
                fields.insert("banned".into(), json!(self.rng.random_bool(0.7)));
            }
            EventKind::EngineEnvironmentVarsUpdated
            | EventKind::EngineMountCreated
            | EventKind::EngineMountDeleted
            | EventKind::EngineMountUpdated
            | EventKind::EngineProfileCreated
            | EventKind::EngineProfileDeleted
            | EventKind::EngineProfileUpdated => {
                fields.insert(
                    "target".into(),
                    json!(format!("engine-profile-{}", self.rng.random_range(1..12))),
                );
            }
            _ => {}
        }
        let user = &self.users[user_index];
        // The culler acts alone; the scheduler acts for a user.
        let anonymous_component = internal && kind != EventKind::JobStarted;
        let mut description = Map::new();
        if !anonymous_component {
            description.insert("username".into(), json!(user.username));
            description.insert(
                "user_type".into(),
                json!(if user.admin { "ADMIN" } else { "NORMAL" }),
            );
        }
        description.extend(fields);
        NewEventRow {
            user_id: (!anonymous_component).then_some(user.id),
            ipaddr: if internal {
                "127.0.0.1".into()
            } else {
                user.ip.clone()
            },
            user_agent: if internal {
                INTERNAL_AGENT.into()
            } else {
                user.agent.into()
            },
            event_name: name.into(),
            description: plain_text.unwrap_or_else(|| Value::Object(description).to_string()),
            created_at: self.now.with_nanosecond(0).unwrap_or(self.now),
        }
    }
}

impl Iterator for Generator {
    type Item = NewEventRow;

    fn next(&mut self) -> Option<NewEventRow> {
        if self.produced == self.total {
            return None;
        }
        self.advance();
        let row = self.make(self.produced);
        self.produced += 1;
        Some(row)
    }
}

/// Busier on weekdays' working hours (UTC), quieter at night and at weekends.
fn intensity(at: NaiveDateTime) -> f64 {
    let weekend = at.weekday().number_from_monday() >= 6;
    let working = (8..18).contains(&at.hour());
    if working && !weekend { 1.6 } else { 0.4 }
}

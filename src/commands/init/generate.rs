//! The text of a `setup.toml` that describes a hand-made setup: the values read from the live
//! resources, a comment above each section naming the resource it came from, the notes (what
//! could not be copied, and why), and at the end the plan of `apply --adopt` as comments.

use std::collections::BTreeMap;
use std::path::Path;

use crate::commands::Report;
use crate::config::{self, Overrides};
use crate::config::{Billing, Isolation, KeyAttr};

/// The section of the file a note belongs above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Top,
    Table,
    UserPool,
    IdentityPool,
    Role,
    Policy,
    Groups,
}

/// The live table, as the config describes it.
#[derive(Debug, Clone)]
pub struct LiveTable {
    pub arn: String,
    pub partition_key: Option<KeyAttr>,
    pub sort_key: Option<KeyAttr>,
    pub billing: Billing,
    pub point_in_time_recovery: bool,
    pub deletion_protection: bool,
    /// The tags the config can hold (no `aws:` keys, no ownership tag).
    pub tags: BTreeMap<String, String>,
}

/// The access policy chosen to manage.
#[derive(Debug, Clone)]
pub struct ChosenPolicy {
    pub name: String,
    pub arn: String,
    pub actions: Vec<String>,
    /// Per-user isolation and its key, as the live policy reads (`None`: off).
    pub isolation: Option<Isolation>,
}

/// One rule of the identity pool's role mappings, as a `[[groups]]` entry.
#[derive(Debug, Clone)]
pub struct LiveGroup {
    /// The user pool group: the rule's value.
    pub name: String,
    /// Its place in the mappings (1-based).
    pub rule: usize,
    pub role_name: String,
    pub role_arn: String,
    /// The role's policy on the table (`None`: the role does not exist or has none; the
    /// default actions are written).
    pub policy: Option<ChosenPolicy>,
}

/// Everything the file says.
#[derive(Debug, Clone)]
pub struct Draft {
    pub pool_id: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub account: String,
    pub region: String,
    pub stack: String,
    /// Where the stack name comes from, as a phrase ("derived from the identity pool's name …").
    pub stack_origin: String,
    pub pool_name: String,
    pub allow_unauthenticated: bool,
    pub user_pool_id: String,
    pub client_ids: Vec<String>,
    pub role_name: String,
    pub role_arn: String,
    /// The table the policy names; `live` is `None` when it does not exist.
    pub table: Option<(String, Option<LiveTable>)>,
    pub policy: Option<ChosenPolicy>,
    /// The role mappings' groups, in the order of their rules.
    pub groups: Vec<LiveGroup>,
    pub notes: Vec<(Section, String)>,
}

pub(super) fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(super) fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| quoted(i)).collect();
    format!("[{}]", inner.join(", "))
}

fn key(k: &KeyAttr) -> String {
    format!("{{ name = {}, type = {} }}", quoted(&k.name), quoted(k.kind.as_str()))
}

/// `text` as `# ` comment lines of at most about 96 characters.
pub fn comment(text: &str, indent: &str) -> String {
    hanging(text, indent, indent)
}

/// `text` as comment lines: the first after `#{first}`, the rest after `#{rest}`.
fn hanging(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    let mut indent = first;
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > 95 {
            out.push_str(&format!("#{indent}{line}\n"));
            line.clear();
            indent = rest;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("#{indent}{line}\n"));
    }
    out
}

impl Draft {
    /// The comment above a section: the live resource it describes, then the notes about it.
    pub(super) fn above(&self, section: Section, resource: &str) -> String {
        let mut out = comment(resource, " ");
        for (_, n) in self.notes.iter().filter(|(s, _)| *s == section) {
            out.push_str(&comment(&format!("NOTE: {n}"), " "));
        }
        out
    }

    /// [`Draft::render`], without the groups when the config refuses them (a role or policy
    /// shared with the stack's, a name Cognito allows but IAM does not…), and a note on why.
    pub fn render_fitting(&mut self, path: &Path) -> String {
        let text = self.render();
        if self.groups.is_empty() {
            return text;
        }
        match config::parse(&text, path, &Overrides::default()) {
            Ok(_) => text,
            Err(e) => {
                self.notes.push((Section::Groups, format!("the role mappings' groups are not expressed, as the config refuses them ({e}); the plan at the end says what apply --adopt does with the mappings: to have setup manage the groups, write them by hand")));
                self.groups.clear();
                self.render()
            }
        }
    }

    /// The file without the plan.
    pub fn render(&self) -> String {
        let mut t = format!(
            "# setup.toml generated by `setup init --from-identity-pool {}`\n# on {} from the live resources in account {}, region {}.\n",
            self.pool_id, self.generated_at, self.account, self.region
        );
        t.push_str(&comment(
            "It describes what was built by hand, names included, as the state to keep. Trust-policy mistakes are not copied: this file is the intended state, and the plan at its end lists what `setup apply --adopt` changes to reach it.",
            " ",
        ));
        t.push_str("#\n");
        t.push_str("#   setup status                     what differs from this file, and why\n");
        t.push_str("#   setup apply --adopt              tag the resources for this stack, fix what differs\n");
        t.push_str(
            "#   setup verify --create-test-user  sign in, get credentials, use the table\n",
        );
        t.push_str("#\n# Every key is described in docs/config.md.\n\n");
        t.push_str(&self.above(
            Section::Top,
            &format!(
                "Stack name, {}. apply --adopt tags every resource setup:stack = {:?}.",
                self.stack_origin, self.stack
            ),
        ));
        t.push_str(&format!(
            "stack = {}\nregion = {}\n",
            quoted(&self.stack),
            quoted(&self.region)
        ));
        if let Some((name, Some(live))) = &self.table {
            if !live.tags.is_empty() {
                let tags: toml::value::Table = live
                    .tags
                    .iter()
                    .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                    .collect();
                t.push_str(&comment(
                    &format!("The tags of table {name}: apply --adopt puts them on every resource of the stack."),
                    " ",
                ));
                t.push_str(&format!("tags = {}\n", toml::Value::Table(tags)));
            }
        }
        t.push('\n');
        self.render_table(&mut t);
        t.push_str(&self.above(
            Section::UserPool,
            &format!(
                "User pool {} and its app client(s): the identity pool's Cognito provider cognito-idp.{}.amazonaws.com/{}.",
                self.user_pool_id,
                self.user_pool_id.split('_').next().unwrap_or_default(),
                self.user_pool_id
            ),
        ));
        t.push_str(&format!(
            "[user_pool]\nid = {}\nclient_ids = {}\n\n",
            quoted(&self.user_pool_id),
            list(&self.client_ids)
        ));
        t.push_str(&self.above(
            Section::IdentityPool,
            &format!("Identity pool {:?} ({}).", self.pool_name, self.pool_id),
        ));
        t.push_str(&format!(
            "[identity_pool]\nname = {}\nallow_unauthenticated = {}\n\n",
            quoted(&self.pool_name),
            self.allow_unauthenticated
        ));
        t.push_str(&self.above(
            Section::Role,
            &format!(
                "Role {} ({}): the identity pool's authenticated role (GetIdentityPoolRoles).",
                self.role_name, self.role_arn
            ),
        ));
        t.push_str(&format!("[role]\nname = {}\n\n", quoted(&self.role_name)));
        self.render_policy(&mut t);
        self.render_groups(&mut t);
        t
    }

    fn render_table(&self, t: &mut String) {
        let Some((name, live)) = &self.table else {
            t.push_str(&self.above(
                Section::Table,
                "No attached policy names a table, so the table is a placeholder: the default name user-profiles. Put in your table's name.",
            ));
            t.push_str("[table]\n# name = \"user-profiles\"\n\n");
            return;
        };
        let Some(live) = live else {
            t.push_str(&self.above(
                Section::Table,
                &format!("Table {name}, named by the policy; it does not exist, so apply would create it with the default keys."),
            ));
            t.push_str(&format!("[table]\nname = {}\n\n", quoted(name)));
            return;
        };
        t.push_str(&self.above(Section::Table, &format!("Table {name} ({}).", live.arn)));
        t.push_str(&format!("[table]\nname = {}\n", quoted(name)));
        if let Some(pk) = &live.partition_key {
            t.push_str(&format!("partition_key = {}\n", key(pk)));
        }
        if let Some(sk) = &live.sort_key {
            t.push_str(&format!("sort_key = {}\n", key(sk)));
        }
        t.push_str(&format!("billing_mode = {}\n", quoted(live.billing.mode())));
        if let Billing::Provisioned { read, write } = live.billing {
            t.push_str(&format!("read_capacity = {read}\nwrite_capacity = {write}\n"));
        }
        t.push_str(&format!(
            "point_in_time_recovery = {}\ndeletion_protection = {}\n",
            live.point_in_time_recovery, live.deletion_protection
        ));
        t.push('\n');
    }

    fn render_policy(&self, t: &mut String) {
        let Some(p) = &self.policy else {
            t.push_str(&self.above(
                Section::Policy,
                &format!(
                    "No attached policy grants DynamoDB actions on a table: apply would create policy {}-table-access with the default actions. Set name and actions to use another.",
                    self.stack
                ),
            ));
            t.push_str("[policy]\n");
            return;
        };
        let table = self.table.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default();
        t.push_str(&self.above(
            Section::Policy,
            &format!(
                "Policy {} ({}), attached to role {}: DynamoDB actions on table {table}.",
                p.name, p.arn, self.role_name
            ),
        ));
        t.push_str(&format!(
            "[policy]\nname = {}\nactions = {}\nper_user_isolation = {}\n{}",
            quoted(&p.name),
            list(&p.actions),
            p.isolation.is_some(),
            match p.isolation {
                Some(k) => format!("isolation_key = {}\n", quoted(k.name())),
                None => String::new(),
            }
        ));
    }
}

/// The plan of `apply --adopt` against the file, as comment lines: every step with its state,
/// what apply would do, and what it found (trust-policy mistakes, security findings).
pub fn plan_comment(report: &Report) -> String {
    let mut t = String::from(
        "\n# What `setup apply --adopt` would change: its plan against this file when it was\n# written (`setup plan --adopt` shows the current one).\n",
    );
    for st in &report.steps {
        t.push_str(&format!("#   {} {}: {}\n", st.unit(), st.resource, st.state.label()));
        for a in &st.actions {
            t.push_str(&hanging(&format!("- {a}"), "     ", "       "));
        }
        for n in &st.notes {
            t.push_str(&comment(&n.to_string(), "     "));
        }
    }
    t.push_str(&comment(&report.summary, " "));
    t
}

/// The comment when the plan could not be computed.
pub fn no_plan_comment(why: &str) -> String {
    format!(
        "\n{}",
        comment(
            &format!("The plan of `setup apply --adopt` could not be computed ({why}); run `setup plan --adopt`."),
            " "
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, KeyType, Overrides};
    use std::path::Path;

    fn draft() -> Draft {
        Draft {
            pool_id: "us-east-1:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d".into(),
            generated_at: "2025-01-02T03:04:05Z".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            stack: "my-app".into(),
            stack_origin: "derived from the identity pool's name".into(),
            pool_name: "my app, v2 @home".into(),
            allow_unauthenticated: true,
            user_pool_id: "eu-west-1_AbC123".into(),
            client_ids: vec!["client1".into(), "client2".into()],
            role_name: "MyAppAuthRole".into(),
            role_arn: "arn:aws:iam::123456789012:role/MyAppAuthRole".into(),
            table: Some((
                "notes".into(),
                Some(LiveTable {
                    arn: "arn:aws:dynamodb:us-east-1:123456789012:table/notes".into(),
                    partition_key: Some(KeyAttr { name: "owner id".into(), kind: KeyType::S }),
                    sort_key: Some(KeyAttr { name: "n".into(), kind: KeyType::N }),
                    billing: Billing::Provisioned { read: 3, write: 4 },
                    point_in_time_recovery: true,
                    deletion_protection: false,
                    tags: [("cost center".to_string(), "a=b".to_string())].into(),
                }),
            )),
            policy: Some(ChosenPolicy {
                name: "dynamo-access".into(),
                arn: "arn:aws:iam::123456789012:policy/dynamo-access".into(),
                actions: vec!["dynamodb:GetItem".into(), "dynamodb:Query".into()],
                isolation: Some(Isolation::IdentityId),
            }),
            groups: Vec::new(),
            notes: vec![(Section::Policy, "something to know".into())],
        }
    }

    #[test]
    fn the_file_parses_back_to_every_value_read() {
        let text = draft().render();
        let d = config::parse(&text, Path::new("setup.toml"), &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(d.stack, "my-app");
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
        assert_eq!(d.table.name, "notes");
        assert_eq!(d.table.partition_key, KeyAttr { name: "owner id".into(), kind: KeyType::S });
        assert_eq!(d.table.sort_key.as_ref().unwrap().kind, KeyType::N);
        assert_eq!(d.table.billing, Billing::Provisioned { read: 3, write: 4 });
        assert!(d.table.point_in_time_recovery && !d.table.deletion_protection);
        assert_eq!(d.user_pool.id, "eu-west-1_AbC123");
        assert_eq!(d.user_pool.client_ids, ["client1", "client2"]);
        assert_eq!(d.identity_pool_name, "my app, v2 @home");
        assert!(d.allow_unauthenticated);
        assert_eq!(d.role_name, "MyAppAuthRole");
        assert_eq!(d.policy_name, "dynamo-access");
        assert_eq!(d.actions, ["dynamodb:GetItem", "dynamodb:Query"]);
        assert_eq!(d.isolation, Some(Isolation::IdentityId), "the key read back is written");
        assert_eq!(d.tags.get("cost center").map(String::as_str), Some("a=b"));
        // No deprecated key: the tags are top-level.
        let parsed =
            config::parse_with_warnings(&text, Path::new("x"), &Overrides::default()).unwrap();
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        // The note sits above the section it is about, after the resource it names.
        let before_policy = &text[..text.find("[policy]").unwrap()];
        let tail = &before_policy[before_policy.rfind("\n\n").unwrap()..];
        assert!(
            tail.contains(
                "# Policy dynamo-access (arn:aws:iam::123456789012:policy/dynamo-access)"
            ) && tail.contains("# NOTE: something to know"),
            "{tail}"
        );
    }

    #[test]
    fn groups_parse_back_in_order_with_names_only_where_not_the_defaults() {
        let mut d = draft();
        let policy = |name: &str, actions: &[&str], isolation| ChosenPolicy {
            name: name.into(),
            arn: format!("arn:aws:iam::123456789012:policy/{name}"),
            actions: actions.iter().map(|a| a.to_string()).collect(),
            isolation,
        };
        d.groups = vec![
            LiveGroup {
                name: "admins".into(),
                rule: 1,
                role_name: "my-app-group-admins".into(),
                role_arn: "arn:aws:iam::123456789012:role/my-app-group-admins".into(),
                policy: Some(policy(
                    "my-app-group-admins-access",
                    &["dynamodb:GetItem", "dynamodb:Scan"],
                    None,
                )),
            },
            LiveGroup {
                name: "support".into(),
                rule: 2,
                role_name: "HelpDesk".into(),
                role_arn: "arn:aws:iam::123456789012:role/HelpDesk".into(),
                policy: Some(policy(
                    "help-reads",
                    &["dynamodb:GetItem"],
                    Some(Isolation::IdentityId),
                )),
            },
            LiveGroup {
                name: "later".into(),
                rule: 3,
                role_name: "LaterRole".into(),
                role_arn: "arn:aws:iam::123456789012:role/LaterRole".into(),
                policy: None,
            },
        ];
        d.notes.push((Section::Groups, "a group note".into()));
        let text = d.render();
        let parsed = config::parse(&text, Path::new("x"), &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        type Read<'a> = (&'a str, &'a str, &'a str, Vec<&'a str>, Option<Isolation>);
        let got: Vec<Read> = parsed
            .groups
            .iter()
            .map(|g| {
                let actions = g.actions.iter().map(String::as_str).collect();
                (
                    g.name.as_str(),
                    g.role_name.as_str(),
                    g.policy_name.as_str(),
                    actions,
                    g.isolation,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "admins",
                    "my-app-group-admins",
                    "my-app-group-admins-access",
                    vec!["dynamodb:GetItem", "dynamodb:Scan"],
                    None
                ),
                (
                    "support",
                    "HelpDesk",
                    "help-reads",
                    vec!["dynamodb:GetItem"],
                    Some(Isolation::IdentityId)
                ),
                (
                    "later",
                    "LaterRole",
                    "my-app-group-later-access",
                    config::DEFAULT_ACTIONS.to_vec(),
                    None
                ),
            ]
        );
        // The defaults are not written out.
        let admins = &text
            [text.find("name = \"admins\"").unwrap()..text.find("name = \"support\"").unwrap()];
        assert!(!admins.contains("role =") && !admins.contains("policy_name ="), "{admins}");
        assert!(text.contains("# NOTE: a group note"), "{text}");
        // No groups and nothing to say: no section.
        let text = draft().render();
        assert!(!text.contains("groups"), "{text}");
    }

    #[test]
    fn groups_the_config_refuses_are_left_out_and_the_note_says_why() {
        let mut d = draft();
        // A rule handing out the stack's own role: the config gives each group a role of its own.
        d.groups = vec![LiveGroup {
            name: "admins".into(),
            rule: 1,
            role_name: d.role_name.clone(),
            role_arn: d.role_arn.clone(),
            policy: None,
        }];
        let text = d.render_fitting(Path::new("setup.toml"));
        assert!(!text.lines().any(|l| l == "[[groups]]"), "{text}");
        assert!(d.groups.is_empty());
        let (section, note) = d.notes.last().unwrap();
        assert_eq!(*section, Section::Groups);
        assert!(note.contains("groups are not expressed") && note.contains("role.name"), "{note}");
        assert!(text.contains("# NOTE: the role mappings' groups are not expressed"), "{text}");
        config::parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap();
    }

    #[test]
    fn without_a_policy_the_table_and_policy_are_the_defaults() {
        let mut d = draft();
        d.table = None;
        d.policy = None;
        let text = d.render();
        let parsed = config::parse(&text, Path::new("x"), &Overrides::default()).unwrap();
        assert_eq!(parsed.table.name, config::DEFAULT_TABLE);
        assert_eq!(parsed.policy_name, "my-app-table-access");
        assert_eq!(parsed.actions, config::DEFAULT_ACTIONS);
        assert!(text.contains("placeholder"), "{text}");
    }

    #[test]
    fn comments_wrap_and_bullets_hang() {
        let text = format!("- {}", "word ".repeat(40));
        let c = hanging(&text, "     ", "       ");
        let lines: Vec<&str> = c.lines().collect();
        assert!(lines.len() > 1, "{c}");
        assert!(lines.iter().all(|l| l.len() <= 96), "{c}");
        assert!(lines[0].starts_with("#     - word"), "{c}");
        assert!(lines[1].starts_with("#       word"), "{c}");
        assert_eq!(comment("", " "), "");
    }
}

//! What an identity pool trusts beyond the config: other user pools, sign-in providers (Google,
//! Facebook, Amazon, Apple, Twitter), a developer provider, OpenID Connect and SAML providers,
//! and the basic (classic) flow. An identity from any of them is a signed-in identity of the pool
//! (`amr = authenticated`); only the stack role's trust policy, which also names the configured
//! user pool in `amr`, keeps it from the table role. Each is drift (apply removes it) with a
//! security finding. A developer provider name cannot be removed (Cognito keeps it once set):
//! a finding only.

use serde_json::Value;

use super::Live;
use crate::config::Desired;
use crate::plan::{Change, Note};

/// The changes (for `apply` to remove) and the findings (`security: …` notes).
pub fn beyond_config(d: &Desired, live: &Live) -> (Vec<Change>, Vec<Note>) {
    let pool = &live.id;
    let gets = "signed-in identities of this pool (amr = authenticated), kept from the table role only by the role's trust policy naming the configured user pool (a role or role mapping added by hand would not)";
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let ours = d.user_pool.provider_name();
    let mut others: Vec<(String, Vec<String>)> = Vec::new();
    for p in &live.providers {
        let Some(name) = p.provider_name().filter(|n| *n != ours) else { continue };
        let client = p.client_id().unwrap_or_default().to_string();
        match others.iter_mut().find(|(n, _)| n == name) {
            Some((_, clients)) => clients.push(client),
            None => others.push((name.to_string(), vec![client])),
        }
    }
    others.sort();
    for (name, clients) in others {
        changes.push(Change::new(format!("providers.{name}"), Value::from(clients), Value::Null));
        notes.push(Note::security(format!(
            "identity pool {pool} also trusts user pool provider {name}, which the config does not name: its users get {gets}; apply removes it"
        )));
    }
    let raw = &live.raw;
    let mut logins: Vec<(&String, &String)> =
        raw.supported_login_providers().map(|m| m.iter().collect()).unwrap_or_default();
    logins.sort();
    for (provider, app) in logins {
        changes.push(Change::new(
            format!("supported_login_providers.{provider}"),
            Value::from(app.as_str()),
            Value::Null,
        ));
        notes.push(Note::security(format!(
            "identity pool {pool} accepts sign-in provider {provider}, which the config does not name: anyone with an account there gets {gets}; apply removes it"
        )));
    }
    for (field, what, arns) in [
        (
            "open_id_connect_provider_arns",
            "OpenID Connect provider",
            raw.open_id_connect_provider_arns(),
        ),
        ("saml_provider_arns", "SAML provider", raw.saml_provider_arns()),
    ] {
        if arns.is_empty() {
            continue;
        }
        changes.push(Change::new(
            field,
            Value::from(arns.to_vec()),
            Value::from(Vec::<String>::new()),
        ));
        for arn in arns {
            notes.push(Note::security(format!(
                "identity pool {pool} accepts {what} {arn}, which the config does not name: its users get {gets}; apply removes it"
            )));
        }
    }
    if raw.allow_classic_flow() == Some(true) {
        changes.push(Change::new("allow_classic_flow", true, false));
        notes.push(Note::security(format!(
            "identity pool {pool} allows the basic (classic) flow: an identity's OpenID token goes to STS directly, for any role that trusts the pool, without the pool's choice of role; apply turns it off"
        )));
    }
    if let Some(dev) = raw.developer_provider_name().filter(|n| !n.is_empty()) {
        notes.push(Note::security(format!(
            "identity pool {pool} has developer provider {dev:?}, which the config does not name: whoever may call GetOpenIdTokenForDeveloperIdentity on it mints {gets}; Cognito cannot remove a developer provider name once set, so apply leaves it: make a new pool to be rid of it"
        )));
    }
    (changes, notes)
}

/// The configured user pool's app clients whose `ServerSideTokenCheck` differs from the config.
pub fn token_check(d: &Desired, live: &Live) -> Option<Change> {
    let ours = d.user_pool.provider_name();
    let mut differ: Vec<String> = live
        .providers
        .iter()
        .filter(|p| p.provider_name() == Some(ours.as_str()))
        .filter(|p| p.server_side_token_check().unwrap_or(false) != d.server_side_token_check)
        .filter_map(|p| p.client_id().map(str::to_string))
        .filter(|c| d.user_pool.client_ids.contains(c))
        .collect();
    differ.sort();
    (!differ.is_empty()).then(|| {
        Change::new(
            format!("providers.{ours}.server_side_token_check"),
            !d.server_side_token_check,
            d.server_side_token_check,
        )
    })
}

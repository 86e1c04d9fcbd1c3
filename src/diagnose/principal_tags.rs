//! Findings about principal tags ("attributes for access control"): the identity pool passes
//! claims of the user pool token into the session as tags, the trust policy must allow
//! `sts:TagSession` for that, and an access policy keyed by `${aws:PrincipalTag/<tag>}` works
//! only for a tag the pool maps. Each mistake gets its own sentence, like the trust findings.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{is_allow, strings, Finding, COGNITO_PRINCIPAL};
use crate::policy_doc::{Isolation, TAG_SESSION_ACTION};
use crate::policy_eval::{glob_matches, statements};

/// With tags mapped on the pool (`tagged`), a trust policy with no Allow of `sts:TagSession` for
/// the identity pools' principal makes Cognito refuse every credential.
pub fn tag_session(trust: &Value, tagged: bool) -> Option<Finding> {
    if !tagged {
        return None;
    }
    let allows = statements(trust).into_iter().filter(|s| is_allow(s)).any(|st| {
        let federated = st.get("Principal").and_then(|p| p.get("Federated"));
        strings(federated).iter().any(|f| f == COGNITO_PRINCIPAL)
            && strings(st.get("Action")).iter().any(|a| glob_matches(a, TAG_SESSION_ACTION, true))
    });
    (!allows).then(|| {
        Finding::broken(format!(
            "the identity pool passes principal tags (its principal tag map for the user pool), but the trust policy does not allow \"{TAG_SESSION_ACTION}\": add it to the Action of the statement that allows \"sts:AssumeRoleWithWebIdentity\""
        ))
    })
}

/// The tags an access policy reads (`${aws:PrincipalTag/<tag>}` anywhere in it).
pub fn tags_read(doc: &Value) -> Vec<String> {
    let text = serde_json::to_string(doc).unwrap_or_default();
    let mut tags: Vec<String> = text
        .split("${aws:PrincipalTag/")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(tag, _)| tag.to_string()))
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// An access policy that reads a principal tag the pool does not map (`mapped`: the pool's
/// map, empty when it has none): the variable never resolves, so every call it guards is
/// denied.
pub fn unmapped_tags(doc: &Value, mapped: &BTreeMap<String, String>) -> Vec<Finding> {
    tags_read(doc)
        .into_iter()
        .filter(|t| !mapped.contains_key(t))
        .map(|t| {
            let have = match mapped.is_empty() {
                true => "maps no tags".to_string(),
                false => format!("maps only {}", mapped.keys().cloned().collect::<Vec<_>>().join(", ")),
            };
            Finding::broken(format!(
                "the access policy reads the principal tag {t:?} (${{aws:PrincipalTag/{t}}}), but the identity pool {have}: every call it guards is denied; map the claim to tag {t:?} (setup apply does it for isolation_key = \"user-pool-sub\")"
            ))
        })
        .collect()
}

/// A live access policy keyed by another isolation key than the config's: the sentence for
/// `status` and `plan`. Switching changes which items every user reaches; nothing is migrated.
pub fn key_switch(live: &Value, desired: Isolation) -> Option<String> {
    let from = Isolation::of(live).filter(|k| *k != desired)?;
    Some(format!(
        "the access policy keys each user's items by {} ({}), but isolation_key = {:?} keys them by {} ({}): after apply, items stored under {}s are out of every app user's reach (setup does not move data; copy them to the new keys first if the app needs them)",
        from.holds(),
        from.variable(),
        desired.name(),
        desired.holds(),
        desired.variable(),
        match from {
            Isolation::IdentityId => "identity id",
            Isolation::UserPoolSub => "user pool sub",
        }
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy_doc::{access_policy, trust_policy, trust_policy_tagging};
    use crate::testing::PROVIDER;

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:1:table/t";

    #[test]
    fn a_trust_policy_without_tag_session_is_named_only_when_tags_are_mapped() {
        let plain = trust_policy("us-east-1:p", PROVIDER);
        let tagging = trust_policy_tagging(json!("us-east-1:p"), PROVIDER, true);
        assert_eq!(tag_session(&plain, false), None);
        assert_eq!(tag_session(&tagging, true), None);
        let f = tag_session(&plain, true).expect("a finding");
        assert_eq!(
            f.to_string(),
            "finding: the identity pool passes principal tags (its principal tag map for the user pool), but the trust policy does not allow \"sts:TagSession\": add it to the Action of the statement that allows \"sts:AssumeRoleWithWebIdentity\" (sign-in fails with InvalidIdentityPoolConfigurationException)"
        );
        // A wildcard covers it; a TagSession for another principal does not.
        let mut wild = plain.clone();
        wild["Statement"][0]["Action"] = json!("sts:*");
        assert_eq!(tag_session(&wild, true), None);
        let mut other = tagging.clone();
        other["Statement"][0]["Principal"] = json!({"Federated": "accounts.google.com"});
        assert!(tag_session(&other, true).is_some());
    }

    #[test]
    fn a_policy_reading_a_tag_the_pool_does_not_map_is_named() {
        let doc = access_policy(TABLE, &["dynamodb:GetItem".into()], Some(Isolation::UserPoolSub));
        assert_eq!(tags_read(&doc), ["sub"]);
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(t, c)| (t.to_string(), c.to_string())).collect()
        };
        assert!(unmapped_tags(&doc, &map(&[("sub", "sub")])).is_empty());
        let none = unmapped_tags(&doc, &map(&[]));
        assert_eq!(none.len(), 1);
        assert!(none[0].message.contains("but the identity pool maps no tags"), "{}", none[0]);
        let other = unmapped_tags(&doc, &map(&[("username", "sub")]));
        assert!(other[0].message.contains("maps only username"), "{}", other[0]);
        let by_id = access_policy(TABLE, &["dynamodb:GetItem".into()], Some(Isolation::IdentityId));
        assert!(unmapped_tags(&by_id, &map(&[])).is_empty());
    }

    #[test]
    fn switching_the_key_is_said_in_one_sentence_each_way() {
        let actions = ["dynamodb:GetItem".to_string()];
        let by_id = access_policy(TABLE, &actions, Some(Isolation::IdentityId));
        let by_sub = access_policy(TABLE, &actions, Some(Isolation::UserPoolSub));
        assert_eq!(key_switch(&by_sub, Isolation::UserPoolSub), None);
        assert_eq!(key_switch(&access_policy(TABLE, &actions, None), Isolation::UserPoolSub), None);
        assert_eq!(
            key_switch(&by_id, Isolation::UserPoolSub).unwrap(),
            "the access policy keys each user's items by the identity id (${cognito-identity.amazonaws.com:sub}), but isolation_key = \"user-pool-sub\" keys them by the user pool sub (${aws:PrincipalTag/sub}): after apply, items stored under identity ids are out of every app user's reach (setup does not move data; copy them to the new keys first if the app needs them)"
        );
        assert!(key_switch(&by_sub, Isolation::IdentityId)
            .unwrap()
            .contains("items stored under user pool subs are out of every app user's reach"));
    }
}

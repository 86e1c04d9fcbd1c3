//! `setup outputs --format amplify`: the `amplify_outputs.json` the Amplify libraries
//! (JavaScript, Swift, Android, Flutter) load with `Amplify.configure`, for the live stack.
//!
//! The schema is Amplify's public one (amplify-backend, `packages/client-config`): `auth` holds
//! the Cognito ids, `custom` is free-form and holds the table. aws-amplify v6 takes a document as
//! such when its `version` starts with `1` (`isAmplifyOutputs` in @aws-amplify/core); it reads
//! each pool's region from the pool's id, while the native libraries read `auth.aws_region`.

use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value};

use super::{read_text, replace, Outputs, Written};
use crate::config::Isolation;

/// The file name `--write` recognises, and the one the Amplify libraries look for.
pub const FILE_NAME: &str = "amplify_outputs.json";

/// The schema version written: 1.4, whose `auth` and `custom` sections hold everything here
/// (every 1.x has them); aws-amplify v6 accepts any version starting with "1".
pub const VERSION: &str = "1.4";

/// The document: `auth` for the user pool and identity pool, `custom.user_profile_table` for
/// the table and how its items are keyed.
pub fn document(o: &Outputs) -> Value {
    let a = &o.app;
    let key = |k: &crate::config::KeyAttr| json!({"name": k.name, "type": k.kind.as_str()});
    let mut table = json!({
        "aws_region": o.region,
        "table_name": o.table,
        "table_arn": o.table_arn,
        "partition_key": key(&a.partition_key),
    });
    if let Some(sk) = &a.sort_key {
        table["sort_key"] = key(sk);
    }
    table["per_user_isolation"] = a.isolation.is_some().into();
    // Without isolation nothing enforces a key, and the data model's `userId` is the user
    // pool sub.
    table["isolation_key"] = a.isolation.unwrap_or(Isolation::UserPoolSub).name().into();
    json!({
        "version": VERSION,
        "auth": {
            "aws_region": a.user_pool_region,
            "user_pool_id": o.user_pool_id,
            "user_pool_client_id": o.client_id,
            "identity_pool_id": o.identity_pool_id,
            "unauthenticated_identities_enabled": a.guest_access,
        },
        "custom": { "user_profile_table": table },
    })
}

/// The file's text: the document, pretty, with a final newline.
pub fn text(o: &Outputs) -> String {
    serde_json::to_string_pretty(&document(o)).expect("a JSON value always serializes") + "\n"
}

/// A warning when one `auth.aws_region` cannot describe both pools: the user pool lives in
/// another region than the stack (and its identity pool).
pub fn region_warning(o: &Outputs) -> Option<String> {
    let up = &o.app.user_pool_region;
    (up != &o.region).then(|| {
        format!(
            "the user pool is in {up} and the identity pool in {}: {FILE_NAME} has one auth.aws_region, the user pool's ({up}). aws-amplify (JavaScript) reads each pool's region from its id and works; Amplify Swift, Android and Flutter use auth.aws_region for the identity pool too and fail to get credentials. Those apps need the stack in {up}.",
            o.region
        )
    })
}

/// Replaces `path` whole with the document (it is generated): atomically, and not at all when
/// it already holds exactly this text. The lists name the values by their JSON path.
pub fn write(path: &Path, o: &Outputs) -> Result<Written> {
    let new = text(o);
    let existing = read_text(path)?;
    let replaced = existing.as_deref() != Some(new.as_str());
    if replaced {
        replace(path, &new)?;
    }
    let old = existing
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .map(|v| leaves(&v))
        .unwrap_or_default();
    let now = leaves(&document(o));
    let (mut updated, mut added, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
    let find = |leaves: &[(String, Value)], k: &str| {
        leaves.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone())
    };
    for (k, v) in &now {
        match find(&old, k) {
            None => added.push(k.clone()),
            Some(was) if &was == v => unchanged.push(k.clone()),
            Some(_) => updated.push(k.clone()),
        }
    }
    let removed =
        old.iter().filter(|(k, _)| find(&now, k).is_none()).map(|(k, _)| k.clone()).collect();
    Ok(Written {
        file: path.to_path_buf(),
        format: "amplify",
        created: existing.is_none(),
        updated,
        added,
        unchanged,
        removed,
        replaced: Some(replaced),
    })
}

/// The values of a JSON document by dotted path (`auth.user_pool_id`), in document order;
/// arrays and empty objects are values.
fn leaves(v: &Value) -> Vec<(String, Value)> {
    fn walk(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(v, &p, out);
                }
            }
            _ => out.push((path.to_string(), v.clone())),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::outputs::AppSide;
    use crate::config::{KeyAttr, KeyType};

    fn sample(user_pool_region: &str, isolation: Option<Isolation>, sort: bool) -> Outputs {
        let key = |n: &str| KeyAttr { name: n.into(), kind: KeyType::S };
        Outputs {
            stack: "app".into(),
            region: "eu-west-1".into(),
            user_pool_id: format!("{user_pool_region}_AbC"),
            client_id: "client".into(),
            identity_pool_id: "eu-west-1:1a2b".into(),
            authenticated_role_arn: "arn:aws:iam::1:role/r".into(),
            table: "profiles".into(),
            table_arn: "arn:aws:dynamodb:eu-west-1:1:table/profiles".into(),
            app: AppSide {
                user_pool_region: user_pool_region.into(),
                guest_access: false,
                partition_key: key("userId"),
                sort_key: sort.then(|| key("createdAt")),
                isolation,
            },
        }
    }

    #[test]
    fn the_document_puts_the_user_pool_region_in_auth_and_the_table_under_custom() {
        let doc = document(&sample("us-east-1", Some(Isolation::IdentityId), false));
        assert_eq!(doc["version"], VERSION);
        assert_eq!(doc["auth"]["aws_region"], "us-east-1");
        assert_eq!(doc["auth"]["unauthenticated_identities_enabled"], false);
        let t = &doc["custom"]["user_profile_table"];
        assert_eq!(t["aws_region"], "eu-west-1");
        assert_eq!(t["partition_key"], json!({"name": "userId", "type": "S"}));
        assert!(t.get("sort_key").is_none(), "{t}");
        assert_eq!(
            (&t["per_user_isolation"], &t["isolation_key"]),
            (&json!(true), &json!("identity-id"))
        );
        // Without isolation the data model's key, the sub.
        let t = document(&sample("eu-west-1", None, true))["custom"]["user_profile_table"].clone();
        assert_eq!(
            (&t["per_user_isolation"], &t["isolation_key"]),
            (&json!(false), &json!("user-pool-sub"))
        );
        assert_eq!(t["sort_key"]["name"], "createdAt");
    }

    #[test]
    fn a_user_pool_in_another_region_is_warned_about() {
        assert_eq!(region_warning(&sample("eu-west-1", None, true)), None);
        let w = region_warning(&sample("us-east-1", None, true)).unwrap();
        assert!(w.starts_with("the user pool is in us-east-1 and the identity pool in eu-west-1: amplify_outputs.json has one auth.aws_region, the user pool's (us-east-1)."), "{w}");
    }

    #[test]
    fn write_replaces_the_file_whole_and_names_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let o = sample("eu-west-1", None, true);
        let w = write(&path, &o).unwrap();
        assert!(w.created && w.replaced == Some(true) && w.updated.is_empty(), "{w:?}");
        assert_eq!(w.added.first().map(String::as_str), Some("version"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text(&o));
        let w = write(&path, &o).unwrap();
        assert_eq!((w.created, w.replaced, w.added.len()), (false, Some(false), 0), "{w:?}");
        std::fs::write(
            &path,
            r#"{"version": "1", "auth": {"user_pool_id": "old", "user_pool_client_id": "client"}, "storage": {"bucket_name": "b"}}"#,
        )
        .unwrap();
        let w = write(&path, &o).unwrap();
        assert_eq!(w.replaced, Some(true));
        assert_eq!(w.updated, ["version", "auth.user_pool_id"]);
        assert_eq!(w.removed, ["storage.bucket_name"]);
        assert_eq!(w.unchanged, ["auth.user_pool_client_id"]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text(&o));
    }
}

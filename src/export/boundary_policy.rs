//! The permissions boundary's document (`setup bootstrap`, `setup export --format
//! boundary-policy`): exactly what the stack's roles may ever do, the union of the table actions
//! the config grants them (`[policy] actions`, and `[guest] actions` when guests are allowed) on
//! the table, its indexes when it has any, and its customer managed key, named as the stack's
//! own policies name them (`policies/boundary.json`, the indexes as
//! [`Desired::on_indexes_of`] adds them, the key grant of [`policy_doc::kms_statement`]).
//!
//! No per-user condition: the boundary caps, the access policy narrows. Whatever the operator
//! writes into the stack's policies, a role that carries the boundary can do no more than this.

use serde_json::Value;

use super::operator_policy::{self, Place, Stacks};
use crate::config::Desired;

/// The template (`policies/boundary.json`), embedded at build time.
pub const TEMPLATE: &str = crate::config::BOUNDARY_TEMPLATE;

/// The table actions any role of the stack is granted ([`Desired::boundary_actions`]).
pub fn actions(d: &Desired) -> Vec<String> {
    d.boundary_actions()
}

/// The boundary for `d`'s stack (or every stack of `stacks`) in `place`, with the grant on the
/// table's customer managed key when it has one (`key_arn`: the key's ARN, as KMS DescribeKey
/// resolves an alias).
pub fn document(d: &Desired, stacks: &Stacks, place: &Place, key_arn: Option<&str>) -> Value {
    let table = operator_policy::stack_name(d, stacks, &d.table.name);
    let table_arn = place.account.arn("dynamodb", &place.region, &format!("table/{table}"));
    d.boundary_document(&table, &table_arn, &place.region, key_arn)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::aws::Account;
    use crate::config::{parse, Overrides};
    use crate::policy_doc;

    const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn desired(extra: &str) -> Desired {
        let text = format!(
            "stack = \"shop\"\nregion = \"eu-west-1\"\n[user_pool]\nid = \"eu-west-1_abc123\"\nclient_ids = [\"client1\"]\n{extra}"
        );
        parse(&text, Path::new("setup.toml"), &Overrides::default()).unwrap()
    }

    fn place() -> Place {
        Place {
            account: Account { id: "123456789012".into(), partition: "aws".into() },
            region: "eu-west-1".into(),
        }
    }

    const TABLE: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/user-profiles";

    fn statement(actions: &[&str], resource: Value) -> Value {
        json!({"Sid": "StackTableItems", "Effect": "Allow", "Action": actions, "Resource": resource})
    }

    fn boundary(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn the_boundary_is_the_configured_actions_on_the_table_and_nothing_else() {
        let d = desired("[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]\n");
        let got = document(&d, &Stacks::One, &place(), None);
        let want =
            boundary(vec![statement(&["dynamodb:GetItem", "dynamodb:PutItem"], json!(TABLE))]);
        assert_eq!(got, want);
    }

    #[test]
    fn guest_actions_join_the_authenticated_ones_only_when_guests_are_allowed() {
        let guests = "[policy]\nactions = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]\n\
                      [guest]\nactions = [\"dynamodb:GetItem\", \"dynamodb:Query\"]\n";
        let off = desired(guests);
        assert_eq!(actions(&off), ["dynamodb:GetItem", "dynamodb:PutItem"]);
        let on = desired(&format!("{guests}[identity_pool]\nallow_unauthenticated = true\n"));
        let got = document(&on, &Stacks::One, &place(), None);
        let all = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"];
        assert_eq!(got, boundary(vec![statement(&all, json!(TABLE))]));
    }

    #[test]
    fn per_user_isolation_adds_no_condition_to_the_boundary() {
        let d = desired("[policy]\nactions = [\"dynamodb:GetItem\"]\nper_user_isolation = true\n");
        let got = document(&d, &Stacks::One, &place(), None);
        assert_eq!(got, boundary(vec![statement(&["dynamodb:GetItem"], json!(TABLE))]));
    }

    #[test]
    fn indexes_and_the_customer_managed_key_are_named_as_the_stack_policies_name_them() {
        let d = desired(&format!(
            "[policy]\nactions = [\"dynamodb:Query\"]\n[table]\nencryption = \"customer-managed\"\nkms_key = \"{KEY}\"\n\
             [[table.global_secondary_indexes]]\nname = \"byEmail\"\npartition_key = {{ name = \"email\", type = \"S\" }}\n"
        ));
        let got = document(&d, &Stacks::One, &place(), Some(KEY));
        let on_table = statement(&["dynamodb:Query"], json!([TABLE, format!("{TABLE}/index/*")]));
        let want =
            boundary(vec![on_table, policy_doc::kms_statement(KEY, "eu-west-1", &d.table.name)]);
        assert_eq!(got, want);
        // The same two statements as the access policy apply writes for this config.
        let access = crate::export::access_document(
            &d,
            &crate::export::TableRefs {
                arn: json!(TABLE),
                index_arn: json!(format!("{TABLE}/index/*")),
            },
            Some(crate::export::KeyRefs {
                arn: json!(KEY),
                regional: |s| json!(s.replace(crate::export::REGION, "eu-west-1")),
            }),
        );
        assert!(policy_doc::equivalent(&access, &got), "{access}\n{got}");
    }

    #[test]
    fn with_a_stack_prefix_the_table_is_every_prefixed_stack_s_own() {
        let probe = operator_policy::PROBE_STACK;
        let mut d = Desired { stack: probe.into(), ..desired("") };
        d.table.name = format!("{probe}-profiles");
        let got = document(&d, &Stacks::Prefix("pr-".into()), &place(), None);
        let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/pr-*-profiles";
        assert_eq!(got["Statement"][0]["Resource"], json!(table));
        // The key grant names the tables by the same pattern, in the encryption context.
        let got = document(&d, &Stacks::Prefix("pr-".into()), &place(), Some(KEY));
        assert_eq!(
            got["Statement"][1]["Condition"],
            json!({"StringLike": {
                "kms:ViaService": "dynamodb.eu-west-1.amazonaws.com",
                "kms:EncryptionContext:aws:dynamodb:tableName": "pr-*-profiles",
            }})
        );
        // A table the config names as such is shared by every stack: exact.
        let shared = desired("[table]\nname = \"shared\"\n");
        let got = document(&shared, &Stacks::Prefix("pr-".into()), &place(), None);
        let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/shared";
        assert_eq!(got["Statement"][0]["Resource"], json!(table));
    }
}

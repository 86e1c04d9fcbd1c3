//! The independent IAM simulator (tests/iam-sim/sim.mjs, @cloud-copilot/iam-simulate), driven
//! directly: JSON lines in and out. For decisions the emulator cannot make, such as whether a
//! role's trust policy lets a web identity of an OIDC provider in.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

use super::{repo_root, ACCOUNT};

pub struct IamSim {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
    id: u64,
}

impl IamSim {
    pub fn start() -> IamSim {
        let node = std::env::var("SETUP_TEST_NODE").unwrap_or_else(|_| "node".into());
        let mut child = Command::new(&node)
            .arg("sim.mjs")
            .current_dir(repo_root().join("tests/iam-sim"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {node} tests/iam-sim/sim.mjs: {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(ready["ready"], true, "{ready}");
        IamSim { child, stdin, lines, id: 0 }
    }

    /// The decision (`Allowed`, `ImplicitlyDenied`, `ExplicitlyDenied`) on `principal` doing
    /// `action` on `resource` with `context`, under the principal's `policies` and the
    /// resource's own policy (a role's trust policy, for an assume).
    pub fn decide(
        &mut self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &Value,
        policies: &[Value],
        resource_policy: Option<&Value>,
    ) -> String {
        self.id += 1;
        let policies: Vec<Value> = policies
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"name": format!("p{i}"), "policy": p}))
            .collect();
        let mut req = json!({"id": self.id, "principal": principal, "action": action,
            "resource": resource, "account": ACCOUNT, "context": context, "policies": policies});
        if let Some(p) = resource_policy {
            req["resource_policy"] = json!({"name": "resource", "policy": p});
        }
        writeln!(self.stdin, "{req}").unwrap();
        let answer: Value = serde_json::from_str(&self.lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(answer["id"], self.id, "{answer}");
        answer["result"].as_str().unwrap_or_else(|| panic!("{answer}")).to_string()
    }
}

impl Drop for IamSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

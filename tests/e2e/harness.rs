//! Test harness: one moto emulator per test binary (tests/emulator.py on a free loopback port),
//! a user pool to link to, and a `Stack` per test with its own names, config and access keys.
//!
//! The emulator logs every request by access key, so a test counts the API calls of one run of
//! the binary by giving that run a fresh access key. Tests fail — never skip — when the emulator
//! cannot start.
//!
//! - [`emulator`](self::emulator): the emulators (plain, slow, IAM-enforcing, realistic), their
//!   own endpoints and call log.
//! - [`run`](self::run): running the `setup` binary (piped, on a terminal, without AWS) and its
//!   [`Run`] result.
//! - [`stack`](self::stack): a test's [`Stack`]: names, config, runs.
//! - [`sdk`](self::sdk): SDK clients and by-hand changes, as a user makes them in the console.
//! - [`iam_sim`](self::iam_sim): the independent IAM simulator, for decisions the emulator
//!   cannot make (trust policies of OIDC providers).
//! - [`report`](self::report): reading the JSON reports of `verify`.
//! - [`tools`](self::tools): Python and the linters the tests run.

pub mod emulator;
pub mod iam_sim;
pub mod report;
pub mod run;
pub mod sdk;
pub mod stack;
pub mod tools;

pub use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
pub use emulator::*;
pub use iam_sim::*;
pub use report::*;
pub use run::*;
pub use sdk::*;
pub use stack::*;
pub use tools::*;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

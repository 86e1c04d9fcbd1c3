//! End-to-end tests: the real `setup` binary against moto in server mode (tests/emulator.py),
//! started once for this test binary on a free loopback port. Each test uses its own stack name,
//! and each run of the binary its own access key, so the emulator's call log tells exactly which
//! API calls that run made.

mod harness;

mod action;
mod app_clients;
mod apply;
mod backend;
mod bad_input;
mod bootstrap;
mod boundary;
mod checkov;
mod ci_examples;
mod diagnostics;
mod docs;
mod docs_behaviour;
mod drift;
mod emulator_selftests;
mod examples;
mod export;
mod export_backend;
mod export_terraform;
mod groups;
mod groups_verify;
mod guest;
mod init_from;
mod isolation;
mod json_fields;
mod least_privilege;
mod list;
mod live;
mod operator_scope;
mod outputs;
mod ownership;
mod partition;
mod perf;
mod plan_apply;
mod profiles;
mod realistic;
mod regions;
mod release;
mod reliability;
mod scale;
mod security;
mod signals;
mod sub_isolation;
mod table_options;
mod teardown;
mod user_pools;
mod ux;
mod verify;
mod workflows;

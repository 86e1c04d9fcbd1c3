//! An explicit `--profile`. The SDK's default credentials chain reads the environment's keys
//! before any profile, so `profile_name` on the config loader alone lets `AWS_ACCESS_KEY_ID`
//! win over `--profile`. The AWS CLI does the opposite: a profile named on the command line
//! wins. So with `--profile` the credentials come from that profile alone (a
//! `ProfileFileCredentialsProvider`, which still follows its `source_profile`, `role_arn`,
//! `sso_*`, `credential_process` and `credential_source` settings), and a profile that is in
//! neither config file is an error before any request. `AWS_PROFILE` is not `--profile`: there
//! the environment's keys still win, as in the AWS CLI.

use std::fmt;

use anyhow::{anyhow, Result};
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::Region;
use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

/// The two files a profile can be in, as the SDK finds them: the path and the variable that
/// chose it, or the default place.
pub fn searched_files() -> [String; 2] {
    [("AWS_CONFIG_FILE", "~/.aws/config"), ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")]
        .map(|(var, default)| match std::env::var(var) {
            Ok(path) if !path.is_empty() => format!("{path} ({var})"),
            _ => default.to_string(),
        })
}

/// `Ok` when `name` is a profile of the config or credentials file; else an error naming both
/// files, the profiles they have, and what to do.
pub async fn check_exists(name: &str) -> Result<()> {
    let [config, credentials] = searched_files();
    let set =
        aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
            .await
            .map_err(|e| {
                anyhow!(
            "cannot read the AWS config files ({config}, {credentials}) for --profile {name}: {e}"
        )
            })?;
    if set.get_profile(name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    let there = if known.is_empty() {
        "no profiles are there (or the files do not exist). Create it".to_string()
    } else {
        format!(
            "profiles there: {}. Pass one of those to --profile, or create it",
            known.join(", ")
        )
    };
    Err(anyhow!(
        "profile {name:?} (--profile) is in neither {config} nor {credentials}; {there} with `aws configure --profile {name}` (or `aws configure sso --profile {name}`), or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at the files that have it"
    ))
}

/// The credentials of profile `name` alone, whatever the environment holds. `region` is for
/// the calls a profile may need to make (STS for `role_arn`, SSO).
pub fn credentials(name: &str, region: Option<Region>) -> Named {
    let conf = ProviderConfig::default().with_region(region);
    Named {
        name: name.to_string(),
        inner: ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .profile_name(name)
            .build(),
    }
}

/// The profile's provider, whose failures say which profile gave no credentials (see
/// [`NoCredentials`]).
#[derive(Debug)]
pub struct Named {
    name: String,
    inner: ProfileFileCredentialsProvider,
}

impl ProvideCredentials for Named {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.inner.provide_credentials().await.map_err(|e| {
                CredentialsError::provider_error(NoCredentials {
                    profile: self.name.clone(),
                    cause: cause(&e),
                })
            })
        })
    }
}

/// Why the profile gave no credentials, one sentence from the error and its sources; `None`
/// when it simply has none (the SDK's "not loaded" says nothing more).
fn cause(e: &CredentialsError) -> Option<String> {
    let mut parts = Vec::new();
    if !matches!(e, CredentialsError::CredentialsNotLoaded(_)) {
        parts.push(e.to_string());
    }
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        parts.push(s.to_string());
        next = s.source();
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// Profile `--profile NAME` gave no credentials. `aws::explain` finds this in an error's
/// sources and says so, instead of suggesting `--profile`.
#[derive(Debug)]
pub struct NoCredentials {
    pub profile: String,
    pub cause: Option<String>,
}

impl fmt::Display for NoCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [config, credentials] = searched_files();
        let p = &self.profile;
        match &self.cause {
            Some(cause) => write!(f, "profile {p:?} (--profile) gave no AWS credentials: {cause}")?,
            None => write!(f, "profile {p:?} (--profile) has no AWS credentials")?,
        }
        write!(
            f,
            ". Give it aws_access_key_id and aws_secret_access_key in {credentials}, or sso_* or role_arn settings in {config}; for SSO run `aws sso login --profile {p}`"
        )
    }
}

impl std::error::Error for NoCredentials {}

/// The [`NoCredentials`] among the sources of `err`, if any.
pub fn no_credentials<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a NoCredentials> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<NoCredentials>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

//! IAM and STS clients built from `config/root`: the configured keys or the
//! SDK's default credential chain, custom endpoints, regions (STS may have
//! its own, plus fallbacks tried in order), and the retry budget.

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};

use crate::path_config_root::RootConfig;

/// The region the reference falls back to when neither the config nor the
/// environment names one.
const DEFAULT_REGION: &str = "us-east-1";

/// An STS client for one endpoint/region; the engine tries them in order.
#[derive(Clone, Debug)]
pub struct StsTarget {
    pub client: aws_sdk_sts::Client,
    pub region: String,
}

#[derive(Clone, Debug)]
pub struct AwsClients {
    pub iam: aws_sdk_iam::Client,
    pub sts: Vec<StsTarget>,
}

/// The region from the config, else the environment (as the reference's
/// awsutil does), else `us-east-1`.
fn region_of(config: &RootConfig) -> String {
    if !config.region.is_empty() {
        return config.region.clone();
    }
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| DEFAULT_REGION.to_string())
}

/// `max_retries` as the SDK's retry policy: -1 keeps the service default,
/// otherwise it counts retries after the first attempt.
fn retry_config(max_retries: i64) -> RetryConfig {
    match u32::try_from(max_retries) {
        Ok(retries) => RetryConfig::standard().with_max_attempts(retries.saturating_add(1)),
        Err(_) => RetryConfig::standard(),
    }
}

pub async fn build(config: &RootConfig) -> AwsClients {
    let region = region_of(config);
    let credentials: Option<SharedCredentialsProvider> = if config.access_key.is_empty() {
        None
    } else {
        Some(SharedCredentialsProvider::new(Credentials::new(
            config.access_key.clone(),
            config.secret_key.clone(),
            None,
            None,
            "config/root",
        )))
    };
    // Only without static keys is the default chain loaded: it reads the
    // environment and shared files, and may ask the instance metadata service.
    let shared = match &credentials {
        Some(_) => None,
        None => Some(
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .load()
                .await,
        ),
    };
    let retry = retry_config(config.max_retries);

    let mut iam = match &shared {
        Some(sdk) => aws_sdk_iam::config::Builder::from(sdk),
        None => aws_sdk_iam::Config::builder().behavior_version(BehaviorVersion::latest()),
    }
    .region(Region::new(region.clone()))
    .retry_config(retry.clone());
    if let Some(creds) = &credentials {
        iam = iam.credentials_provider(creds.clone());
    }
    if !config.iam_endpoint.is_empty() {
        iam = iam.endpoint_url(config.iam_endpoint.clone());
    }

    let sts_region = if config.sts_region.is_empty() {
        region.clone()
    } else {
        config.sts_region.clone()
    };
    let mut targets = vec![(config.sts_endpoint.clone(), sts_region)];
    targets.extend(
        config
            .sts_fallback_endpoints
            .iter()
            .cloned()
            .zip(config.sts_fallback_regions.iter().cloned()),
    );
    let sts = targets
        .into_iter()
        .map(|(endpoint, region)| {
            let mut b = match &shared {
                Some(sdk) => aws_sdk_sts::config::Builder::from(sdk),
                None => aws_sdk_sts::Config::builder().behavior_version(BehaviorVersion::latest()),
            }
            .region(aws_sdk_sts::config::Region::new(region.clone()))
            .retry_config(retry.clone());
            if let Some(creds) = &credentials {
                b = b.credentials_provider(creds.clone());
            }
            if !endpoint.is_empty() {
                b = b.endpoint_url(endpoint);
            }
            StsTarget {
                client: aws_sdk_sts::Client::from_conf(b.build()),
                region,
            }
        })
        .collect();
    AwsClients {
        iam: aws_sdk_iam::Client::from_conf(iam.build()),
        sts,
    }
}

/// A failed AWS call, described as the reference's `awserr` texts are:
/// `<code>: <message>`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsError {
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn from_sdk<E, R>(err: &aws_sdk_iam::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_iam::error::ProvideErrorMetadata;
        let code = err.code().map(str::to_string);
        let message = match (err.code(), err.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_string(),
            _ => aws_sdk_iam::error::DisplayErrorContext(err).to_string(),
        };
        AwsError { code, message }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Throttling is the one AWS error the reference reports as a server
    /// error (awsutil.CheckAWSError); the rest are the caller's to fix.
    pub fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_retries_maps_to_attempts() {
        assert_eq!(retry_config(0).max_attempts(), 1);
        assert_eq!(retry_config(5).max_attempts(), 6);
        assert_eq!(
            retry_config(-1).max_attempts(),
            RetryConfig::standard().max_attempts()
        );
    }

    #[tokio::test]
    async fn endpoints_and_regions_reach_the_clients() {
        let config = RootConfig {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "secret".into(),
            region: "eu-west-1".into(),
            iam_endpoint: "http://127.0.0.1:1".into(),
            sts_endpoint: "http://127.0.0.1:2".into(),
            sts_region: "eu-central-1".into(),
            sts_fallback_endpoints: vec!["http://127.0.0.1:3".into()],
            sts_fallback_regions: vec!["us-west-2".into()],
            max_retries: 2,
            ..RootConfig::default()
        };
        let clients = build(&config).await;
        let iam = clients.iam.config();
        assert_eq!(iam.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(iam.retry_config().map(|r| r.max_attempts()), Some(3));
        let regions: Vec<&str> = clients.sts.iter().map(|t| t.region.as_str()).collect();
        assert_eq!(regions, ["eu-central-1", "us-west-2"]);
    }
}

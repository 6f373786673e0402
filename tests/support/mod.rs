//! The AWS emulator the `aws_*` tests and the DynamoDB conformance run use.
//!
//! One moto server per test binary, started on first use on a free loopback
//! port from the project's venv (`scripts/setup-test-env.sh` creates it) in
//! one-request-at-a-time mode (`scripts/moto-server.py` says why). Tests are
//! isolated by unique table, topic and queue names, and get clients configured
//! explicitly for the emulator: the process environment, which parallel tests
//! share, is never changed.
//!
//! Without the venv or moto the tests print that they are skipping and pass,
//! so `cargo test` works on a bare checkout; with `CI=true` they fail instead,
//! so CI cannot go green without running them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Credentials, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use faultline::store::Store;
use faultline::store::dynamodb::DynamoDbStore;

pub mod capacity;
pub mod proxy;

/// A running moto server; killed when dropped (the shared one also exits on
/// its own when the test binary does, see `--parent-pid`).
pub struct Moto {
    child: Mutex<Child>,
    pub endpoint: String,
    pub port: u16,
}

impl Moto {
    /// Runs the `faultline` binary in `cwd` against this emulator, through
    /// nothing but the standard AWS environment a user would set; the
    /// caller's own store, notifier and profile settings are removed.
    pub fn faultline(&self, cwd: &Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(args)
            .current_dir(cwd)
            .env_remove("FAULTLINE_STORE")
            .env_remove("FAULTLINE_NOTIFY")
            .env_remove("AWS_PROFILE")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run faultline")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    root().join(".venv/bin/python")
}

fn moto_installed(venv: &Path) -> bool {
    std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|python| python.path().join("site-packages/moto/server.py").exists())
}

/// The shared emulator, or `None` (after saying so loudly) when it is not
/// installed. Under `CI=true` a missing emulator fails the test instead.
pub fn moto() -> Option<&'static Moto> {
    MOTO.get_or_init(|| {
        let python = venv_python();
        if !python.exists() || !moto_installed(&root().join(".venv")) {
            let why = format!(
                "moto is not installed in {} (run scripts/setup-test-env.sh)",
                root().join(".venv").display()
            );
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true and the AWS emulator is missing: {why}");
            }
            // Straight to stderr: libtest hides eprintln! of passing tests.
            let _ = writeln!(std::io::stderr(), "\n*** SKIPPING AWS TESTS: {why} ***\n");
            return None;
        }
        Some(start(&python))
    })
    .as_ref()
}

/// A moto server of the caller's own, for a test that changes the whole
/// server (enforcing IAM); killed when dropped.
pub fn own_moto() -> Option<Moto> {
    moto()?;
    Some(start(&venv_python()))
}

/// From now on `moto` checks every request against IAM, as AWS does: the
/// user this makes, allowed exactly `actions` on every resource, is the
/// one whose access key (id, secret) comes back; the "testing" key the
/// other helpers use no longer works. moto names the action of a
/// `TransactWriteItems` after the request, where IAM governs it by the
/// actions inside it, so that name is granted beside `actions`.
pub fn enforce_iam(moto: &Moto, actions: &[String]) -> (String, String) {
    let script = r#"
import json, sys, urllib.request
import boto3
endpoint, actions = sys.argv[1], json.loads(sys.argv[2])
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="function")
iam.put_user_policy(UserName="function", PolicyName="function", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
key = iam.create_access_key(UserName="function")["AccessKey"]
# As plain text: a form body would be parsed away before moto reads it.
urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0",
                                              method="POST", headers={"Content-Type": "text/plain"}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let mut granted = actions.to_vec();
    granted.push("dynamodb:TransactWriteItems".into());
    let out = Command::new(venv_python())
        .args(["-c", script, &moto.endpoint])
        .arg(serde_json::to_string(&granted).expect("actions as JSON"))
        .output()
        .expect("run the venv's python");
    assert!(
        out.status.success(),
        "making the IAM user failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let mut key = printed.split_whitespace().map(str::to_string);
    match (key.next(), key.next()) {
        (Some(id), Some(secret)) => (id, secret),
        _ => panic!("no access key printed: {printed}"),
    }
}

/// The IAM actions template.yaml grants the function: those of the
/// `Policies` of `FunctionRole` (not of its trust policy, which lets Lambda
/// assume it).
pub fn function_actions() -> Vec<String> {
    let template = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let (mut in_role, mut in_policies) = (false, false);
    let mut actions = Vec::new();
    for line in template.lines() {
        // Resources sit two spaces in: the role's block ends at the next.
        if line.len() > 2 && line.starts_with("  ") && !line.starts_with("   ") {
            in_role = line.trim_end() == "  FunctionRole:";
            in_policies = false;
            continue;
        }
        let item = line.trim();
        in_policies |= in_role && item == "Policies:";
        if in_policies
            && let Some(action) = item
                .strip_prefix("- ")
                .or_else(|| item.strip_prefix("Action: "))
            && action.contains(':')
            && !action.contains(' ')
        {
            actions.push(action.to_string());
        }
    }
    actions
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

fn start(python: &Path) -> Moto {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("faultline-moto-{port}.log"));
    let log_file = std::fs::File::create(&log).expect("create the moto log");
    let child = Command::new(python)
        .arg(root().join("scripts/moto-server.py"))
        .args(["--parent-pid", &std::process::id().to_string()])
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone log handle"))
        .stderr(log_file)
        .spawn()
        .expect("start moto");
    let moto = Moto {
        child: Mutex::new(child),
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = moto.child.lock().expect("moto child").try_wait() {
            panic!("moto exited with {status}; see {}", log.display());
        }
        assert!(
            Instant::now() < deadline,
            "moto did not listen on port {port} within 30 s; see {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "moto listening on {} (log: {})",
        moto.endpoint,
        log.display()
    );
    moto
}

/// A name no other test of this run uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Moto {
    /// SDK configuration for the emulator: faultline's own loader (so the
    /// HTTP client and timeouts are the production ones) with the region,
    /// endpoint and dummy credentials set explicitly.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_at(&self.endpoint).await
    }

    /// The same, pointed at another endpoint (a dead port, to make calls fail).
    pub async fn sdk_config_at(&self, endpoint: &str) -> SdkConfig {
        faultline::aws::loader()
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    pub async fn dynamodb(&self, log: Option<&RequestLog>) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config().await);
        if let Some(log) = log {
            config = config.interceptor(log.clone());
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    pub async fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk_config().await)
    }

    pub async fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk_config().await)
    }

    /// A store on a fresh table, created through `Store::init`.
    pub async fn fresh_store(&self, prefix: &str, log: Option<&RequestLog>) -> DynamoDbStore {
        let table = unique(prefix);
        let store = DynamoDbStore::new(self.dynamodb(log).await, &table).expect("valid table name");
        store.init().await.expect("create the table");
        store
    }

    /// A fresh topic with a fresh SQS queue subscribed to it.
    pub async fn topic_with_queue(&self, prefix: &str) -> (String, String) {
        let topic_arn = self
            .sns()
            .await
            .create_topic()
            .name(unique(prefix))
            .send()
            .await
            .expect("create topic")
            .topic_arn()
            .expect("topic arn")
            .to_string();
        let queue_url = self.subscribe_queue(&topic_arn, None).await;
        (topic_arn, queue_url)
    }

    /// A fresh SQS queue subscribed to `topic_arn` (SNS envelope, not raw
    /// delivery, so subject and attributes can be read back), optionally
    /// with a subscription filter policy.
    pub async fn subscribe_queue(&self, topic_arn: &str, filter_policy: Option<&str>) -> String {
        let sqs = self.sqs().await;
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("queue"))
            .send()
            .await
            .expect("create queue")
            .queue_url()
            .expect("queue url")
            .to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("queue arn")
            .to_string();
        let mut subscribe = self
            .sns()
            .await
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(&queue_arn);
        if let Some(policy) = filter_policy {
            subscribe = subscribe.attributes("FilterPolicy", policy);
        }
        subscribe.send().await.expect("subscribe queue");
        queue_url
    }

    /// Every SNS envelope waiting in a queue, parsed, and deleted from it.
    pub async fn drain(&self, queue_url: &str) -> Vec<serde_json::Value> {
        // SNS to SQS delivery in moto is synchronous with Publish, so what
        // was published is already there.
        let sqs = self.sqs().await;
        let mut out = Vec::new();
        loop {
            let received = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let messages = received.messages();
            if messages.is_empty() {
                return out;
            }
            for message in messages {
                let body = message.body().expect("message body");
                out.push(serde_json::from_str(body).expect("SNS envelope is JSON"));
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().expect("receipt handle"))
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
}

/// A fresh DynamoDB store for the conformance suite, or `None` when skipping.
pub async fn dynamodb_store() -> Option<(Box<dyn Store>, ())> {
    let moto = moto()?;
    let table = moto
        .fresh_store("conformance", None)
        .await
        .table()
        .to_string();
    // Semantics, not speed: moto copies the whole table for every
    // transaction, which on a busy machine can outlast the production
    // timeouts (src/aws/mod.rs) where DynamoDB answers in milliseconds.
    let client = patient(&moto.sdk_config().await);
    let store = DynamoDbStore::new(client, &table).expect("valid table name");
    Some((Box::new(store) as Box<dyn Store>, ()))
}

/// A DynamoDB client with the production configuration but timeouts made
/// for moto's transactions, whose cost grows with the table.
pub fn patient(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(300))
        .operation_timeout(std::time::Duration::from_secs(600))
        .build();
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(patient)
            .build(),
    )
}

/// Counts the HTTP requests a DynamoDB client sends, by operation
/// (`X-Amz-Target` without the API version), retries included.
#[derive(Clone, Debug, Default)]
pub struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("request log"))
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("unknown");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        self.0
            .lock()
            .map_err(|_| "request log poisoned")?
            .push(operation);
        Ok(())
    }
}

/// A CloudWatch Logs DATA_MESSAGE (the decoded form `faultline ingest`
/// and the pipeline accept) with one event per message.
pub fn data_message(
    log_group: &str,
    log_stream: &str,
    first_id: u64,
    messages: &[String],
) -> Vec<u8> {
    data_message_at(
        log_group,
        log_stream,
        first_id,
        1_763_900_000_000i64 + first_id as i64,
        messages,
    )
}

/// The same, with the first event at `start` (epoch ms) and each next one a
/// millisecond later.
pub fn data_message_at(
    log_group: &str,
    log_stream: &str,
    first_id: u64,
    start: i64,
    messages: &[String],
) -> Vec<u8> {
    let events: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::json!({
                "id": format!("{:056}", first_id + i as u64),
                "timestamp": start + i as i64,
                "message": m,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["faultline"],
        "logEvents": events,
    }))
    .expect("serialise a DATA_MESSAGE")
}

/// An error kind named by letters only (fingerprints mask digits).
pub fn kind_name(i: usize) -> String {
    let mut name = String::new();
    let mut n = i;
    loop {
        name.push((b'A' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    format!("Kind{name}Error")
}

/// `batches` batches of one log group in which every batch repeats three
/// shared errors (so concurrent writers race on the same issues) and adds
/// one of its own (so each batch also creates an issue), among INFO lines.
pub fn overlapping_batches(log_group: &str, batches: usize) -> Vec<Vec<u8>> {
    (0..batches)
        .map(|b| {
            let mut messages = Vec::new();
            for i in 0..(4 + b % 3) {
                messages.push(format!("[ERROR] SharedTimeoutError: call {i} timed out"));
                messages.push("INFO still working".to_string());
            }
            messages.push("[ERROR] KeyError: 'action'".to_string());
            messages.push(format!("[ERROR] {}: only in batch {b}", kind_name(b)));
            messages.push("[ERROR] ValueError: bad row 17".to_string());
            data_message(
                log_group,
                &format!("stream-{b}"),
                (b as u64) * 1000,
                &messages,
            )
        })
        .collect()
}

/// The `issue_ids` attribute of every SNS envelope that announces issues,
/// split: one entry per issue announced. Run digests name the issues a run
/// had, new or not, and are left out.
pub fn announced_issue_ids(envelopes: &[serde_json::Value]) -> Vec<String> {
    let mut ids: Vec<String> = envelopes
        .iter()
        .filter(|e| e["MessageAttributes"]["event_type"]["Value"] != "run_digest")
        .flat_map(|e| {
            e["MessageAttributes"]["issue_ids"]["Value"]
                .as_str()
                .expect("issue_ids attribute")
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids
}

/// What every concurrent run must end with: each issue of `counted`
/// (sorted by id, as [`snapshot`] gives them) announced exactly once on
/// `queue`, and nothing left in the store's outbox.
pub async fn assert_each_issue_announced_once(
    moto: &Moto,
    queue: &str,
    store: &dyn Store,
    counted: &[(String, u64, i64, i64, String, String)],
) {
    let ids: Vec<String> = counted.iter().map(|i| i.0.clone()).collect();
    assert_eq!(
        announced_issue_ids(&moto.drain(queue).await),
        ids,
        "exactly one alert per new issue"
    );
    let now = faultline::pipeline::system_clock();
    let lease = faultline::pipeline::ALERT_LEASE_MS;
    assert!(
        store
            .claim_alerts(now + 10 * lease, lease, usize::MAX)
            .await
            .expect("outbox readable")
            .is_empty(),
        "nothing left in the outbox"
    );
}

/// The Lambda inputs shipped in events/ (CONTROL_MESSAGE included).
pub fn shipped_events() -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("events"))
        .expect("events/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("read event"))
        .collect()
}

/// What the issues of a store look like, for comparing two stores.
pub async fn snapshot(store: &dyn Store) -> Vec<(String, u64, i64, i64, String, String)> {
    let mut issues: Vec<_> = store
        .issues(faultline::model::StatusFilter::All)
        .await
        .expect("list issues")
        .into_iter()
        .map(|i| {
            (
                i.id,
                i.count,
                i.first_seen,
                i.last_seen,
                i.status.as_str().to_string(),
                i.title,
            )
        })
        .collect();
    issues.sort();
    issues
}

/// Every issue with its samples, hours and facets, by id.
pub async fn details(store: &dyn Store) -> Vec<faultline::model::IssueDetail> {
    let mut out = Vec::new();
    for (id, ..) in snapshot(store).await {
        out.push(
            store
                .issue(&id)
                .await
                .expect("read issue")
                .expect("listed issue exists"),
        );
    }
    out
}

/// The inputs recorded sequentially by the reference (SQLite) store, which
/// is returned to be inspected (with the folder that holds it).
pub async fn reference_store(
    inputs: &[Vec<u8>],
) -> (faultline::pipeline::Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("reference.db").display());
    let pipeline = faultline::pipeline::Pipeline::new(
        faultline::store::open(&url).await.expect("open sqlite"),
        Box::new(faultline::notify::Discard),
    );
    for input in inputs {
        pipeline.ingest(input).await.expect("reference ingest");
    }
    (pipeline, dir)
}

/// The same inputs recorded sequentially by the reference (SQLite) store.
pub async fn reference(inputs: &[Vec<u8>]) -> Vec<(String, u64, i64, i64, String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("reference.db").display());
    let pipeline = faultline::pipeline::Pipeline::new(
        faultline::store::open(&url).await.expect("open sqlite"),
        Box::new(faultline::notify::Discard),
    );
    for input in inputs {
        pipeline.ingest(input).await.expect("reference ingest");
    }
    snapshot(pipeline.store.as_ref()).await
}

/// Every item of `table`, page by page.
pub async fn scan(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return items,
        }
    }
}

/// An item as DynamoDB's JSON prints it (a Scan's output, a fixture) as the
/// SDK sends it.
pub fn item_from_json(value: &serde_json::Value) -> HashMap<String, AttributeValue> {
    value
        .as_object()
        .expect("an item is an object")
        .iter()
        .map(|(k, v)| (k.clone(), attribute_from_json(v)))
        .collect()
}

/// One attribute as DynamoDB's JSON prints it (`{"S": "..."}`).
pub fn attribute_from_json(value: &serde_json::Value) -> AttributeValue {
    let (kind, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("an attribute is a one-key object");
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_string();
    match kind.as_str() {
        "S" => AttributeValue::S(text(inner)),
        "N" => AttributeValue::N(text(inner)),
        "BOOL" => AttributeValue::Bool(inner.as_bool().expect("a boolean")),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(inner.as_array().expect("a list").iter().map(text).collect()),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .expect("a list")
                .iter()
                .map(attribute_from_json)
                .collect(),
        ),
        "M" => AttributeValue::M(item_from_json(inner)),
        other => panic!("attribute type {other} is not in any fixture"),
    }
}

/// Which keys [`queue_alerts`] puts alerts under.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AlertKeys {
    /// Their bare id, as faultline queued them before layout 5.
    BareId,
    /// Their age and id, as faultline queues them now.
    ByAge,
}

/// Puts `count` new-issue alerts of about 3 KB each (a 2.5 KB sample, as
/// queued alerts carry) straight into `table`'s outbox, as the stores'
/// writes queue them under `keys`, 25 a request. The first is the oldest,
/// queued `count` ms before `now`; the rest a millisecond apart.
pub async fn queue_alerts(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    count: usize,
    now: i64,
    keys: AlertKeys,
) {
    queue_alerts_from(client, table, 0, count, now, keys).await;
}

/// The same, numbering the alerts' ids from `first`.
pub async fn queue_alerts_from(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    first: usize,
    count: usize,
    now: i64,
    keys: AlertKeys,
) {
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
    use faultline::model::{Alert, AlertIssue, EventType, Sample};
    let s = |v: String| AttributeValue::S(v);
    let n = |v: i64| AttributeValue::N(v.to_string());
    let requests: Vec<WriteRequest> = (0..count)
        .map(|n_th| {
            let i = first + n_th;
            let alert = Alert {
                id: format!("b{i:05}:new_issue"),
                event_type: EventType::NewIssue,
                log_group: "/aws/batch/etl".into(),
                created_at: now - (count - n_th) as i64,
                issues: vec![AlertIssue {
                    id: format!("{i:012x}"),
                    fingerprint: format!("v3:{i:032x}"),
                    kind: "KeyError".into(),
                    title: format!("KeyError: 'field_{i}'"),
                    count: 1,
                    first_seen: now,
                    sample: Some(Sample {
                        log_group: "/aws/batch/etl".into(),
                        log_stream: "etl/default/abc".into(),
                        event_id: format!("{i}"),
                        timestamp: now,
                        kind: "KeyError".into(),
                        message: format!("KeyError: 'field_{i}' {}", "x".repeat(2_500)),
                        shape: "python-text".into(),
                        fields: Vec::new(),
                    }),
                }],
                run: None,
            };
            let sk = match keys {
                AlertKeys::BareId => alert.id.clone(),
                AlertKeys::ByAge => {
                    faultline::store::dynamodb::queued_alert_sk(alert.created_at, &alert.id)
                }
            };
            let item = HashMap::from([
                ("pk".to_string(), s("OUTBOX".into())),
                ("sk".to_string(), s(sk)),
                (
                    "payload".to_string(),
                    s(serde_json::to_string(&alert).unwrap()),
                ),
                ("created_at".to_string(), n(alert.created_at)),
                ("lease_until".to_string(), n(0)),
                ("attempts".to_string(), n(0)),
            ]);
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        })
        .collect();
    for chunk in requests.chunks(25) {
        let out = client
            .batch_write_item()
            .request_items(table, chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            out.unprocessed_items().is_none_or(|u| u.is_empty()),
            "moto takes every put"
        );
    }
}

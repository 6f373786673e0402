//! A fault-injecting HTTP/1.1 proxy between faultline's AWS clients and moto.
//!
//! The SDK clients of a test point at [`Proxy::endpoint`]; the proxy reads
//! each request, names its operation (`X-Amz-Target` for DynamoDB's JSON
//! protocol, the form's `Action` for SNS's query protocol), consults a fault
//! plan and either forwards it to moto or does something worse:
//!
//! - answers a throttling error or a 500 itself (moto never sees the request);
//! - closes the connection before forwarding (the request is lost);
//! - forwards, lets moto apply the request, and closes the connection without
//!   returning the response: the write happened but the client cannot know.
//!   That last one is the hard case for exactly-once, and the reason this
//!   proxy exists; moto alone cannot produce it.
//!
//! Faults are planned by operation and occurrence ("the 3rd
//! TransactWriteItems") or drawn at a seeded rate, so a sequential test sees
//! the same faults on every run. Everything the proxy saw is logged, so a
//! test can assert that its faults really happened (a plan that never fires
//! would let a test pass without testing anything).
//!
//! Plain std threads: one acceptor, one thread per client connection, every
//! socket with a timeout, and one fresh upstream connection per request
//! (`Connection: close`), so nothing can hang a test for longer than a
//! timeout and no upstream state is shared between requests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::capacity::{Meter, Target};

/// An idle client connection is closed after this long (the SDK opens a new
/// one when it needs to).
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to and hearing back from moto (a single-threaded server that
/// may be busy with other clients' requests).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The same for a metering proxy, which measures rather than injects
/// faults: moto needs minutes for one transaction on a table of thousands
/// of items (it copies the table for each), and a measurement cut off by
/// the proxy measures nothing.
const METERED_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(600);
/// Requests larger than this are refused (DynamoDB's own limit is 16 MB).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the proxy does to one request instead of simply forwarding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 400 `ThrottlingException` (SNS: `Throttling`), not forwarded.
    Throttle,
    /// 400 `ProvisionedThroughputExceededException`, not forwarded.
    ProvisionedThroughputExceeded,
    /// 500 `InternalServerError` (SNS: `InternalError`), not forwarded.
    ServerError,
    /// The connection is closed before the request reaches moto.
    DropBeforeForward,
    /// moto applies the request; the connection is closed before the client
    /// reads a byte of the response.
    DropAfterForward,
}

impl Fault {
    /// Whether moto saw (and applied) the request.
    pub fn forwarded(self) -> bool {
        self == Fault::DropAfterForward
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `TransactWriteItems`, `Publish`, ...
    pub operation: String,
    /// 1-based, per operation.
    pub occurrence: usize,
    pub fault: Option<Fault>,
}

/// Faults drawn at a seeded rate: reproducible for a sequential test,
/// because requests then arrive in the same order on every run.
struct RandomFaults {
    operations: Vec<String>,
    per_mille: u64,
    faults: Vec<Fault>,
    state: u64,
}

impl RandomFaults {
    /// splitmix64: tiny, good enough, and no crate needed.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn draw(&mut self, operation: &str) -> Option<Fault> {
        if !self.operations.iter().any(|o| o == operation) || self.faults.is_empty() {
            return None;
        }
        if self.next() % 1000 >= self.per_mille {
            return None;
        }
        let pick = (self.next() % self.faults.len() as u64) as usize;
        Some(self.faults[pick])
    }
}

#[derive(Default)]
struct Plan {
    /// (operation, occurrence) -> fault.
    planned: HashMap<(String, usize), Fault>,
    random: Option<RandomFaults>,
    counts: HashMap<String, usize>,
    seen: Vec<Seen>,
}

impl Plan {
    fn decide(&mut self, operation: &str) -> Option<Fault> {
        let occurrence = {
            let n = self.counts.entry(operation.to_string()).or_default();
            *n += 1;
            *n
        };
        let fault = self
            .planned
            .remove(&(operation.to_string(), occurrence))
            .or_else(|| self.random.as_mut().and_then(|r| r.draw(operation)));
        self.seen.push(Seen {
            operation: operation.to_string(),
            occurrence,
            fault,
        });
        fault
    }
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    stop: AtomicBool,
    /// Prices every DynamoDB request that reaches moto, when set.
    meter: Option<Arc<Meter>>,
    /// How long moto may take to answer one request.
    upstream_timeout: Duration,
}

/// A running proxy; stops accepting when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, for an SDK client's endpoint URL.
    pub endpoint: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream`
    /// (`http://127.0.0.1:PORT`, moto's endpoint).
    pub fn start(upstream: &str) -> Proxy {
        Proxy::start_with(upstream, None)
    }

    /// A proxy that also prices every DynamoDB request reaching moto on
    /// `meter` (tests/support/capacity.rs).
    pub fn metered(upstream: &str, meter: Arc<Meter>) -> Proxy {
        Proxy::start_with(upstream, Some(meter))
    }

    fn start_with(upstream: &str, meter: Option<Arc<Meter>>) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream is http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(Plan::default()),
            stop: AtomicBool::new(false),
            upstream_timeout: if meter.is_some() {
                METERED_UPSTREAM_TIMEOUT
            } else {
                UPSTREAM_TIMEOUT
            },
            meter,
        });
        let accepting = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if accepting.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let shared = Arc::clone(&accepting);
                    let _ = std::thread::Builder::new()
                        .name("fault-proxy-conn".into())
                        .spawn(move || serve(client, &shared));
                }
            })
            .expect("start the proxy thread");
        Proxy {
            endpoint: format!("http://{addr}"),
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.shared.plan.lock().expect("fault plan")
    }

    /// `fault` on the `occurrence`-th (1-based) request of `operation`.
    pub fn fail(&self, operation: &str, occurrence: usize, fault: Fault) -> &Proxy {
        self.plan()
            .planned
            .insert((operation.to_string(), occurrence), fault);
        self
    }

    /// `fault` on each of these occurrences of `operation`.
    pub fn fail_each(&self, operation: &str, occurrences: &[usize], fault: Fault) -> &Proxy {
        for &n in occurrences {
            self.fail(operation, n, fault);
        }
        self
    }

    /// From now on, each request of `operations` fails with probability
    /// `per_mille`/1000, with a fault drawn from `faults`, from a generator
    /// seeded with `seed`.
    pub fn fail_randomly(&self, seed: u64, per_mille: u64, operations: &[&str], faults: &[Fault]) {
        self.plan().random = Some(RandomFaults {
            operations: operations.iter().map(|o| o.to_string()).collect(),
            per_mille,
            faults: faults.to_vec(),
            state: seed,
        });
    }

    /// Stops injecting faults (planned ones not yet reached are dropped).
    pub fn heal(&self) {
        let mut plan = self.plan();
        plan.planned.clear();
        plan.random = None;
    }

    /// Every request seen so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.plan().seen.clone()
    }

    /// How many requests of `operation` were seen.
    pub fn count(&self, operation: &str) -> usize {
        self.plan().counts.get(operation).copied().unwrap_or(0)
    }

    /// How many requests of `operation` got `fault`.
    pub fn injected(&self, operation: &str, fault: Fault) -> usize {
        self.plan()
            .seen
            .iter()
            .filter(|s| s.operation == operation && s.fault == Some(fault))
            .count()
    }

    /// Planned faults whose occurrence has not come yet: a test asserts this
    /// is empty so that it cannot pass without its faults having fired.
    pub fn pending(&self) -> Vec<(String, usize, Fault)> {
        let mut left: Vec<_> = self
            .plan()
            .planned
            .iter()
            .map(|((op, n), f)| (op.clone(), *n, *f))
            .collect();
        left.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        left
    }

    /// A one-line summary of the faults injected, for test output.
    pub fn summary(&self) -> String {
        let mut by: HashMap<(String, Fault), usize> = HashMap::new();
        for s in self.plan().seen.iter() {
            if let Some(f) = s.fault {
                *by.entry((s.operation.clone(), f)).or_default() += 1;
            }
        }
        let mut parts: Vec<String> = by
            .into_iter()
            .map(|((op, f), n)| format!("{op} {f:?} x{n}"))
            .collect();
        parts.sort();
        if parts.is_empty() {
            "no faults".into()
        } else {
            parts.join(", ")
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag. Connection threads end when
        // their client goes away or idles out.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// An HTTP/1.1 request or response: start line, headers, body.
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The AWS operation: `X-Amz-Target` without its API prefix (JSON
    /// protocols), else the form's `Action` (query protocol).
    fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_string)
            .unwrap_or_else(|| "unknown".into())
    }

    /// Serialised with a Content-Length body and the given connection
    /// handling; hop-by-hop headers of the original are left out.
    fn to_bytes(&self, connection: &str) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start).into_bytes();
        for (name, value) in &self.headers {
            let hop = [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "content-length",
            ]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
            if !hop {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads one message; `Ok(None)` on a clean end of stream before it starts.
/// `to_eof`: a response whose length is not given runs to the end of the
/// stream (we always ask moto for `Connection: close`).
fn read_message(reader: &mut impl BufRead, to_eof: bool) -> std::io::Result<Option<Message>> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut head_bytes = 0;
    let mut start = String::new();
    if reader.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    head_bytes += start.len();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("end of stream inside the headers"));
        }
        head_bytes += line.len();
        if head_bytes > MAX_HEAD_BYTES {
            return Err(bad("headers too large"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("malformed header"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut message = Message {
        start: start.trim_end_matches(['\r', '\n']).to_string(),
        headers,
        body: Vec::new(),
    };
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        message.body = read_chunked(reader)?;
    } else if let Some(length) = message.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("bad Content-Length"))?;
        if length > MAX_BODY_BYTES {
            return Err(bad("body too large"));
        }
        message.body = vec![0; length];
        reader.read_exact(&mut message.body)?;
    } else if to_eof {
        reader
            .take(MAX_BODY_BYTES as u64)
            .read_to_end(&mut message.body)?;
    }
    Ok(Some(message))
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_hex = size_line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
        if body.len() + size > MAX_BODY_BYTES {
            return Err(bad("body too large"));
        }
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Serves one client connection, request after request (keep-alive), until
/// the client closes it, it idles out, or a fault drops it.
fn serve(client: TcpStream, shared: &Shared) {
    let _ = client.set_read_timeout(Some(CLIENT_IDLE_TIMEOUT));
    let _ = client.set_write_timeout(Some(shared.upstream_timeout));
    let Ok(writer) = client.try_clone() else {
        return;
    };
    let mut writer = writer;
    let mut reader = BufReader::new(client);
    while let Ok(Some(request)) = read_message(&mut reader, false) {
        let operation = request.operation();
        let fault = shared.plan.lock().expect("fault plan").decide(&operation);
        let json = request.header("x-amz-target").is_some();
        let response = match fault {
            None => forward_metered(shared, &request),
            Some(Fault::DropBeforeForward) => break,
            Some(Fault::DropAfterForward) => {
                // moto applies it (and bills it); the client never hears.
                let _ = forward_metered(shared, &request);
                break;
            }
            Some(error) => Ok(error_response(error, json)),
        };
        let sent = match response {
            Ok(response) => writer.write_all(&response.to_bytes("keep-alive")),
            // moto unreachable: the client sees what a real outage looks like.
            Err(_) => break,
        };
        if sent.and_then(|()| writer.flush()).is_err() {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Forwards `request`, pricing it on the meter if there is one: the items
/// a write names are read from moto before and after it, with every other
/// metered request held back meanwhile.
fn forward_metered(shared: &Shared, request: &Message) -> std::io::Result<Message> {
    let Some(meter) = shared.meter.as_deref() else {
        return forward(shared.upstream, shared.upstream_timeout, request);
    };
    let body: serde_json::Value = match (
        request.header("x-amz-target"),
        serde_json::from_slice(&request.body),
    ) {
        (Some(target), Ok(body)) if target.starts_with("DynamoDB_") => body,
        _ => return forward(shared.upstream, shared.upstream_timeout, request),
    };
    let operation = request.operation();
    let _serial = meter.serial.lock().expect("meter");
    for table in meter.unknown_tables(&body) {
        let described = call(
            shared.upstream,
            request,
            "DescribeTable",
            serde_json::json!({ "TableName": table }),
        )?;
        meter.describe_table(&table, &described);
    }
    let targets = meter.targets(&operation, &body);
    let before = read_images(shared.upstream, request, &targets)?;
    let response = forward(shared.upstream, shared.upstream_timeout, request)?;
    let status = response
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let after = if status == 200 {
        read_images(shared.upstream, request, &targets)?
    } else {
        before.clone()
    };
    let mut answer = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
    if status == 200 {
        if let Some(whole) = read_whole(&operation, &body) {
            // What the request read, whole, is what DynamoDB bills.
            answer = call(shared.upstream, request, &operation, whole)?;
        }
    }
    meter.charge(&operation, &body, status, &answer, &before, &after);
    Ok(response)
}

/// A Query or Scan that returns less than it reads (a projection, a
/// filter, or a count), asked again so that it returns every item it read,
/// whole: the same key condition, `Limit` and start key read the same
/// items. `None` for any other request.
fn read_whole(operation: &str, body: &serde_json::Value) -> Option<serde_json::Value> {
    const NARROWING: [&str; 3] = ["ProjectionExpression", "FilterExpression", "Select"];
    if !matches!(operation, "Query" | "Scan") || NARROWING.iter().all(|k| body[*k].is_null()) {
        return None;
    }
    let mut whole = body.as_object()?.clone();
    for key in NARROWING {
        whole.remove(key);
    }
    // What only the dropped expressions named would be refused as unused.
    let kept = whole
        .get("KeyConditionExpression")
        .and_then(|e| e.as_str())
        .unwrap_or("")
        .to_string();
    for field in ["ExpressionAttributeNames", "ExpressionAttributeValues"] {
        if let Some(map) = whole.get_mut(field).and_then(|m| m.as_object_mut()) {
            map.retain(|name, _| kept.contains(name.as_str()));
            if map.is_empty() {
                whole.remove(field);
            }
        }
    }
    Some(serde_json::Value::Object(whole))
}

/// The current image of each target, read from moto (strongly consistent,
/// 100 keys a request, never metered).
fn read_images(
    upstream: SocketAddr,
    like: &Message,
    targets: &[Target],
) -> std::io::Result<Vec<Option<serde_json::Map<String, serde_json::Value>>>> {
    let mut found: HashMap<(String, String), serde_json::Map<String, serde_json::Value>> =
        HashMap::new();
    let key_id = |key: &serde_json::Map<String, serde_json::Value>| {
        serde_json::to_string(&key.iter().collect::<std::collections::BTreeMap<_, _>>())
            .unwrap_or_default()
    };
    for group in targets.chunks(100) {
        let mut by_table: HashMap<&str, Vec<serde_json::Value>> = HashMap::new();
        for t in group {
            let keys = by_table.entry(t.table.as_str()).or_default();
            let key = serde_json::Value::Object(t.key.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut pending: serde_json::Map<String, serde_json::Value> = by_table
            .into_iter()
            .map(|(table, keys)| {
                (
                    table.to_string(),
                    serde_json::json!({ "Keys": keys, "ConsistentRead": true }),
                )
            })
            .collect();
        while !pending.is_empty() {
            let answer = call(
                upstream,
                like,
                "BatchGetItem",
                serde_json::json!({ "RequestItems": pending }),
            )?;
            for (table, items) in answer["Responses"].as_object().into_iter().flatten() {
                for item in items.as_array().into_iter().flatten() {
                    let Some(item) = item.as_object() else {
                        continue;
                    };
                    let key: serde_json::Map<String, serde_json::Value> = targets
                        .iter()
                        .find(|t| {
                            t.table == *table && t.key.iter().all(|(k, v)| item.get(k) == Some(v))
                        })
                        .map(|t| t.key.clone())
                        .unwrap_or_default();
                    found.insert((table.clone(), key_id(&key)), item.clone());
                }
            }
            pending = answer["UnprocessedKeys"]
                .as_object()
                .cloned()
                .unwrap_or_default();
        }
    }
    Ok(targets
        .iter()
        .map(|t| found.get(&(t.table.clone(), key_id(&t.key))).cloned())
        .collect())
}

/// A DynamoDB call straight to moto at `endpoint` (`http://IP:PORT`) in
/// DynamoDB's JSON protocol, unsigned (moto checks no signature), for tests
/// that read or load a table's raw items.
pub fn dynamodb_call(
    endpoint: &str,
    operation: &str,
    body: serde_json::Value,
) -> std::io::Result<serde_json::Value> {
    let upstream: SocketAddr = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let like = Message {
        start: String::new(),
        headers: vec![(
            "Authorization".into(),
            "AWS4-HMAC-SHA256 Credential=testing/20251123/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0".into(),
        )],
        body: Vec::new(),
    };
    call(upstream, &like, operation, body)
}

/// A DynamoDB call of the proxy's own, with the credentials of `like` (moto
/// reads the account and region from them but checks no signature).
fn call(
    upstream: SocketAddr,
    like: &Message,
    operation: &str,
    body: serde_json::Value,
) -> std::io::Result<serde_json::Value> {
    let mut headers = vec![
        ("Host".to_string(), upstream.to_string()),
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.0".to_string(),
        ),
        (
            "X-Amz-Target".to_string(),
            format!("DynamoDB_20120810.{operation}"),
        ),
    ];
    if let Some(auth) = like.header("authorization") {
        headers.push(("Authorization".to_string(), auth.to_string()));
    }
    let request = Message {
        start: "POST / HTTP/1.1".into(),
        headers,
        body: body.to_string().into_bytes(),
    };
    let response = forward(upstream, METERED_UPSTREAM_TIMEOUT, &request)?;
    serde_json::from_slice(&response.body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Sends `request` to moto on a fresh connection and reads the response.
fn forward(upstream: SocketAddr, timeout: Duration, request: &Message) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect_timeout(&upstream, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(&request.to_bytes("close"))?;
    stream.flush()?;
    read_message(&mut BufReader::new(stream), true)?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "moto closed without a response",
        )
    })
}

/// The error a throttled or failing AWS service returns, in the request's
/// protocol: JSON for DynamoDB (`__type` carries the code), XML for SNS.
fn error_response(fault: Fault, json: bool) -> Message {
    let (status, json_code, query_code) = match fault {
        Fault::Throttle => (400, "ThrottlingException", "Throttling"),
        Fault::ProvisionedThroughputExceeded => {
            (400, "ProvisionedThroughputExceededException", "Throttling")
        }
        _ => (500, "InternalServerError", "InternalError"),
    };
    let reason = if status == 400 {
        "Bad Request"
    } else {
        "Internal Server Error"
    };
    let message = format!("injected by the fault proxy ({fault:?})");
    let (content_type, body) = if json {
        (
            "application/x-amz-json-1.0",
            serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{json_code}"),
                "message": message,
            })
            .to_string(),
        )
    } else {
        let kind = if status == 400 { "Sender" } else { "Receiver" };
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{query_code}</Code>\
                 <Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        )
    };
    Message {
        start: format!("HTTP/1.1 {status} {reason}"),
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("x-amzn-RequestId".into(), "fault-proxy".into()),
        ],
        body: body.into_bytes(),
    }
}

//! A Lambda Runtime API server small enough to read: it hands the bootstrap
//! binary real invocations over HTTP exactly as Lambda does
//! (`GET /2018-06-01/runtime/invocation/next`, then a POST of the response
//! or error), so tests exercise the real lambda_runtime client. A function
//! that cannot start posts to `/2018-06-01/runtime/init/error` instead.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How one invocation ended: `response` or `error`, and what was posted.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: String,
    pub body: String,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Vec<u8>>,
    served: usize,
    outcomes: Vec<Outcome>,
    init_error: Option<Outcome>,
    first_poll: Option<Instant>,
    /// The function's timeout, which each invocation's deadline is counted
    /// from; the template's 60 s when not set.
    timeout: Option<Duration>,
}

pub struct RuntimeApi {
    pub address: String,
    shared: Arc<(Mutex<State>, Condvar)>,
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, body })
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn serve_connection(stream: TcpStream, shared: Arc<(Mutex<State>, Condvar)>) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let (lock, changed) = &*shared;
        let stream = reader.get_mut();
        if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
            // Long poll, as Lambda does, until the test queues an event.
            let Ok(mut state) = lock.lock() else { return };
            state.first_poll.get_or_insert_with(Instant::now);
            changed.notify_all();
            let event = loop {
                if let Some(event) = state.pending.pop_front() {
                    break event;
                }
                match changed.wait(state) {
                    Ok(s) => state = s,
                    Err(_) => return,
                }
            };
            let id = format!("req-{}", state.served);
            state.served += 1;
            let timeout = state.timeout.unwrap_or(Duration::from_secs(60));
            drop(state);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| (d + timeout).as_millis())
                .unwrap_or(0);
            respond(
                stream,
                "200 OK",
                &[
                    ("Lambda-Runtime-Aws-Request-Id", id),
                    ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:faultline".into(),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                    ("Content-Type", "application/json".into()),
                ],
                &event,
            );
        } else if request.method == "POST" && request.path.ends_with("/runtime/init/error") {
            respond(stream, "202 Accepted", &[], b"{}");
            if let Ok(mut state) = lock.lock() {
                state.init_error = Some(Outcome {
                    kind: "init_error".into(),
                    body: String::from_utf8_lossy(&request.body).into_owned(),
                });
                changed.notify_all();
            }
        } else if request.method == "POST" {
            let kind = if request.path.ends_with("/response") {
                "response"
            } else {
                "error"
            };
            respond(stream, "202 Accepted", &[], b"{}");
            if let Ok(mut state) = lock.lock() {
                state.outcomes.push(Outcome {
                    kind: kind.to_string(),
                    body: String::from_utf8_lossy(&request.body).into_owned(),
                });
                changed.notify_all();
            }
        } else {
            respond(stream, "404 Not Found", &[], b"{}");
        }
    }
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("bound").to_string();
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || serve_connection(stream, shared));
            }
        });
        RuntimeApi { address, shared }
    }

    /// Gives the invocations served from now on this much time, as a
    /// function's timeout does: their `Lambda-Runtime-Deadline-Ms`.
    pub fn set_timeout(&self, timeout: Duration) {
        if let Ok(mut state) = self.shared.0.lock() {
            state.timeout = Some(timeout);
        }
    }

    /// Starts `binary` as Lambda would, pointed at this server.
    pub fn spawn(&self, binary: &str, env: &[(&str, String)]) -> Child {
        self.spawn_to(binary, env, Stdio::null())
    }

    /// [`RuntimeApi::spawn`], with the function's standard output (where
    /// Lambda's metrics lines go) sent to `stdout`.
    pub fn spawn_to(&self, binary: &str, env: &[(&str, String)], stdout: Stdio) -> Child {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "faultline")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/faultline")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2025/11/23/[$LATEST]test")
            .env("AWS_REGION", "us-east-1")
            .stdout(stdout)
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        command.spawn().expect("the bootstrap binary starts")
    }

    /// Waits for the function's first poll for work (the end of its cold
    /// start) and returns when it came.
    pub fn first_poll(&self, timeout: Duration) -> Option<Instant> {
        let (lock, changed) = &*self.shared;
        let state = lock.lock().ok()?;
        let (state, _) = changed
            .wait_timeout_while(state, timeout, |s| s.first_poll.is_none())
            .ok()?;
        state.first_poll
    }

    /// Waits for the function to report that it cannot start.
    pub fn init_error(&self, timeout: Duration) -> Option<Outcome> {
        let (lock, changed) = &*self.shared;
        let state = lock.lock().ok()?;
        let (state, _) = changed
            .wait_timeout_while(state, timeout, |s| s.init_error.is_none())
            .ok()?;
        state.init_error.clone()
    }

    /// Queues events and waits until each has a response or error.
    pub fn invoke_all(&self, events: &[Vec<u8>], timeout: Duration) -> Vec<Outcome> {
        let (lock, changed) = &*self.shared;
        let Ok(mut state) = lock.lock() else {
            return Vec::new();
        };
        let target = state.outcomes.len() + events.len();
        let start = state.outcomes.len();
        state.pending.extend(events.iter().cloned());
        changed.notify_all();
        let Ok((state, _)) =
            changed.wait_timeout_while(state, timeout, |s| s.outcomes.len() < target)
        else {
            return Vec::new();
        };
        state.outcomes[start..].to_vec()
    }
}

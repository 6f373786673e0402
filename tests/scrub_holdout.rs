//! How well scrubbing works on data it was not tuned on.
//!
//! `tests/scrub_corpus.rs` measures the rules on the set written beside
//! them (gitleaks' formats, 23 shapes); a rule tuned until that set passes
//! says little about the next format or the next log shape. This file
//! measures on a held-out set instead:
//!
//! - secrets: `tests/secrets/holdout.tsv` (`make_holdout.py`), formats taken
//!   from TruffleHog's detector tests, detect-secrets' test data, vendors'
//!   documentation of connection strings and signed URLs, and issue threads,
//!   none from the tuned set's sources; planted in [`SHAPES`], log shapes
//!   the tuned set lacks (JDBC exceptions, Lambda Node `Invoke Error` JSON
//!   with headers, `util.inspect` dumps, Python reprs, logfmt, curl -v
//!   dumps, .env, `kubectl describe`, `docker inspect`, Batch/ECS
//!   name/value environments, CloudFormation and Terraform errors, Go `%+v`,
//!   Java map `toString`, percent-, JSON- and `\u`-escaped values). Each
//!   shape names the public thread or document it follows;
//! - a second held-out set, `holdout2.tsv` in [`SHAPES2`], written after
//!   the rules were fixed for the first, to see whether the fixes carry
//!   (BENCHMARKS.md has its first measurement). A secret
//!   survives if it or any 16-character window of it can be read in what
//!   comes out, also after undoing percent- and `\u`-escapes.
//! - secret-free text: real log lines nobody wrote for this test: Loghub-2k
//!   (16 systems x 2,000 lines) and Loghub-2.0's full Linux and Proxifier
//!   sets from `../shared/benchmarks` (skipped when absent), and the real
//!   error text of `tests/corpus/real/cases.jsonl`. A line is over-redacted
//!   if scrubbing changes it at all.
//!
//! Both fail above 1%:
//!
//!     cargo test --test scrub_holdout -- --nocapture    # prints the rates

use std::path::{Path, PathBuf};

use faultline::extract;
use faultline::model::{Frame, Level, Occurrence};
use faultline::scrub;

mod scrub_support;

use scrub_support::{Planting, scrubbed};

struct Held {
    format: &'static str,
    name: &'static str,
    /// The format alone says this is a secret (a prefix, `AccountKey=`,
    /// `user:pass@`); otherwise only its name does.
    distinct: bool,
    value: String,
    secret: String,
}

fn held_out(tsv: &'static str) -> Vec<Held> {
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 6, "{line}");
            assert!(cols[3].starts_with("http"), "a source for {line}");
            let value = cols[4].to_string();
            let secret = match cols[5] {
                "" => value.clone(),
                part => part.to_string(),
            };
            assert!(value.contains(&secret), "{line}");
            Held {
                format: cols[0],
                name: cols[1],
                distinct: cols[2] == "yes",
                value,
                secret,
            }
        })
        .collect()
}

/// The name as each kind of program spells it.
struct Spellings {
    snake: String,
    upper: String,
    camel: String,
    pascal: String,
    /// An HTTP header: `X-Api-Key`, `Twilio-Auth-Token`.
    header: String,
}

fn spell(name: &str) -> Spellings {
    let mut parts: Vec<String> = Vec::new();
    for chunk in name.split(['_', '-', '.']).filter(|c| !c.is_empty()) {
        let mut current = String::new();
        let mut prev_lower = false;
        for c in chunk.chars() {
            if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            current.push(c.to_ascii_lowercase());
        }
        parts.push(current);
    }
    let title = |p: &String| p[..1].to_ascii_uppercase() + &p[1..];
    let pascal: String = parts.iter().map(title).collect();
    Spellings {
        snake: parts.join("_"),
        upper: parts.join("_").to_ascii_uppercase(),
        camel: parts[0].clone() + &parts[1..].iter().map(title).collect::<String>(),
        pascal,
        header: parts.iter().map(title).collect::<Vec<_>>().join("-"),
    }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Percent-encoding of everything but unreserved characters, as
/// `encodeURIComponent` and `urllib.parse.quote(s, safe="")` do.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What .NET's System.Text.Json writes for a string by default.
fn dotnet_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\'' | '+' | '&' | '<' | '>' | '`' => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// Authorization schemes other than Bearer and Basic that APIs ask for
/// (Okta `SSWS`, GitHub and DRF `token`, Elastic `ApiKey`, ...).
const SCHEMES: &[&str] = &[
    "SSWS", "Token", "token", "Api-Key", "ApiKey", "Key", "OAuth", "Bearer",
];

/// A shape: where it comes from, whether it carries the name (shapes
/// without one only apply to formats that are secrets by themselves), and
/// how it plants a value.
struct Shape {
    name: &'static str,
    source: &'static str,
    named: bool,
    plant: fn(&Spellings, &str, usize) -> Option<Planting>,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "java jdbc exception",
        source: "https://github.com/WeBankFinTech/DataSphereStudio/issues/1133",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "2025-11-30 10:15:00.717 ERROR [HikariPool-1 housekeeper] com.zaxxer.hikari.pool.HikariPool - Exception during pool initialization, url: jdbc:postgresql://db.internal:5432/billing?user=etl&{}={s}&sslmode=require\norg.postgresql.util.PSQLException: FATAL: password authentication failed for user \"etl\"\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)\n\tat org.postgresql.Driver.connect(Driver.java:274)",
                n.camel
            )))
        },
    },
    Shape {
        name: ".NET SqlException with connection string",
        source: "https://github.com/trufflesecurity/trufflehog/blob/3ab759fef4bb5935d4fe9ac68b503d05346b8364/pkg/detectors/sqlserver/sqlserver_test.go",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Unhandled exception. Microsoft.Data.SqlClient.SqlException (0x80131904): Login failed for user 'sa'. ConnectionString: Server=tcp:db.internal,1433;Initial Catalog=billing;{}={s};Encrypt=True\n   at Billing.Db.Open() in /src/Billing/Db.cs:line 42",
                n.pascal
            )))
        },
    },
    Shape {
        name: "lambda node Invoke Error with headers",
        source: "https://github.com/axios/axios/issues/6919",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "2025-11-30T10:15:00.000Z\t6f1c2e3d-1a2b-4c3d-9e8f-0a1b2c3d4e5f\tERROR\tInvoke Error \t{{\"errorType\":\"AxiosError\",\"errorMessage\":\"Request failed with status code 401\",\"code\":\"ERR_BAD_REQUEST\",\"config\":{{\"headers\":{{\"Accept\":\"application/json\",\"{}\":{},\"User-Agent\":\"axios/1.6.2\"}},\"method\":\"post\",\"url\":\"https://api.example.com/v1/charges\"}},\"stack\":[\"AxiosError: Request failed with status code 401\",\"    at settle (/var/task/node_modules/axios/lib/core/settle.js:19:12)\"]}}",
                n.header,
                json(s)
            )))
        },
    },
    Shape {
        name: "node util.inspect of an AxiosError",
        source: "https://github.com/clusterzx/paperless-ai/issues/966",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "AxiosError: Request failed with status code 403\n    at settle (/var/task/node_modules/axios/lib/core/settle.js:19:12) {{\n  code: 'ERR_BAD_REQUEST',\n  config: {{\n    headers: Object [AxiosHeaders] {{\n      Accept: 'application/json, text/plain, */*',\n      '{}': '{s}',\n      'User-Agent': 'axios/1.6.2'\n    }},\n    method: 'get',",
                n.header
            )))
        },
    },
    Shape {
        name: "python requests HTTPError url",
        source: "https://github.com/public-apis/public-apis/issues/4827",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "[ERROR] HTTPError: 401 Client Error: Unauthorized for url: https://api.example.com/v2/export?{}={}&format=csv",
                n.snake,
                pct(s)
            )))
        },
    },
    Shape {
        name: "python dict repr of headers",
        source: "https://github.com/psf/requests-html/issues/350",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "[ERROR] ConnectionError: retries exhausted; request headers: {{'User-Agent': 'python-requests/2.31.0', 'Accept-Encoding': 'gzip, deflate', '{}': '{s}', 'Connection': 'keep-alive'}}",
                n.header
            )))
        },
    },
    Shape {
        name: "sqlalchemy parameters dict",
        source: "https://github.com/lakesoul-io/LakeSoul/issues/94",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (1045, \"Access denied for user 'etl'@'10.0.3.7' (using password: YES)\")\n[parameters: {{'host': 'db.internal', 'user': 'etl', '{}': '{s}', 'database': 'billing'}}]",
                n.snake
            )))
        },
    },
    Shape {
        name: "logfmt quoted",
        source: "https://brandur.org/logfmt",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "time=2025-11-30T10:15:00Z level=error msg=\"upstream rejected credentials\" component=billing-sync {}=\"{s}\" status=401 duration=212ms",
                n.snake
            )))
        },
    },
    Shape {
        name: "curl -v request dump",
        source: "https://github.com/aws/aws-sdk-go-v2/issues/1134",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "ERROR upload failed\n* Connected to api.example.com (203.0.113.7) port 443\n> POST /v1/charges HTTP/1.1\n> Host: api.example.com\n> User-Agent: curl/8.4.0\n> {}: {s}\n> Accept: */*\n< HTTP/1.1 401 Unauthorized",
                n.header
            )))
        },
    },
    Shape {
        name: "Authorization with another scheme",
        source: "https://developer.okta.com/docs/guides/create-an-api-token/main/ (Authorization: SSWS)",
        named: false,
        plant: |_, s, i| {
            (!s.contains(char::is_whitespace)).then(|| {
                Planting::Line(format!(
                    "ERROR GET /api/v1/users -> 401; request: Authorization: {} {s}",
                    SCHEMES[i % SCHEMES.len()]
                ))
            })
        },
    },
    Shape {
        name: ".env dump",
        source: "https://github.com/hashicorp/terraform/issues/5955",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Error: Config validation error: \"REGION\" is required. Loaded environment:\nNODE_ENV=production\n{}={s}\nLOG_LEVEL=info",
                n.upper
            )))
        },
    },
    Shape {
        name: "kubectl describe environment",
        source: "https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Error: container billing-sync is in CrashLoopBackOff\n    Environment:\n      AWS_REGION:             us-east-1\n      {}:  {s}\n      LOG_LEVEL:              info",
                n.upper
            )))
        },
    },
    Shape {
        name: "docker inspect Env",
        source: "https://docs.docker.com/reference/cli/docker/inspect/",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Error response from daemon: container exited (1); \"Env\": [\"PATH=/usr/local/sbin:/usr/local/bin\", {}, \"LANG=C.UTF-8\"]",
                json(&format!("{}={s}", n.upper))
            )))
        },
    },
    Shape {
        name: "batch/ecs name-value environment",
        source: "https://docs.aws.amazon.com/batch/latest/APIReference/API_KeyValuePair.html",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "{{\"level\":\"error\",\"msg\":\"SubmitJob failed\",\"containerOverrides\":{{\"environment\":[{{\"name\":\"AWS_REGION\",\"value\":\"us-east-1\"}},{{\"name\":\"{}\",\"value\":{}}}]}}}}",
                n.upper,
                json(s)
            )))
        },
    },
    Shape {
        name: "cloudformation parameters",
        source: "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "An error occurred (ValidationError) when calling the CreateStack operation: Template format error; Parameters: [{{\"ParameterKey\":\"{}\",\"ParameterValue\":{}}}]",
                n.pascal,
                json(s)
            )))
        },
    },
    Shape {
        name: "terraform diagnostic",
        source: "https://github.com/hashicorp/terraform-provider-aws/issues/20546",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "│ Error: Invalid value for variable\n│\n│   on terraform.tfvars line 4:\n│    4: {} = \"{s}\"\n│\n│ The given value is not suitable for var.region.",
                n.snake
            )))
        },
    },
    Shape {
        name: "go %+v struct",
        source: "https://pkg.go.dev/fmt (%+v adds field names)",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "level=error msg=\"client init failed\" err=\"invalid config: &{{Endpoint:https://api.example.com Region:us-east-1 {}:{s} Timeout:30s}}\"",
                n.pascal
            )))
        },
    },
    Shape {
        name: "java map toString",
        source: "https://github.com/noppoMan/Hexaville/issues/1",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Thu Nov 30 10:15:00 UTC 2025 : Endpoint request headers: {{Accept=application/json, {}={s}, X-Amz-Date=20251130T101500Z, User-Agent=AmazonAPIGateway_kl1s049j9c}}",
                n.header
            )))
        },
    },
    Shape {
        name: "node frame url query",
        source: "https://github.com/axios/axios/issues/4246",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "TypeError: Failed to fetch\n    at loadConfig (https://app.example.com/static/js/main.4f3c2a.js?{}={}:1:20345)\n    at async boot (https://app.example.com/static/js/main.4f3c2a.js:1:1022)",
                n.snake,
                pct(s)
            )))
        },
    },
    Shape {
        name: "frame file path",
        source: "https://github.com/bcspragu/logseq-sync/issues/1",
        named: false,
        plant: |_, s, _| {
            Some(Planting::Occurrence(Occurrence {
                kind: "Error".to_string(),
                message: "fetch failed".to_string(),
                frames: vec![Frame {
                    function: "download".to_string(),
                    file: format!("/tmp/cache/{}/part-0.csv", pct(s)),
                    line: Some(3),
                    in_app: true,
                }],
                level: Level::Error,
                shape: "test",
                fingerprint: None,
                fields: vec![],
            }))
        },
    },
    Shape {
        name: "percent-encoded redirect",
        source: "https://datatracker.ietf.org/doc/html/rfc6749#section-4.1.2",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "WARN oauth callback rejected: redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3F{}%3D{}%26state%3Dxyz",
                n.snake,
                pct(s)
            )))
        },
    },
    Shape {
        name: "json twice escaped (SNS in SQS)",
        source: "https://docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html",
        named: true,
        plant: |n, s, _| {
            let inner = serde_json::json!({ n.camel.clone(): s }).to_string();
            let mid =
                serde_json::json!({"errorMessage": "login failed", "detail": inner}).to_string();
            let outer = serde_json::json!({"Type": "Notification", "Message": mid}).to_string();
            Some(Planting::Line(outer))
        },
    },
    Shape {
        name: "json \\u-escaped (.NET)",
        source: "https://learn.microsoft.com/en-us/dotnet/standard/serialization/system-text-json/character-encoding",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "{{\"Level\":\"Error\",\"Message\":\"Request {{\\u0022{}\\u0022:\\u0022{}\\u0022}} rejected\"}}",
                n.camel,
                dotnet_escape(s)
            )))
        },
    },
    Shape {
        name: "unnamed in prose",
        source: "https://github.com/axios/axios/issues/2648",
        named: false,
        plant: |_, s, _| {
            Some(Planting::Line(format!(
                "ERROR upstream rejected credentials {s} for tenant acme (HTTP 403)"
            )))
        },
    },
];

/// Shapes of the second held-out set (`holdout2.tsv`), written after the
/// rules were fixed for the first, and found in neither earlier set.
const SHAPES2: &[Shape] = &[
    Shape {
        name: "go http.Header",
        source: "https://pkg.go.dev/net/http#Header",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "level=error msg=\"request failed\" headers=\"map[Accept:[application/json] {}:[{s}] User-Agent:[Go-http-client/1.1]]\"",
                n.header
            )))
        },
    },
    Shape {
        name: "php var_dump",
        source: "https://www.php.net/manual/en/function.var-dump.php",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "PHP Warning:  config rejected\narray(2) {{\n  [\"host\"]=>\n  string(11) \"db.internal\"\n  [\"{}\"]=>\n  string({}) \"{s}\"\n}}",
                n.snake,
                s.len()
            )))
        },
    },
    Shape {
        name: "spring boot failure analysis",
        source: "https://docs.spring.io/spring-boot/how-to/application.html#howto.application.failure-analyzer",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "***************************\nAPPLICATION FAILED TO START\n***************************\n\nDescription:\n\nFailed to bind properties under 'billing.{0}' to java.lang.String:\n\n    Property: billing.{0}\n    Value: \"{s}\"\n    Origin: System Environment Property \"BILLING_{1}\"\n    Reason: failed to convert",
                n.snake.replace('_', "-"),
                n.upper
            )))
        },
    },
    Shape {
        name: "azure cli appsettings",
        source: "https://learn.microsoft.com/en-us/cli/azure/webapp/config/appsettings",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "ERROR: deployment failed; current settings: [{{\"name\": \"{}\", \"slotSetting\": false, \"value\": {}}}]",
                n.upper,
                json(s)
            )))
        },
    },
    Shape {
        name: "node rawHeaders",
        source: "https://nodejs.org/api/http.html#messagerawheaders",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "Error: upstream 401\n  rawHeaders: [\n    'Host',\n    'api.example.com',\n    '{}',\n    '{s}',\n    'Accept',\n    '*/*'\n  ],",
                n.header
            )))
        },
    },
    Shape {
        name: "kubernetes secret block scalar",
        source: "https://kubernetes.io/docs/concepts/configuration/secret/",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "error: error validating \"secret.yaml\": unknown field \"strngData\"\napiVersion: v1\nkind: Secret\nstringData:\n  {}: |\n    {s}\n  region: us-east-1",
                n.snake
            )))
        },
    },
    Shape {
        name: "systemd Environment=",
        source: "https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "systemd[1]: billing.service: Main process exited, code=exited, status=1/FAILURE; Environment=\"{}={s}\" \"AWS_REGION=us-east-1\"",
                n.upper
            )))
        },
    },
    Shape {
        name: "ruby hash inspect",
        source: "https://docs.ruby-lang.org/en/3.3/Hash.html#method-i-inspect",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "ArgumentError: bad config {{\"region\"=>\"us-east-1\", \"{}\"=>\"{s}\"}}",
                n.snake
            )))
        },
    },
    Shape {
        name: "python http.client debug bytes",
        source: "https://docs.python.org/3/library/http.client.html#http.client.HTTPConnection.set_debuglevel",
        named: true,
        plant: |n, s, _| {
            Some(Planting::Line(format!(
                "send: b'POST /v1/charges HTTP/1.1\\r\\nHost: api.example.com\\r\\n{}: {s}\\r\\nContent-Length: 0\\r\\n\\r\\n'",
                n.header
            )))
        },
    },
    Shape {
        name: "unnamed in a JSON list",
        source: "https://datatracker.ietf.org/doc/html/rfc7807",
        named: false,
        plant: |_, s, _| {
            Some(Planting::Line(format!(
                "{{\"status\":403,\"errors\":[\"credential {} was revoked\"]}}",
                json(s).trim_matches('"')
            )))
        },
    },
];

/// `text` with `%XX` and `\uXXXX` escapes undone, and JSON's `\"`, `\\`
/// and `\n`, as a reader of the stored text would undo them.
fn unescaped(text: &str) -> String {
    let mut s = text.to_string();
    // Values escaped twice (a percent-encoded password in a query string)
    // read the same after three rounds.
    for _ in 0..3 {
        let once = unescape_once(&s);
        if once == s {
            break;
        }
        s = once;
    }
    s
}

fn unescape_once(text: &str) -> String {
    let mut s = text.to_string();
    s = s
        .replace("\\\\", "\\")
        .replace("\\\"", "\"")
        .replace("\\n", "\n");
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |r: std::ops::Range<usize>| {
            s.get(r)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        };
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Some(c) = hex(i + 1..i + 3) {
                out.push(c as u8);
                i += 3;
                continue;
            }
        }
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'u') {
            if let Some(c) = hex(i + 2..i + 6).filter(char::is_ascii) {
                out.push(c as u8);
                i += 6;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The secret, or a 16-character window of one of its lines, readable in
/// `text` as it is or unescaped.
fn survives(secret: &str, text: &str) -> bool {
    let plain = unescaped(text);
    let secret = unescaped(secret);
    secret
        .split("\n")
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .any(|line| {
            let b = line.as_bytes();
            let windows: Vec<&str> = if b.len() <= 16 {
                vec![line]
            } else {
                (0..=b.len() - 16)
                    .filter_map(|i| line.get(i..i + 16))
                    .collect()
            };
            windows
                .iter()
                .any(|w| text.contains(w) || plain.contains(w))
        })
}

/// Plants every item in every shape that fits it, prints the rates, and
/// returns (plantings, survivors).
fn measure(set: &str, items: &[Held], shapes: &[Shape]) -> (usize, usize) {
    let (mut total, mut survivors) = (0, Vec::new());
    let mut by_shape = vec![(0usize, 0usize); shapes.len()];
    for (i, item) in items.iter().enumerate() {
        let names = spell(item.name);
        for (k, shape) in shapes.iter().enumerate() {
            if !shape.named && !item.distinct {
                continue;
            }
            let Some(planting) = (shape.plant)(&names, &item.value, i) else {
                continue;
            };
            total += 1;
            by_shape[k].0 += 1;
            let out = scrubbed(planting);
            if survives(&item.secret, &out) {
                by_shape[k].1 += 1;
                survivors.push(format!(
                    "{:<34} {:<38} {}",
                    item.format,
                    shape.name,
                    out.replace('\n', "⏎")
                ));
            }
        }
    }
    let mut formats: Vec<&str> = items.iter().map(|i| i.format).collect();
    formats.dedup();
    println!(
        "{set}: {} secrets ({} formats) in {} shapes = {total} plantings; survived: {} ({:.2}%)",
        items.len(),
        formats.len(),
        shapes.len(),
        survivors.len(),
        100.0 * survivors.len() as f64 / total.max(1) as f64
    );
    for (shape, (n, lost)) in shapes.iter().zip(&by_shape) {
        println!(
            "  {:<40} {lost:>4} of {n:>4}   ({})",
            shape.name, shape.source
        );
    }
    for s in &survivors {
        println!("  survived: {s}");
    }
    (total, survivors.len())
}

#[test]
fn held_out_secrets_do_not_survive() {
    let items = held_out(include_str!("secrets/holdout.tsv"));
    let (total, survived) = measure("held-out", &items, SHAPES);
    assert!(
        survived * 100 <= total,
        "{survived} of {total} held-out plantings survived"
    );
}

#[test]
fn second_held_out_secrets_do_not_survive() {
    let items = held_out(include_str!("secrets/holdout2.tsv"));
    let (total, survived) = measure("held-out 2", &items, SHAPES2);
    assert!(
        survived * 100 <= total,
        "{survived} of {total} second held-out plantings survived"
    );
}

/// Real log text: Loghub's lines (when the benchmark data sits beside the
/// repository) and the error text pasted in public threads.
fn real_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/benchmarks");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir(shared.join("loghub2k")) {
        for entry in dir.flatten() {
            let system = entry.file_name().to_string_lossy().into_owned();
            files.push((
                format!("loghub2k/{system}"),
                entry.path().join(format!("{system}_2k.log")),
            ));
        }
    }
    for system in ["Linux", "Proxifier"] {
        files.push((
            format!("loghub2/{system}"),
            shared.join(format!("loghub2/{system}/{system}_full.log")),
        ));
    }
    files.sort();
    for (set, path) in files {
        if let Ok(text) = std::fs::read_to_string(&path) {
            lines.extend(
                text.lines()
                    .map(|l| (set.clone(), l.trim_end_matches('\r').to_string())),
            );
        }
    }
    for case in include_str!("corpus/real/cases.jsonl").lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(case) else {
            continue;
        };
        for event in v["events"].as_array().into_iter().flatten() {
            if let Some(e) = event.as_str() {
                lines.push(("cases.jsonl".to_string(), e.to_string()));
            }
        }
    }
    lines
}

/// Whether scrubbing changes `line`, as text or as the occurrence
/// extracted from it.
fn changed(line: &str) -> bool {
    if scrub::scrub(line) != line {
        return true;
    }
    extract::extract(line).is_some_and(|o| {
        let mut after = o.clone();
        scrub::occurrence(&mut after);
        after != o
    })
}

#[test]
fn real_secret_free_lines_are_left_alone() {
    let lines = real_lines();
    let loghub = lines
        .iter()
        .filter(|(s, _)| s.starts_with("loghub"))
        .count();
    if loghub == 0 {
        eprintln!("note: ../shared/benchmarks is absent; measuring the real cases alone");
    }
    let mut changes: Vec<(String, String)> = Vec::new();
    let mut per_set: Vec<(String, usize, usize)> = Vec::new();
    for (set, line) in &lines {
        if per_set.last().is_none_or(|(s, _, _)| s != set) {
            per_set.push((set.clone(), 0, 0));
        }
        if let Some(last) = per_set.last_mut() {
            last.1 += 1;
            if changed(line) {
                last.2 += 1;
                changes.push((set.clone(), line.clone()));
            }
        }
    }
    println!(
        "secret-free real lines: {}; changed: {} ({:.3}%)",
        lines.len(),
        changes.len(),
        100.0 * changes.len() as f64 / lines.len().max(1) as f64
    );
    for (set, n, c) in &per_set {
        println!("  {set:<24} {c:>4} of {n:>6}");
    }
    for (set, line) in &changes {
        let cut: String = line.chars().take(300).collect();
        println!(
            "  changed: {set:<20} {cut}\n        -> {}",
            scrub::scrub(line).chars().take(300).collect::<String>()
        );
    }
    assert!(!lines.is_empty());
    assert!(
        changes.len() * 100 <= lines.len(),
        "{} of {} real secret-free lines changed",
        changes.len(),
        lines.len()
    );
}

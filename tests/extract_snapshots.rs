//! What extraction makes of one sample of every shape it knows, pinned as
//! snapshots (tests/snapshots/). The samples are written for this project,
//! after the formats described in the shared AWS-FACTS.md section 3; a
//! changed snapshot is a changed behaviour, to be reviewed as such.

use std::borrow::Cow;

use faultline::decode::LogEvent;
use faultline::extract::{extract, extract_events};
use faultline::model::Occurrence;
use serde::Serialize;

#[derive(Serialize)]
struct Case {
    name: &'static str,
    input: &'static str,
    found: Option<Occurrence>,
}

fn run(samples: &[(&'static str, &'static str)]) -> Vec<Case> {
    samples
        .iter()
        .map(|&(name, input)| Case {
            name,
            input,
            found: extract(input),
        })
        .collect()
}

const LAMBDA_TEXT: &[(&str, &str)] = &[
    (
        "python uncaught, telemetry fd (\\n)",
        "[ERROR] KeyError: 'invoice_id'\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/billing.py\", line 41, in handler\n\u{a0}\u{a0}\u{a0}\u{a0}invoice = event['invoice_id']",
    ),
    (
        "python uncaught, stdout sink (\\r)",
        "[ERROR] ZeroDivisionError: division by zero\rTraceback (most recent call last):\r\u{a0}\u{a0}File \"/var/task/billing.py\", line 12, in handler\r\u{a0}\u{a0}\u{a0}\u{a0}return ratio(a, b)\r\u{a0}\u{a0}File \"/var/task/billing.py\", line 7, in ratio\r\u{a0}\u{a0}\u{a0}\u{a0}return a / b\n",
    ),
    (
        "python init failure",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'billing': No module named 'stripe'\rTraceback (most recent call last):",
    ),
    (
        "python logging text",
        "[ERROR]\t2024-06-02T08:15:00.250Z\t5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\tledger unreachable after 3 attempts\n",
    ),
    (
        "python logging.exception text",
        "[ERROR]\t2024-06-02T08:15:00.250Z\t5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\tcould not post invoice 88\nTraceback (most recent call last):\n  File \"/var/task/billing.py\", line 60, in post\n    client.put(doc)\n  File \"/opt/python/lib/python3.12/site-packages/httpx/_client.py\", line 1200, in put\n    raise ConnectError(msg)\nhttpx.ConnectError: [Errno 111] Connection refused\n",
    ),
    (
        "python critical",
        "[CRITICAL]\t2024-06-02T08:15:00.250Z\t5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\tconfiguration missing\n",
    ),
    (
        "node invoke error (space tab)",
        "2024-06-02T08:15:00.250Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tERROR\tInvoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"Cannot read properties of null (reading 'lines')\",\"stack\":[\"TypeError: Cannot read properties of null (reading 'lines')\",\"    at total (file:///var/task/cart.mjs:18:22)\",\"    at Runtime.handler (file:///var/task/index.mjs:9:10)\",\"    at Runtime.handleOnceNonStreaming (file:///var/runtime/index.mjs:1173:29)\"]}\n",
    ),
    (
        "node invoke error (tab, 2019 runtime)",
        "2019-10-01T12:00:00.000Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tERROR\tInvoke Error\t{\"errorType\":\"Error\",\"errorMessage\":\"quota exceeded\",\"stack\":[\"Error: quota exceeded\",\"    at Runtime.main [as handler] (/var/task/index.js:31:9)\",\"    at Runtime.handleOnce (/var/runtime/Runtime.js:66:25)\"]}\n",
    ),
    (
        "node uncaught exception at init",
        "2024-06-02T08:15:00.250Z\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"Runtime.ImportModuleError\",\"errorMessage\":\"Error: Cannot find module 'pg'\",\"stack\":[\"Runtime.ImportModuleError: Error: Cannot find module 'pg'\",\"    at _loadUserApp (file:///var/runtime/index.mjs:1087:17)\"]}\n",
    ),
    (
        "node unhandled rejection",
        "2024-06-02T08:15:00.250Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tERROR\tUnhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\",\"errorMessage\":\"Error: socket hang up\",\"reason\":{\"errorType\":\"Error\",\"errorMessage\":\"socket hang up\"}}\n",
    ),
    (
        "node console.error(err), stdout mode (\\r)",
        "2024-06-02T08:15:00.250Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tERROR\tRangeError: Maximum call stack size exceeded\r    at walk (/var/task/tree.js:4:10)\r    at walk (/var/task/tree.js:5:12)\n",
    ),
    (
        "node console.log of a logger's ERROR json",
        "2019-09-18T00:01:08.275Z\t2e91e9cd-412d-4410-a02b-a1aad49b4932\tINFO\t{\"level\":\"ERROR\",\"tags\":{\"alert\":true},\"message\":{\"message\":\"stock feed stale\",\"feed\":\"eu\"}}\n",
    ),
    (
        "java uncaught text",
        "Index 4 out of bounds for length 2: java.lang.ArrayIndexOutOfBoundsException\njava.lang.ArrayIndexOutOfBoundsException: Index 4 out of bounds for length 2\n\tat com.acme.rates.Table.lookup(Table.java:52)\n\tat com.acme.rates.Handler.handleRequest(Handler.java:20)\n\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(Unknown Source)\n\n",
    ),
    (
        "java caused-by chain",
        "failed to load rates: java.lang.IllegalStateException\njava.lang.IllegalStateException: failed to load rates\n\tat com.acme.rates.Loader.load(Loader.java:30)\n\tat com.acme.rates.Handler.handleRequest(Handler.java:18)\nCaused by: software.amazon.awssdk.services.s3.model.NoSuchKeyException: The specified key does not exist.\n\tat software.amazon.awssdk.core.internal.http.CombinedResponseHandler.handleErrorResponse(CombinedResponseHandler.java:125)\n\tat com.acme.rates.Loader.fetch(Loader.java:44)\n\t... 2 more\n",
    ),
    (
        "go returned error",
        "2024/06/02 08:15:00 {\"errorMessage\":\"shipment 4411 has no address\",\"errorType\":\"errorString\"}\n",
    ),
    (
        "go panic",
        "2024/06/02 08:15:00 {\"errorMessage\":\"runtime error: invalid memory address or nil pointer dereference\",\"errorType\":\"runtimeError\",\"stackTrace\":[{\"path\":\"github.com/aws/aws-lambda-go@v1.47.0/lambda/errors.go\",\"line\":39,\"label\":\"lambdaPanicResponse\"},{\"path\":\"/usr/local/go/src/runtime/panic.go\",\"line\":770,\"label\":\"gopanic\"},{\"path\":\"/build/ship/main.go\",\"line\":27,\"label\":\"handle\"}]}\n",
    ),
    (
        "rust lambda_runtime text",
        "ERROR Lambda runtime invoke{requestId=\"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\" xrayTraceId=\"Root=1-665c2a40-0a1b2c3d4e5f60718293a4b5\"}: Error { kind: NotFound, message: \"bucket missing\" }\n",
    ),
    (
        "rust tracing text with target",
        "2024-06-02T08:15:00.250113Z ERROR ingest::loader: batch 7 rejected: schema mismatch",
    ),
    (
        "timeout",
        "2024-06-02T08:15:05.260Z 5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d Task timed out after 5.01 seconds\n\n",
    ),
    (
        "runtime killed",
        "RequestId: 5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d Error: Runtime exited with error: signal: killed",
    ),
    ("runtime exit error alone", "Runtime.ExitError"),
    (
        "rust lambda test fixture style",
        "[ERROR] First test message",
    ),
];

const LAMBDA_JSON: &[(&str, &str)] = &[
    (
        "python uncaught json (log_level)",
        r#"{"timestamp": "2024-06-02T08:15:00Z", "log_level": "ERROR", "errorMessage": "'invoice_id'", "errorType": "KeyError", "requestId": "5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d", "stackTrace": ["  File \"/var/task/billing.py\", line 41, in handler\n    invoice = event['invoice_id']\n"]}"#,
    ),
    (
        "python logging json with exc_info",
        r#"{"timestamp": "2024-06-02T08:15:00Z", "level": "ERROR", "message": "could not post invoice", "logger": "billing", "stackTrace": ["  File \"/var/task/billing.py\", line 60, in post\n    client.put(doc)\n"], "errorType": "TimeoutError", "errorMessage": "timed out", "requestId": "5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d", "location": "/var/task/billing.py:post:62", "invoice": 88}"#,
    ),
    (
        "node json, error under message",
        r#"{"timestamp":"2024-06-02T08:15:00.250Z","level":"ERROR","requestId":"7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","message":{"errorType":"SyntaxError","errorMessage":"Unexpected end of JSON input","stackTrace":["SyntaxError: Unexpected end of JSON input","    at JSON.parse (<anonymous>)","    at parseBody (file:///var/task/index.mjs:12:15)"]}}"#,
    ),
    (
        "node json, error hoisted",
        r#"{"timestamp":"2024-06-02T08:15:00.250Z","level":"ERROR","requestId":"7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","message":"refund failed Error: card expired\n    at refund (file:///var/task/pay.mjs:40:11)","errorType":"Error","errorMessage":"card expired","stackTrace":["Error: card expired","    at refund (file:///var/task/pay.mjs:40:11)"]}"#,
    ),
    (
        "java json",
        r#"{"timestamp":"2024-06-02T08:15:00.250Z","message":"rate table empty: java.util.NoSuchElementException\njava.util.NoSuchElementException: rate table empty\n\tat java.base/java.util.ArrayList$Itr.next(ArrayList.java:1052)\n\tat com.acme.rates.Table.first(Table.java:12)\n","level":"ERROR","AWSRequestId":"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d"}"#,
    ),
    (
        "rust lambda_runtime json",
        r#"{"level":"ERROR","fields":{"message":"Error { kind: NotFound, message: \"bucket missing\" }"},"span":{"requestId":"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d","xrayTraceId":"Root=1-665c2a40-0a1b2c3d4e5f60718293a4b5","name":"Lambda runtime invoke"},"spans":[{"requestId":"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d","name":"Lambda runtime invoke"}]}"#,
    ),
    (
        "tracing-subscriber json",
        r#"{"timestamp":"2024-06-02T08:15:00.250113Z","level":"ERROR","fields":{"message":"batch rejected","batch":7},"target":"ingest::loader"}"#,
    ),
    (
        "platform report timeout",
        r#"{"time":"2024-06-02T08:15:05.281Z","type":"platform.report","record":{"requestId":"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d","metrics":{"durationMs":5000.0,"billedDurationMs":5000,"memorySizeMB":256,"maxMemoryUsedMB":91},"status":"timeout"}}"#,
    ),
    (
        "platform init report error",
        r#"{"time":"2024-06-02T08:15:05.281Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":412.5}}}"#,
    ),
];

const STEP_FUNCTIONS: &[(&str, &str)] = &[
    (
        "task failed with python lambda cause",
        r#"{"id":"6","type":"TaskFailed","details":{"resource":"invoke","resourceType":"lambda","error":"KeyError","cause":"{\"errorMessage\": \"'invoice_id'\", \"errorType\": \"KeyError\", \"requestId\": \"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\", \"stackTrace\": [\"  File \\\"/var/task/billing.py\\\", line 41, in handler\\n    invoice = event['invoice_id']\\n\"]}"},"previous_event_id":"5","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-a","redrive_count":"0"}"#,
    ),
    (
        "lambda function failed with node cause (trace)",
        r#"{"id":"6","type":"LambdaFunctionFailed","details":{"error":"Error","cause":"{\"errorType\":\"Error\",\"errorMessage\":\"quota exceeded\",\"trace\":[\"Error: quota exceeded\",\"    at Runtime.handler (file:///var/task/index.mjs:5:9)\"]}"},"previous_event_id":"5","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-b","redrive_count":"0"}"#,
    ),
    (
        "execution failed, states error",
        r#"{"id":"9","type":"ExecutionFailed","details":{"cause":"An error occurred while executing the state 'Pick' (entered at the event id #8). Invalid path '$.order.id'","error":"States.Runtime"},"previous_event_id":"8","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-c","redrive_count":"0"}"#,
    ),
    (
        "task timed out",
        r#"{"id":"4","type":"TaskTimedOut","details":{"resource":"invoke","resourceType":"lambda","error":"States.Timeout"},"previous_event_id":"3","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-d","redrive_count":"1"}"#,
    ),
    (
        "execution aborted",
        r#"{"id":"5","type":"ExecutionAborted","details":{},"previous_event_id":"4","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-e","redrive_count":"0"}"#,
    ),
    (
        "map iteration failed",
        r#"{"id":"12","type":"MapIterationFailed","details":{"name":"PerLine","index":3},"previous_event_id":"11","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-f","redrive_count":"0"}"#,
    ),
    (
        "fail state entered",
        r#"{"id":"7","type":"FailStateEntered","details":{"name":"RejectInvoice","input":"{\"card\":\"4111111111111111\"}","inputDetails":{"truncated":false}},"previous_event_id":"6","event_timestamp":"1717316100250","execution_arn":"arn:aws:states:eu-west-1:123456789012:execution:billing:2024-06-02-g","redrive_count":"0"}"#,
    ),
];

const STRUCTURED: &[(&str, &str)] = &[
    (
        "datadog flat keys with fingerprint",
        r#"{"status":"error","message":"export failed","service":"exporter","env":"prod","error.kind":"S3UploadError","error.message":"slow down","error.stack":"S3UploadError: slow down\n    at upload (/app/export.js:88:13)","error.fingerprint":"exporter-s3-throttle"}"#,
    ),
    (
        "datadog nested error object",
        r#"{"status":"critical","message":"worker crashed","service":"worker","error":{"kind":"MemoryError","message":"","stack":"Traceback (most recent call last):\n  File \"/app/worker.py\", line 30, in run\n    rows = list(cursor)\nMemoryError"}}"#,
    ),
    (
        "pino",
        r#"{"level":50,"time":1717316100250,"pid":12,"hostname":"ip-10-1-2-3","reqId":"req-77","err":{"type":"AbortError","message":"The operation was aborted","stack":"AbortError: The operation was aborted\n    at fetchRates (/app/rates.js:14:9)\n    at async main (/app/index.js:7:3)","code":"ABORT_ERR"},"msg":"rate fetch aborted"}"#,
    ),
    (
        "logstash logback json",
        r#"{"@timestamp":"2024-06-02T08:15:00.250Z","@version":"1","message":"settlement failed","logger_name":"com.acme.settle.Job","thread_name":"pool-1-thread-3","level":"ERROR","level_value":40000,"stack_trace":"java.sql.SQLTransientConnectionException: pool exhausted\n\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n\tat com.acme.settle.Job.run(Job.java:41)\n"}"#,
    ),
    (
        "powertools python",
        r#"{"level":"ERROR","location":"handler:33","message":"invoice rejected","timestamp":"2024-06-02 08:15:00,250+0000","service":"billing","cold_start":true,"function_request_id":"5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d","xray_trace_id":"1-665c2a40-0a1b2c3d4e5f60718293a4b5","exception":"Traceback (most recent call last):\n  File \"/var/task/app.py\", line 33, in handler\n    validate(doc)\n  File \"/var/task/app.py\", line 12, in validate\n    raise ValueError(\"currency missing\")\nValueError: currency missing","exception_name":"ValueError"}"#,
    ),
    (
        "powertools typescript",
        r#"{"level":"ERROR","message":"cannot reserve","timestamp":"2024-06-02T08:15:00.250Z","service":"cart","cold_start":false,"function_arn":"arn:aws:lambda:eu-west-1:123456789012:function:cart","function_memory_size":"256","function_name":"cart","function_request_id":"7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","sampling_rate":0,"error":{"name":"ConditionalCheckFailedException","location":"file:///var/task/index.mjs:40","message":"The conditional request failed","stack":"ConditionalCheckFailedException: The conditional request failed\n    at reserve (file:///var/task/index.mjs:40:9)\n    at async Runtime.handler (file:///var/task/index.mjs:12:3)"}}"#,
    ),
    (
        "structlog",
        r#"{"event":"snapshot failed","level":"error","logger":"snap","timestamp":"2024-06-02T08:15:00.250Z","volume":"vol-1","exception":"Traceback (most recent call last):\n  File \"/app/snap.py\", line 21, in take\n    client.create_snapshot(VolumeId=v)\n  File \"/usr/local/lib/python3.12/site-packages/botocore/client.py\", line 1021, in _make_api_call\n    raise error_class(parsed_response, operation_name)\nbotocore.exceptions.ClientError: An error occurred (IncorrectState) when calling the CreateSnapshot operation: volume busy"}"#,
    ),
    (
        "zap",
        r#"{"level":"error","ts":1717316100.250,"logger":"sync","caller":"sync/run.go:40","msg":"sync failed","error":"context deadline exceeded","attempt":3,"stacktrace":"main.(*Syncer).run\n\t/app/sync/run.go:40\nmain.main\n\t/app/main.go:19\nruntime.main\n\t/usr/local/go/src/runtime/proc.go:271"}"#,
    ),
    (
        "logrus",
        r#"{"level":"fatal","msg":"cannot open queue","error":"amqp: connection refused","queue":"orders","time":"2024-06-02T08:15:00Z"}"#,
    ),
    (
        "generic json error level",
        r#"{"severity":"ALERT","message":"certificate expires in 2 days","host":"edge-1"}"#,
    ),
    (
        "truncated json",
        r#"{"level":"ERROR","message":"upload failed for batch 7 because the rem"#,
    ),
];

const TEXT_TRACES: &[(&str, &str)] = &[
    (
        "python traceback alone",
        "Traceback (most recent call last):\n  File \"/app/etl.py\", line 88, in <module>\n    main()\n  File \"/app/etl.py\", line 80, in main\n    rows = parse(path)\n  File \"/app/etl.py\", line 40, in parse\n    return [int(x) for x in fields]\n            ^^^^^^\nValueError: invalid literal for int() with base 10: 'n/a'",
    ),
    (
        "java exception in thread main",
        "Exception in thread \"main\" java.lang.IllegalArgumentException: batch size must be positive: -3\n\tat com.acme.etl.Config.batchSize(Config.java:19)\n\tat com.acme.etl.Main.main(Main.java:8)",
    ),
    (
        "node uncaught stderr",
        "/app/worker.js:21\n    throw new Error(`queue ${name} missing`);\n    ^\n\nError: queue orders missing\n    at connect (/app/worker.js:21:11)\n    at Object.<anonymous> (/app/worker.js:40:1)\n    at Module._compile (node:internal/modules/cjs/loader:1376:14)\n\nNode.js v20.11.1",
    ),
    (
        "go panic stderr",
        "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nmain.(*Index).add(...)\n\t/app/index.go:31\nmain.main()\n\t/app/main.go:14 +0x25\nexit status 2",
    ),
    (
        "rust panic stderr",
        "thread 'main' panicked at src/main.rs:18:34:\ncalled `Option::unwrap()` on a `None` value\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    ),
    (
        "logback text with trace in one event",
        "2024-06-02 08:15:00.250 ERROR 1 --- [           main] com.acme.etl.Main                        : load failed\njava.io.FileNotFoundException: /data/in.csv (No such file or directory)\n\tat java.base/java.io.FileInputStream.open0(Native Method)\n\tat com.acme.etl.Main.load(Main.java:30)\n",
    ),
    ("python logging default", "ERROR:etl:row 7 rejected"),
    (
        "logfmt",
        "time=\"2024-06-02T08:15:00Z\" level=error msg=\"push failed\" err=\"503 Service Unavailable\" registry=ecr",
    ),
];

/// Lines that are not errors; every one must give `None`.
const NOT_ERRORS: &[&str] = &[
    "START RequestId: 5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d Version: $LATEST",
    "END RequestId: 5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d",
    "REPORT RequestId: 5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\tDuration: 12.31 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 180.22 ms\t\n",
    "INIT_START Runtime Version: nodejs:20.v22\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:0123",
    "[INFO]\t2024-06-02T08:15:00.250Z\t5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\t0 errors in 12 files\n",
    "[WARNING]\t2024-06-02T08:15:00.250Z\t5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d\tretrying after error\n",
    "2024-06-02T08:15:00.250Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tINFO\terror_rate=0\n",
    "2024-06-02T08:15:00.250Z\t7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d\tWARN\tError: slow\n    at f (/var/task/a.js:1:1)\n",
    r#"{"timestamp":"2024-06-02T08:15:00.250Z","level":"INFO","requestId":"r","message":"done","errors":[]}"#,
    r#"{"level":30,"msg":"retrying after error","err":{"type":"Error","message":"x"}}"#,
    r#"{"level":"WARN","message":"handled","stackTrace":["  File \"/var/task/a.py\", line 1, in f\n"],"errorType":"KeyError"}"#,
    r#"{"time":"2024-06-02T08:15:00.250Z","type":"platform.start","record":{"requestId":"r","version":"$LATEST"}}"#,
    r#"{"time":"2024-06-02T08:15:00.250Z","type":"platform.runtimeDone","record":{"requestId":"r","status":"timeout","metrics":{"durationMs":5000.2}}}"#,
    r#"{"time":"2024-06-02T08:15:00.250Z","type":"platform.report","record":{"requestId":"r","status":"success","metrics":{"durationMs":12.3}}}"#,
    r#"{"id":"2","type":"TaskStateEntered","details":{"name":"Charge"},"previous_event_id":"1","event_timestamp":"1","execution_arn":"arn:aws:states:eu-west-1:1:execution:sm:e","redrive_count":"0"}"#,
    r#"{"id":"9","type":"ExecutionSucceeded","details":{"output":"{\"error\":null}"},"previous_event_id":"8","event_timestamp":"1","execution_arn":"arn:aws:states:eu-west-1:1:execution:sm:e","redrive_count":"0"}"#,
    r#"{"bytes":26780,"host":"10.0.0.1","method":"PUT","status":502,"request":"/errors/list"}"#,
    "processed 512 rows with 0 errors",
    "Error: the word error in a plain line",
    "2024/06/02 08:15:00 retrying after error: EOF",
    "time=\"2024-06-02T08:15:00Z\" level=warning msg=\"error budget low\"",
];

#[test]
fn lambda_text_formats() {
    insta::assert_json_snapshot!(run(LAMBDA_TEXT));
}

#[test]
fn lambda_json_formats() {
    insta::assert_json_snapshot!(run(LAMBDA_JSON));
}

#[test]
fn step_functions_events() {
    insta::assert_json_snapshot!(run(STEP_FUNCTIONS));
}

#[test]
fn structured_loggers() {
    insta::assert_json_snapshot!(run(STRUCTURED));
}

#[test]
fn stack_traces_in_plain_text() {
    insta::assert_json_snapshot!(run(TEXT_TRACES));
}

#[test]
fn lines_that_are_not_errors() {
    let found: Vec<_> = NOT_ERRORS
        .iter()
        .filter_map(|m| extract(m).map(|o| (*m, o)))
        .collect();
    assert!(found.is_empty(), "taken for errors: {found:#?}");
}

#[test]
fn awslogs_split_traces() {
    let events = [
        "2024-06-02 08:15:00,001 INFO loading 3 files",
        "Traceback (most recent call last):",
        "  File \"/app/etl.py\", line 88, in <module>",
        "    main()",
        "  File \"/app/etl.py\", line 40, in parse",
        "    return int(x)",
        "ValueError: invalid literal for int() with base 10: 'n/a'",
        "2024-06-02 08:15:00,002 ERROR [main] com.acme.Job - job 9 failed",
        "java.lang.IllegalStateException: not started",
        "\tat com.acme.Job.run(Job.java:12)",
        "Caused by: java.lang.InterruptedException: sleep interrupted",
        "\tat java.base/java.lang.Thread.sleep(Native Method)",
        "\t... 1 more",
        "done",
    ];
    let events: Vec<LogEvent<'_>> = events
        .iter()
        .enumerate()
        .map(|(i, m)| LogEvent {
            id: Cow::Owned(i.to_string()),
            timestamp: i as i64,
            message: Cow::Borrowed(m),
        })
        .collect();
    let found: Vec<(usize, Occurrence)> = extract_events(&events)
        .into_iter()
        .enumerate()
        .filter_map(|(i, o)| o.map(|o| (i, o)))
        .collect();
    insta::assert_json_snapshot!(found);
}

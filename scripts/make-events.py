#!/usr/bin/env python3
"""Writes events/*.json: Lambda inputs as CloudWatch Logs and EventBridge
deliver them.

Most files are {"awslogs":{"data": base64(gzip(DATA_MESSAGE))}}, usable with
`faultline ingest`, `cargo lambda invoke --data-file` and `sam local invoke -e`.
The messages below are written for this project in the shapes that AWS
runtimes and common loggers produce (see ../shared/AWS-FACTS.md section 3).
The eventbridge-*.json files are job events (Step Functions, AWS Batch, ECS)
in the shapes the services' guides document, about the runs the log samples
belong to, and a schedule's tick.
Output is deterministic (fixed ids, timestamps and gzip mtime), so rerunning
this script changes nothing unless the definitions change.

    python3 scripts/make-events.py          # rewrite events/
"""

import base64
import gzip
import json
import os
import sys

ACCOUNT = "123456789012"
T0 = 1_763_900_000_000  # 2025-11-23T12:13:20Z
REQ = "3f1c2a9e-7b4d-4e61-9a0f-5d2c8b1e6a47"
REQ2 = "a81d44f0-2c6b-4f3e-8d15-0b9e7c3f2d18"
NBSP = "\u00a0"


# The failure that ends the Step Functions execution in step-functions.json;
# its ExecutionFailed event and its EventBridge status change repeat it.
SFN_EXPORT_CAUSE = ("An error occurred while executing the state 'Export' (entered at the event id #6). "
                    "The JSONPath '$.bucket' specified for the field 'Bucket.$' could not be found in the input '{}'")


def lambda_text_noise(req):
    return [
        f"START RequestId: {req} Version: $LATEST\n",
        f"[INFO]\t2025-11-23T12:13:20.101Z\t{req}\tprocessed 412 records, 0 errors\n",
        f"END RequestId: {req}\n",
        f"REPORT RequestId: {req}\tDuration: 812.44 ms\tBilled Duration: 813 ms\tMemory Size: 512 MB\tMax Memory Used: 97 MB\t\n",
    ]


def py_traceback(sep, indent):
    lines = [
        "[ERROR] KeyError: 'customer_id'",
        "Traceback (most recent call last):",
        f'{indent}File "/var/task/handler.py", line 41, in handler',
        f"{indent}{indent}return enrich(record)",
        f'{indent}File "/var/task/enrich.py", line 17, in enrich',
        f"{indent}{indent}cid = record['customer_id']",
    ]
    return sep.join(lines) + ("\n" if sep == "\r" else "")


EVENTS = {
    "python-uncaught-text": {
        "logGroup": "/aws/lambda/orders-enrich",
        "logStream": "2025/11/23/[$LATEST]8e1f0c2b6a3d4f5e9b7c1d2e3f4a5b6c",
        "messages": lambda_text_noise(REQ)[:2]
        + [py_traceback("\n", "  "), py_traceback("\r", NBSP * 2)]
        + lambda_text_noise(REQ)[2:],
    },
    "python-logging-text": {
        "logGroup": "/aws/lambda/orders-enrich",
        "logStream": "2025/11/23/[12]0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f",
        "messages": [
            f"START RequestId: {REQ2} Version: 12\n",
            f"[WARNING]\t2025-11-23T12:14:02.220Z\t{REQ2}\tretrying after error: throttled (attempt 2)\n",
            f"[ERROR]\t2025-11-23T12:14:03.551Z\t{REQ2}\tfailed to write order 88412 to s3://orders-archive/2025/11/23/88412.json: AccessDenied\n",
            f"[ERROR]\t2025-11-23T12:14:04.107Z\t{REQ2}\tfailed to write order 88413 to s3://orders-archive/2025/11/23/88413.json: AccessDenied\n",
            f"END RequestId: {REQ2}\n",
        ],
    },
    "python-json": {
        "logGroup": "/aws/lambda/invoice-render",
        "logStream": "2025/11/23/[$LATEST]1a2b3c4d5e6f70819a2b3c4d5e6f7081",
        "messages": [
            json.dumps({"time": "2025-11-23T12:15:00.000Z", "type": "platform.start", "record": {"requestId": REQ, "version": "$LATEST"}}),
            json.dumps({"timestamp": "2025-11-23T12:15:00.412Z", "level": "INFO", "message": "rendering invoice 5521", "logger": "root", "requestId": REQ}),
            json.dumps({"timestamp": "2025-11-23T12:15:01.003Z", "log_level": "ERROR", "errorMessage": "division by zero", "errorType": "ZeroDivisionError", "requestId": REQ,
                        "stackTrace": ["  File \"/var/task/app.py\", line 22, in handler\n    return render(event)\n", "  File \"/var/task/totals.py\", line 9, in unit_price\n    return total / quantity\n"]}),
            json.dumps({"timestamp": "2025-11-23T12:15:02.118Z", "level": "ERROR", "message": "template lookup failed", "logger": "invoice", "requestId": REQ2,
                        "errorType": "FileNotFoundError", "errorMessage": "[Errno 2] No such file or directory: '/tmp/templates/de-AT.html'",
                        "stackTrace": ["  File \"/var/task/templates.py\", line 30, in load\n    with open(path) as fh:\n"], "location": "/var/task/templates.py:load:30"}),
            json.dumps({"time": "2025-11-23T12:15:03.000Z", "type": "platform.report", "record": {"requestId": REQ, "metrics": {"durationMs": 2991.2, "billedDurationMs": 2992}, "status": "success"}}),
        ],
    },
    "node-text": {
        "logGroup": "/aws/lambda/shipment-webhook",
        "logStream": "2025/11/23/[$LATEST]9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "messages": [
            f"START RequestId: {REQ} Version: $LATEST\n",
            f"2025-11-23T12:16:00.100Z\t{REQ}\tINFO\treceived 3 shipments\n",
            f"2025-11-23T12:16:00.250Z\t{REQ}\tERROR\tInvoke Error \t" + json.dumps({"errorType": "TypeError", "errorMessage": "Cannot read properties of undefined (reading 'trackingId')",
                "stack": ["TypeError: Cannot read properties of undefined (reading 'trackingId')", "    at toRow (file:///var/task/map.mjs:14:23)", "    at Array.map (<anonymous>)", "    at Runtime.handler (file:///var/task/index.mjs:8:30)"]}) + "\n",
            f"2025-11-23T12:16:00.900Z\t{REQ2}\tERROR\tcarrier API returned 503 for shipment 7731\n",
            f"END RequestId: {REQ}\n",
            f"2025-11-23T12:16:06.004Z {REQ2} Task timed out after 6.00 seconds\n",
        ],
    },
    "node-json": {
        "logGroup": "/aws/lambda/shipment-webhook",
        "logStream": "2025/11/23/[7]5e4d3c2b1a0f9e8d7c6b5a4938271605",
        "messages": [
            json.dumps({"timestamp": "2025-11-23T12:17:00.010Z", "level": "INFO", "requestId": REQ, "message": "batch of 50 ok"}),
            json.dumps({"timestamp": "2025-11-23T12:17:00.320Z", "level": "ERROR", "requestId": REQ, "message": {"errorType": "ValidationError", "errorMessage": "postcode 'N1 9GU' does not match country DE",
                        "stackTrace": ["ValidationError: postcode 'N1 9GU' does not match country DE", "    at validate (/var/task/validate.js:31:11)", "    at processRecord (/var/task/index.js:19:5)"]}}),
            json.dumps({"timestamp": "2025-11-23T12:17:01.500Z", "level": "ERROR", "requestId": REQ2, "message": "lookup failed Error: socket hang up\n    at connResetException (node:internal/errors:720:14)\n    at fetchRate (/var/task/rates.js:44:9)",
                        "errorType": "Error", "errorMessage": "socket hang up", "stackTrace": ["Error: socket hang up", "    at connResetException (node:internal/errors:720:14)", "    at fetchRate (/var/task/rates.js:44:9)"]}),
            json.dumps({"timestamp": "2025-11-23T12:17:02.000Z", "level": "WARN", "requestId": REQ2, "message": "error_rate=0.01 below threshold"}),
        ],
    },
    "java-text": {
        "logGroup": "/aws/lambda/ledger-import",
        "logStream": "2025/11/23/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "messages": [
            f"START RequestId: {REQ} Version: $LATEST\n",
            "For input string: \"12,50\": java.lang.NumberFormatException\njava.lang.NumberFormatException: For input string: \"12,50\"\n\tat java.base/jdk.internal.math.FloatingDecimal.readJavaFormatString(FloatingDecimal.java:2054)\n\tat java.base/java.lang.Double.parseDouble(Double.java:651)\n\tat com.example.ledger.Parser.amount(Parser.java:48)\n\tat com.example.ledger.Handler.handleRequest(Handler.java:27)\n\n",
            json.dumps({"timestamp": "2025-11-23T12:18:03.120Z", "message": "Connection refused: ledger-db.internal:5432\norg.postgresql.util.PSQLException: Connection refused: ledger-db.internal:5432\n\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:342)\n\tat com.example.ledger.Store.connect(Store.java:61)\n", "level": "ERROR", "AWSRequestId": REQ2}),
            f"END RequestId: {REQ}\n",
        ],
    },
    "go-and-rust": {
        "logGroup": "/aws/lambda/thumbnailer",
        "logStream": "2025/11/23/[$LATEST]7a6b5c4d3e2f10213243546576879809",
        "messages": [
            "2025/11/23 12:19:00 " + json.dumps({"errorMessage": "open /tmp/in/IMG_2231.HEIC: no such file or directory", "errorType": "PathError"}, separators=(",", ":")) + "\n",
            "2025/11/23 12:19:01 " + json.dumps({"errorMessage": "runtime error: index out of range [3] with length 3", "errorType": "boundsError", "stackTrace": [{"path": "github.com/example/thumbnailer/resize.go", "line": 88, "label": "crop"}, {"path": "github.com/aws/aws-lambda-go@v1.47.0/lambda/function.go", "line": 40, "label": "(*Function).Invoke"}]}, separators=(",", ":")) + "\n",
            f"ERROR Lambda runtime invoke{{requestId=\"{REQ}\" xrayTraceId=\"Root=1-6561f2a0-0a1b2c3d4e5f60718293a4b5\"}}: S3 GetObject failed: NoSuchKey\n",
            json.dumps({"level": "ERROR", "fields": {"message": "image decode failed: unsupported colour type"}, "target": "thumbnailer::decode", "span": {"requestId": REQ2, "name": "Lambda runtime invoke"}}),
        ],
    },
    "platform-failures": {
        "logGroup": "/aws/lambda/report-builder",
        "logStream": "2025/11/23/[$LATEST]2c3d4e5f60718293a4b5c6d7e8f90a1b",
        "messages": [
            f"START RequestId: {REQ} Version: $LATEST\n",
            "Runtime exited with error: signal: killed\nRuntime.ExitError\n",
            f"END RequestId: {REQ}\n",
            json.dumps({"time": "2025-11-23T12:20:10.000Z", "type": "platform.runtimeDone", "record": {"requestId": REQ2, "status": "timeout", "metrics": {"durationMs": 30000.0}}}),
            json.dumps({"time": "2025-11-23T12:20:10.010Z", "type": "platform.report", "record": {"requestId": REQ2, "status": "timeout", "metrics": {"durationMs": 30000.0, "billedDurationMs": 30000}}}),
        ],
    },
    "step-functions": {
        "logGroup": "/aws/vendedlogs/states/nightly-export-Logs",
        "logStream": "states/nightly-export/2025-11-23-12-21/5d6e7f80",
        "messages": [
            json.dumps({"id": "1", "type": "ExecutionStarted", "details": {"roleArn": "arn:aws:iam::123456789012:role/sfn"}, "previous_event_id": "0", "event_timestamp": "1763900460000", "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-2025-11-23"}),
            json.dumps({"id": "7", "type": "LambdaFunctionFailed", "details": {"error": "ZeroDivisionError", "cause": json.dumps({"errorMessage": "division by zero", "errorType": "ZeroDivisionError", "requestId": REQ, "stackTrace": ["  File \"/var/task/app.py\", line 22, in handler\n    return render(event)\n"]})}, "previous_event_id": "6", "event_timestamp": "1763900461000", "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-2025-11-23"}),
            json.dumps({"id": "8", "type": "TaskFailed", "details": {"error": "States.TaskFailed", "cause": SFN_EXPORT_CAUSE, "resource": "putObject", "resourceType": "aws-sdk:s3"}, "previous_event_id": "6", "event_timestamp": "1763900461500", "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-2025-11-23"}),
            # AWS copies the failure that ended the execution, error and cause
            # verbatim, into ExecutionFailed (LocalStack's snapshots recorded
            # against AWS: test_task_lambda, test_task_service_dynamodb); it
            # never writes a pointer such as "see TaskFailed".
            json.dumps({"id": "9", "type": "ExecutionFailed", "details": {"error": "States.TaskFailed", "cause": SFN_EXPORT_CAUSE}, "previous_event_id": "8", "event_timestamp": "1763900462000", "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-2025-11-23"}),
        ],
    },
    "structured-loggers": {
        "logGroup": "/ecs/catalog-sync",
        "logStream": "catalog-sync/app/4f5e6d7c8b9a0f1e2d3c4b5a69788796",
        "messages": [
            json.dumps({"level": 30, "time": 1763900520000, "msg": "sync started", "pid": 7}),
            json.dumps({"level": 50, "time": 1763900521000, "msg": "upsert failed", "err": {"type": "MongoServerError", "message": "E11000 duplicate key error collection: catalog.items index: sku_1 dup key: { sku: \"A-1193\" }", "stack": "MongoServerError: E11000 duplicate key error\n    at Connection.onMessage (/app/node_modules/mongodb/lib/cmap/connection.js:205:26)\n    at upsertItem (/app/src/sync.js:77:13)"}}),
            json.dumps({"@timestamp": "2025-11-23T12:22:02.000Z", "level": "ERROR", "logger_name": "com.example.catalog.Sync", "message": "price feed unreadable", "stack_trace": "java.lang.IllegalStateException: feed 'eu-prices' empty\n\tat com.example.catalog.Sync.prices(Sync.java:102)\n\tat com.example.catalog.Sync.run(Sync.java:40)\n"}),
            json.dumps({"level": "ERROR", "location": "handler:31", "message": "could not parse row", "timestamp": "2025-11-23 12:22:03,120+0000", "service": "catalog-sync", "exception": "Traceback (most recent call last):\n  File \"/var/task/rows.py\", line 31, in handler\n    row = parse(line)\n  File \"/var/task/rows.py\", line 12, in parse\n    raise ValueError(f\"bad column count: {n}\")\nValueError: bad column count: 7", "exception_name": "ValueError"}),
            json.dumps({"event": "s3 upload failed", "level": "error", "timestamp": "2025-11-23T12:22:04Z", "bucket": "catalog-out", "exception": "Traceback (most recent call last):\n  File \"/app/upload.py\", line 55, in push\n    client.put_object(**kw)\nbotocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation: Please reduce your request rate."}),
            json.dumps({"level": "error", "ts": 1763900525.123, "logger": "sync", "caller": "sync/worker.go:88", "msg": "fetch failed", "error": "Get \"https://feeds.example.com/eu\": dial tcp 10.0.3.7:443: i/o timeout", "stacktrace": "main.(*worker).fetch\n\t/src/sync/worker.go:88\nmain.main\n\t/src/main.go:21"}),
            json.dumps({"level": "error", "msg": "checksum mismatch", "time": "2025-11-23T12:22:06Z", "error": "sha256 mismatch for part 12"}),
            json.dumps({"status": "error", "service": "catalog-sync", "message": "quota exceeded", "error.kind": "QuotaExceeded", "error.message": "tenant 4471 over daily quota", "error.stack": "QuotaExceeded: tenant 4471 over daily quota\n    at checkQuota (/app/src/quota.js:12:11)", "error.fingerprint": "quota-exceeded"}),
            json.dumps({"level": "warn", "msg": "0 errors in last window", "time": "2025-11-23T12:22:07Z"}),
        ],
    },
    "batch-split-traceback": {
        "logGroup": "/aws/batch/job",
        "logStream": "nightly-reindex/default/6a7b8c9d0e1f42a3b4c5d6e7f8091a2b",
        "messages": [
            "2025-11-23 12:23:00,001 INFO reindex: starting shard 3 of 16",
            "Traceback (most recent call last):",
            '  File "/app/reindex.py", line 120, in <module>',
            "    main()",
            '  File "/app/reindex.py", line 97, in main',
            "    shard.flush()",
            '  File "/usr/local/lib/python3.12/site-packages/opensearchpy/client.py", line 411, in bulk',
            "    raise ConnectionTimeout(url, 30)",
            "opensearchpy.exceptions.ConnectionTimeout: ConnectionTimeout caused by - ReadTimeoutError(HTTPSConnectionPool(host='search.internal', port=443): Read timed out. (read timeout=30))",
            "2025-11-23 12:23:31,500 INFO reindex: shard 4 of 16",
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)",
            "\tat com.example.reindex.Buffer.grow(Buffer.java:66)",
            "\tat com.example.reindex.Main.main(Main.java:19)",
        ],
    },
}


# Job events about the runs of the samples above: the Step Functions
# execution of step-functions.json, the AWS Batch job whose attempt logged
# batch-split-traceback.json, and the ECS task of structured-loggers.json.
# Shapes from the Step Functions developer guide ("EventBridge events"), the
# AWS Batch user guide ("Job state change events") and the ECS developer
# guide ("Task state change events"); values written for this project.
SFN_EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:nightly-export:run-2025-11-23"
BATCH_JOB = "8d3c7e5a-1f2b-4c6d-9e8f-0a1b2c3d4e5f"
BATCH_TASK = "6a7b8c9d0e1f42a3b4c5d6e7f8091a2b"
ECS_TASK = "4f5e6d7c8b9a0f1e2d3c4b5a69788796"


def eventbridge(event_id, detail_type, source, time, resources, detail):
    return {"version": "0", "id": event_id, "detail-type": detail_type, "source": source, "account": ACCOUNT,
            "time": time, "region": "eu-west-1", "resources": resources, "detail": detail}


JOB_EVENTS = {
    "eventbridge-sfn-execution-failed": eventbridge(
        "b7d1c9e2-4a3f-5e6d-8c7b-9a0f1e2d3c4b", "Step Functions Execution Status Change", "aws.states",
        "2025-11-23T18:21:02Z", [SFN_EXECUTION],
        {"executionArn": SFN_EXECUTION, "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-export",
         "name": "run-2025-11-23", "status": "FAILED", "startDate": 1763900460000, "stopDate": 1763900462000,
         "input": "{}", "inputDetails": {"included": True}, "output": None, "outputDetails": None,
         "error": "States.TaskFailed", "cause": SFN_EXPORT_CAUSE}),
    "eventbridge-batch-job-succeeded": eventbridge(
        "c8f9c4b5-76e5-d76a-f980-7011e206042b", "Batch Job State Change", "aws.batch", "2025-11-23T20:26:00Z",
        [f"arn:aws:batch:eu-west-1:{ACCOUNT}:job/{BATCH_JOB}"],
        {"jobArn": f"arn:aws:batch:eu-west-1:{ACCOUNT}:job/{BATCH_JOB}", "jobName": "nightly-reindex-2025-11-23",
         "jobId": BATCH_JOB, "jobQueue": f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-queue/nightly", "status": "SUCCEEDED",
         "attempts": [
             {"container": {"containerInstanceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:container-instance/AWSBatch-nightly-ce/0c1d2e3f",
                            "taskArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/AWSBatch-nightly-ce/{BATCH_TASK}",
                            "exitCode": 1, "logStreamName": f"nightly-reindex/default/{BATCH_TASK}", "networkInterfaces": []},
              "startedAt": 1763914980000, "stoppedAt": 1763915012000, "statusReason": "Essential container in task exited"},
             {"container": {"containerInstanceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:container-instance/AWSBatch-nightly-ce/0c1d2e3f",
                            "taskArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/AWSBatch-nightly-ce/7b8c9d0e1f2a43b4c5d6e7f8091a2b3c",
                            "exitCode": 0, "logStreamName": "nightly-reindex/default/7b8c9d0e1f2a43b4c5d6e7f8091a2b3c", "networkInterfaces": []},
              "startedAt": 1763915100000, "stoppedAt": 1763915160000, "statusReason": "Essential container in task exited"}],
         "createdAt": 1763914900000, "retryStrategy": {"attempts": 2, "evaluateOnExit": []}, "startedAt": 1763914980000,
         "stoppedAt": 1763915160000, "statusReason": "Essential container in task exited", "dependsOn": [],
         "jobDefinition": f"arn:aws:batch:eu-west-1:{ACCOUNT}:job-definition/nightly-reindex:4", "parameters": {},
         "container": {"image": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/reindex:2025.11", "command": ["python", "reindex.py"],
                       "exitCode": 0, "logStreamName": "nightly-reindex/default/7b8c9d0e1f2a43b4c5d6e7f8091a2b3c",
                       "taskArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/AWSBatch-nightly-ce/7b8c9d0e1f2a43b4c5d6e7f8091a2b3c",
                       "volumes": [], "environment": [], "mountPoints": [], "ulimits": [], "networkInterfaces": [],
                       "resourceRequirements": [{"value": "2", "type": "VCPU"}, {"value": "4096", "type": "MEMORY"}], "secrets": []},
         "tags": {"resourceArn": f"arn:aws:batch:eu-west-1:{ACCOUNT}:job/{BATCH_JOB}"}, "propagateTags": False,
         "platformCapabilities": []}),
    "eventbridge-ecs-task-stopped": eventbridge(
        "3317b2af-7005-947d-b652-f55e762e571a", "ECS Task State Change", "aws.ecs", "2025-11-23T22:23:00Z",
        [f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/catalog/{ECS_TASK}"],
        {"attachments": [], "availabilityZone": "eu-west-1b", "clusterArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/catalog",
         "containers": [{"containerArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:container/catalog/{ECS_TASK}/5e1c7a2b",
                         "exitCode": 1, "lastStatus": "STOPPED", "name": "app",
                         "image": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/catalog-sync:41",
                         "taskArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/catalog/{ECS_TASK}", "networkInterfaces": [], "cpu": "0"}],
         "createdAt": "2025-11-23T22:21:50.102Z", "launchType": "FARGATE", "cpu": "256", "memory": "512",
         "desiredStatus": "STOPPED", "group": "family:catalog-sync", "lastStatus": "STOPPED",
         "overrides": {"containerOverrides": [{"name": "app"}]}, "connectivity": "CONNECTED",
         "connectivityAt": "2025-11-23T22:21:55.000Z", "pullStartedAt": "2025-11-23T22:21:56.000Z",
         "startedAt": "2025-11-23T22:21:59.000Z", "pullStoppedAt": "2025-11-23T22:21:58.500Z",
         "stoppedAt": "2025-11-23T22:22:10.000Z", "stopCode": "EssentialContainerExited",
         "stoppedReason": "Essential container in task exited", "updatedAt": "2025-11-23T22:22:10.000Z",
         "taskArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/catalog/{ECS_TASK}",
         "taskDefinitionArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/catalog-sync:41", "version": 5,
         "platformVersion": "1.4.0"}),
    # EventBridge Scheduler's tick: the Lambda settles runs and sends what is due.
    "eventbridge-scheduled": eventbridge(
        "89d1a02d-5ec7-412e-82f5-13505f849b41", "Scheduled Event", "aws.events", "2025-11-24T00:00:00Z",
        [f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/faultline-settle-runs"], {}),
}


def data_message(index, name, spec):
    # Batches two hours apart, events 37 s apart: a day of activity, so the
    # listing's sparkline and the timeline have something to show.
    events = []
    for i, message in enumerate(spec["messages"]):
        t = T0 + index * 2 * 3_600_000 + i * 37_000
        events.append({
            "id": f"{37765915600000000000000000000000000000000000000000 + t * 100 + i:056d}",
            "timestamp": t,
            "message": message,
        })
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": spec["logGroup"],
        "logStream": spec["logStream"],
        "subscriptionFilters": ["faultline-errors"],
        "logEvents": events,
    }


def lambda_input(message):
    raw = json.dumps(message, separators=(",", ":")).encode()
    compressed = gzip.compress(raw, mtime=0)
    return {"awslogs": {"data": base64.b64encode(compressed).decode()}}


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events")
    os.makedirs(out_dir, exist_ok=True)
    for index, (name, spec) in enumerate(EVENTS.items()):
        path = os.path.join(out_dir, f"{name}.json")
        with open(path, "w") as fh:
            json.dump(lambda_input(data_message(index, name, spec)), fh, indent=2)
            fh.write("\n")
    # A CONTROL_MESSAGE, as CloudWatch Logs sends to check a destination.
    control = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
               "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]}
    with open(os.path.join(out_dir, "control-message.json"), "w") as fh:
        json.dump(lambda_input(control), fh, indent=2)
        fh.write("\n")
    for name, event in JOB_EVENTS.items():
        with open(os.path.join(out_dir, f"{name}.json"), "w") as fh:
            json.dump(event, fh, indent=2)
            fh.write("\n")
    count = len(EVENTS) + 1 + len(JOB_EVENTS)
    print(f"wrote {count} events to {os.path.normpath(out_dir)}", file=sys.stderr)


if __name__ == "__main__":
    main()

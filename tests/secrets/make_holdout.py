#!/usr/bin/env python3
"""Writes holdout.tsv: fake secrets in formats the rules were NOT tuned on,
each with the public source of its format.

planted.tsv (make_planted.py) took its formats from gitleaks' rule set and
the providers' docs named there. This set takes them from other places:
the detector tests of TruffleHog (its `_test.go` fixtures at the commit
below), detect-secrets' test data, the vendors' documentation of
connection strings and signed URLs, and issue threads in which people
pasted such a value into a log by accident. Facts only (prefix, alphabet,
length, structure); the values are random (seeded) and never were
credentials. Formats already in planted.tsv appear here only in shapes
that file lacks (inside a connection string, percent-encoded, behind a
scheme other than Bearer, a legacy prefix).

    python3 tests/secrets/make_holdout.py > tests/secrets/holdout.tsv

Columns: format, name (what a program would call it), distinct (yes when
the value alone says it is a secret: a prefix or a structure such as
`AccountKey=` or `user:pass@`; no when only its name does), source, value
(what is planted), secret (the part that must not survive; empty when the
whole value is).
"""
import base64
import random
import string
import urllib.parse

rng = random.Random(2026_11_30)
UP, LO, DI = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LO + DI
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"
# AWS Secrets Manager GetRandomPassword's default alphabet (letters, digits,
# punctuation), without the quotes and backslash that no log shape can hold
# unescaped.
PUNCT = "!#$%&()*+,-./:;<=>?@[]^_{|}~"

TH = "https://github.com/trufflesecurity/trufflehog/blob/3ab759fef4bb5935d4fe9ac68b503d05346b8364/pkg/detectors/{}"
DS = "https://github.com/Yelp/detect-secrets/blob/master/{}"


def r(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid():
    return "-".join(r(HEX, n) for n in (8, 4, 4, 4, 12))


def b64(n, alt=False):
    raw = bytes(rng.randrange(256) for _ in range(n))
    return (base64.urlsafe_b64encode if alt else base64.b64encode)(raw).decode()


def pct(s):
    return urllib.parse.quote(s, safe="")


def password():
    # At least one of each class, as generated passwords are.
    core = [rng.choice(UP), rng.choice(LO), rng.choice(DI), rng.choice(PUNCT)]
    core += [rng.choice(ALNUM + PUNCT) for _ in range(28)]
    rng.shuffle(core)
    return "".join(core)


def human_password():
    return rng.choice(["Summer", "Winter", "Bluebird", "Orchard", "Harbor"]) + r(DI, 4) + rng.choice("!#$@")


def pem_json():
    body = base64.b64encode(bytes([0x30, 0x82, 0x04, 0xbe]) + bytes(rng.randrange(256) for _ in range(200))).decode()
    lines = "\\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    key = "-----BEGIN PRIVATE KEY-----\\n" + lines + "\\n-----END PRIVATE KEY-----\\n"
    # The service-account JSON a program logs when it cannot parse it.
    return '{"type": "service_account", "project_id": "billing-prod", "private_key_id": "%s", "private_key": "%s", "client_email": "etl@billing-prod.iam.gserviceaccount.com"}' % (r(HEX, 40), key), body[:64]


def url(before, secret, after):
    return (before + secret + after, secret)


def presigned_s3():
    sig = r(HEX, 64)
    token = "IQoJb3JpZ2luX2VjE" + r(ALNUM + "/+", 300) + "=="
    cred = "ASIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "/20251130/us-east-1/s3/aws4_request"
    return url(
        "https://exports-prod.s3.us-east-1.amazonaws.com/daily/2025-11-30.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
        + pct(cred) + "&X-Amz-Date=20251130T101500Z&X-Amz-Expires=3600&X-Amz-Security-Token=" + pct(token)
        + "&X-Amz-SignedHeaders=host&X-Amz-Signature=",
        sig,
        "",
    )


def presigned_token():
    token = "IQoJb3JpZ2luX2VjE" + r(ALNUM + "/+", 300) + "=="
    return url(
        "https://exports-prod.s3.amazonaws.com/daily.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Security-Token=",
        pct(token),
        "&X-Amz-Signature=" + r(HEX, 64),
    )


def gcs_signed():
    return url(
        "https://storage.googleapis.com/exports-prod/daily.csv?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=etl%40billing-prod.iam.gserviceaccount.com%2F20251130%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20251130T101500Z&X-Goog-Expires=900&X-Goog-SignedHeaders=host&X-Goog-Signature=",
        r(HEX, 512),
        "",
    )


def sigv4_header():
    return url(
        "AWS4-HMAC-SHA256 Credential=AKIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        + "/20251130/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=",
        r(HEX, 64),
        "",
    )


def azure_sas():
    return url(
        "https://billingexports.blob.core.windows.net/daily?sp=r&st=2025-11-30T07:24:52Z&se=2025-12-01T15:24:52Z&spr=https&sv=2022-11-02&sr=c&sig=",
        pct(b64(32)),
        "",
    )


FORMATS = [
    # -- Tokens with a prefix the tuned table does not know ------------------
    ("supabase-access-token", "SUPABASE_ACCESS_TOKEN", "yes", TH.format("supabasetoken/supabasetoken_test.go"), lambda: "sbp_" + r(LO + DI, 40)),
    ("groq-api-key", "GROQ_API_KEY", "yes", TH.format("groq/groq_test.go"), lambda: "gsk_" + r(ALNUM, 52)),
    ("replicate-token", "REPLICATE_API_TOKEN", "yes", TH.format("replicate/replicate_test.go"), lambda: "r8_" + r(ALNUM, 37)),
    ("tailscale-auth-key", "TS_AUTHKEY", "yes", TH.format("tailscale/tailscale_test.go"), lambda: "tskey-auth-k" + r(ALNUM, 11) + "CNTRL-" + r(ALNUM, 33)),
    ("pinecone-api-key", "PINECONE_API_KEY", "yes", TH.format("pinecone/pinecone_test.go"), lambda: "pcsk_" + r(ALNUM, 5) + "_" + r(ALNUM, 63)),
    ("xai-api-key", "XAI_API_KEY", "yes", TH.format("xai/xai_test.go"), lambda: "xai-" + r(ALNUM, 80)),
    ("openrouter-api-key", "OPENROUTER_API_KEY", "yes", TH.format("openrouter/openrouter_test.go"), lambda: "sk-or-v1-" + r(HEX, 64)),
    ("langsmith-api-key", "LANGSMITH_API_KEY", "yes", TH.format("langsmith/langsmith_test.go"), lambda: "lsv2_" + rng.choice(["pt", "sk"]) + "_" + r(HEX, 32) + "_" + r(HEX, 10)),
    ("nvidia-api-key", "NVIDIA_API_KEY", "yes", TH.format("nvapi/nvapi_test.go"), lambda: "nvapi-" + r(URLSAFE, 64)),
    ("elevenlabs-api-key", "ELEVENLABS_API_KEY", "yes", TH.format("elevenlabs/v2/elevenlabs_test.go"), lambda: "sk_" + r(HEX, 48)),
    ("airtable-pat", "AIRTABLE_TOKEN", "yes", TH.format("airtablepersonalaccesstoken/airtablepersonalaccesstoken_test.go"), lambda: "pat" + r(ALNUM, 14) + "." + r(HEX, 64)),
    ("contentful-pat", "CONTENTFUL_MANAGEMENT_TOKEN", "yes", TH.format("contentfulpersonalaccesstoken/contentfulpersonalaccesstoken_test.go"), lambda: "CFPAT-" + r(URLSAFE, 43)),
    ("launchdarkly-sdk-key", "LAUNCHDARKLY_SDK_KEY", "yes", TH.format("launchdarkly/launchdarkly_test.go"), lambda: rng.choice(["sdk-", "api-"]) + uuid()),
    ("bitbucket-app-password", "BITBUCKET_APP_PASSWORD", "yes", TH.format("bitbucketapppassword/bitbucketapppassword_test.go"), lambda: "ATBB" + r(ALNUM, 32) + r(HEX.upper(), 8)),
    ("circleci-pat", "CIRCLE_TOKEN", "yes", TH.format("circleci/v2/circleci_test.go"), lambda: "CCIPAT_" + r(ALNUM, 22) + "_" + r(HEX, 40)),
    ("figma-pat", "FIGMA_TOKEN", "yes", TH.format("figmapersonalaccesstoken/figmapersonalaccesstoken.go"), lambda: "figd_" + r(URLSAFE, 40)),
    ("notion-legacy-secret", "NOTION_API_KEY", "yes", TH.format("notion/notion_test.go"), lambda: "secret_" + r(ALNUM, 43)),
    ("dropbox-short-lived", "DROPBOX_ACCESS_TOKEN", "yes", TH.format("dropbox/dropbox_test.go"), lambda: "sl." + r(URLSAFE, 135)),
    ("intercom-access-token", "INTERCOM_ACCESS_TOKEN", "yes", TH.format("intercom/intercom_test.go"), lambda: "dG9rOm" + b64(40)[:54] + "="),
    ("salesforce-access-token", "SF_ACCESS_TOKEN", "yes", TH.format("salesforce/salesforce_test.go"), lambda: "00D" + r(ALNUM, 12) + "!" + r(ALNUM + "._", 96)),
    ("square-sandbox-secret", "SQUARE_APPLICATION_SECRET", "yes", TH.format("squareapp/squareapp_test.go"), lambda: "sandbox-sq0csb-" + r(URLSAFE, 43)),
    ("paystack-secret-key", "PAYSTACK_SECRET_KEY", "yes", TH.format("paystack/paystack_test.go"), lambda: "sk_live_" + r(HEX, 40)),
    ("mapbox-secret-token", "MAPBOX_ACCESS_TOKEN", "yes", TH.format("mapbox/mapbox_test.go"), lambda: "sk.eyJ1Ijoi" + base64.urlsafe_b64encode(('%s","a":"%s"}' % (r(LO, 8), r(ALNUM, 25))).encode()).decode().rstrip("=") + "." + r(URLSAFE, 22)),
    ("discord-bot-token", "DISCORD_BOT_TOKEN", "yes", TH.format("discordbottoken/discordbottoken_test.go"), lambda: base64.b64encode(r(DI, 18).encode()).decode().rstrip("=") + "." + r(URLSAFE, 6) + "." + r(URLSAFE, 38)),
    ("onepassword-service-account", "OP_SERVICE_ACCOUNT_TOKEN", "yes", "https://developer.1password.com/docs/service-accounts/use-with-1password-cli/ (ops_ + base64 JSON)", lambda: "ops_eyJzaWduSW5BZGRyZXNzIjoi" + b64(180).rstrip("=")),
    ("firebase-fcm-server-key", "FCM_SERVER_KEY", "yes", "https://firebase.google.com/docs/cloud-messaging/auth-server (legacy server keys AAAA...:APA91b...)", lambda: "AAAA" + r(URLSAFE, 7) + ":APA91b" + r(URLSAFE, 134)),
    ("aws-sts-legacy-token", "X-Amz-Security-Token", "yes", "https://github.com/noppoMan/Hexaville/issues/1 (API Gateway log holding an FQoDYXdzE... session token)", lambda: "FQoDYXdzE" + r(ALNUM + "/+", 280) + "="),
    ("django-insecure-key", "DJANGO_SECRET_KEY", "yes", "https://docs.djangoproject.com/en/5.0/ref/settings/#secret-key (startproject: django-insecure- + 50 of a-z0-9!@#$%^&*(-_=+))", lambda: "django-insecure-" + r(LO + DI + "!@#$%^&*(-_=+)", 50)),
    # -- Structures: the value says what it is --------------------------------
    ("azure-storage-connection-string", "AZURE_STORAGE_CONNECTION_STRING", "yes", TH.format("azure_storage/storage_test.go"), lambda: url("DefaultEndpointsProtocol=https;AccountName=billingexports;AccountKey=", b64(64), ";EndpointSuffix=core.windows.net")),
    ("azure-service-bus-connection-string", "SERVICEBUS_CONNECTION", "yes", "https://learn.microsoft.com/en-us/azure/service-bus-messaging/service-bus-dotnet-get-started-with-queues (Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...)", lambda: url("Endpoint=sb://billing-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=", b64(32), "")),
    ("azure-app-config-connection-string", "APPCONFIG_CONNECTION_STRING", "yes", TH.format("azureappconfigconnectionstring/azureappconfigconnectionstring_test.go"), lambda: url("Endpoint=https://billing-prod.azconfig.io;Id=" + r(ALNUM + "+/", 4) + ";Secret=", r(ALNUM, 84), "")),
    ("azure-redis-connection-string", "REDIS_CONNECTION", "yes", TH.format("redis/redis_test.go"), lambda: url("billing-cache.redis.cache.windows.net:6380,password=", b64(32), ",ssl=True,abortConnect=False")),
    ("azure-sas-url", "EXPORT_URL", "yes", TH.format("azuresastoken/azuresastoken_test.go"), azure_sas),
    ("azure-function-key-url", "WEBHOOK_URL", "yes", TH.format("azurefunctionkey/azurefunctionkey_test.go"), lambda: url("https://billing-fn.azurewebsites.net/api/ExportHook?code=", r(URLSAFE, 54) + "==", "")),
    ("s3-presigned-url-signature", "download_url", "yes", "https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (X-Amz-Signature, 64 hex)", presigned_s3),
    ("s3-presigned-url-session-token", "download_url", "yes", "https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (X-Amz-Security-Token, percent-encoded)", presigned_token),
    ("gcs-signed-url", "signed_url", "yes", "https://cloud.google.com/storage/docs/access-control/signed-urls (X-Goog-Signature, hex RSA signature)", gcs_signed),
    ("sigv4-authorization-header", "Authorization", "yes", "https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (Authorization: AWS4-HMAC-SHA256 ... Signature=)", sigv4_header),
    ("mongodb-percent-encoded-password", "MONGODB_URI", "yes", TH.format("mongodb/mongodb_test.go"), lambda: url("mongodb+srv://billing:", pct(password()), "@cluster0.x1y2z.mongodb.net/billing?retryWrites=true")),
    ("oracle-jdbc-thin", "JDBC_URL", "yes", "https://docs.oracle.com/en/database/oracle/oracle-database/19/jjdbc/data-sources-and-URLs.html (jdbc:oracle:thin:user/password@host)", lambda: url("jdbc:oracle:thin:billing/", r(ALNUM, 16), "@//db.internal:1521/ORCLPDB1")),
    ("jdbc-query-password", "JDBC_URL", "yes", "https://github.com/brettwooldridge/HikariCP/issues/1402 (jdbc:postgresql://host/db?user=...&password=...)", lambda: url("jdbc:postgresql://db.internal:5432/billing?user=etl&password=", password(), "&ssl=true")),
    ("sqlserver-connection-string", "ConnectionStrings__Billing", "yes", TH.format("sqlserver/sqlserver_test.go"), lambda: url("Server=tcp:db.internal,1433;Initial Catalog=billing;User ID=sa;Password=", password(), ";Encrypt=True;")),
    ("libpq-keyword-dsn", "DSN", "yes", "https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING (host=... password=...)", lambda: url("host=db.internal port=5432 dbname=billing user=etl password=", r(ALNUM, 20), " sslmode=require")),
    ("kafka-jaas-config", "sasl.jaas.config", "yes", "https://github.com/SnuK87/keycloak-kafka/issues/25 (PlainLoginModule required username=... password=...)", lambda: url('org.apache.kafka.common.security.plain.PlainLoginModule required username="svc-billing" password="', r(ALNUM, 24), '";')),
    ("amqp-url", "BROKER_URL", "yes", TH.format("rabbitmq/rabbitmq_test.go"), lambda: url("amqps://billing:", r(ALNUM, 24), "@b-1234abcd.mq.us-east-1.amazonaws.com:5671")),
    ("cloudinary-url", "CLOUDINARY_URL", "yes", TH.format("cloudinary/cloudinary_test.go"), lambda: url("cloudinary://" + r(DI, 15) + ":", r(URLSAFE, 27), "@billing")),
    ("twilio-url-credentials", "TWILIO_URL", "yes", TH.format("twilio/twilio_test.go"), lambda: url("https://AC" + r(HEX, 32) + ":", r(HEX, 32), "@api.twilio.com/2010-04-01/Accounts")),
    ("sentry-dsn-with-secret", "SENTRY_DSN", "yes", "https://docs.sentry.io/concepts/key-terms/dsn-explainer/ (legacy DSN https://public:secret@host/project)", lambda: url("https://" + r(HEX, 32) + ":", r(HEX, 32), "@o123456.ingest.sentry.io/7654321")),
    ("detect-secrets-basic-auth-url", "callback", "yes", DS.format("test_data/each_secret.py"), lambda: url("http://username:", r(LO, 30), "@example.com")),
    ("npmrc-auth-token", "npmrc", "yes", TH.format("npmtoken/npmtoken_test.go"), lambda: url("//registry.npmjs.org/:_authToken=", uuid(), "")),
    ("netrc-entry", "netrc", "yes", "https://everything.curl.dev/usingcurl/netrc (machine host login user password secret)", lambda: url("machine api.example.com login deploy password ", r(ALNUM, 20), "")),
    ("docker-config-auth", "docker_config", "yes", TH.format("docker/docker_auth_config_test.go"), lambda: url('{"auths":{"registry.example.com":{"auth":"', base64.b64encode(("deploy:" + r(ALNUM, 24)).encode()).decode(), '"}}}')),
    ("gcp-service-account-json", "GOOGLE_CREDENTIALS", "yes", TH.format("gcp/gcp_test.go"), pem_json),
    # -- Name-only secrets: a generic value that only its name gives away -----
    ("twilio-auth-token", "TWILIO_AUTH_TOKEN", "no", TH.format("twilio/twilio_test.go"), lambda: r(HEX, 32)),
    ("okta-api-token", "OKTA_API_TOKEN", "no", TH.format("okta/okta_test.go"), lambda: "00" + r(URLSAFE, 40)),
    ("algolia-admin-key", "ALGOLIA_ADMIN_KEY", "no", TH.format("algoliaadminkey/algoliaadminkey_test.go"), lambda: r(ALNUM, 32)),
    ("pagerduty-api-key", "PAGERDUTY_API_KEY", "no", TH.format("pagerdutyapikey/pagerdutyapikey_test.go"), lambda: r(ALNUM + "+_-", 20)),
    ("postmark-server-token", "POSTMARK_SERVER_TOKEN", "no", TH.format("postmark/postmark_test.go"), uuid),
    ("vercel-token", "VERCEL_TOKEN", "no", TH.format("vercel/vercel_test.go"), lambda: r(ALNUM, 24)),
    ("netlify-token", "NETLIFY_AUTH_TOKEN", "no", TH.format("netlify/v1/netlify_v1_test.go"), lambda: r(URLSAFE, 43)),
    ("azure-devops-pat", "AZURE_DEVOPS_PAT", "no", TH.format("azuredevopspersonalaccesstoken/azuredevopspersonalaccesstoken_test.go"), lambda: r(LO + DI, 52)),
    ("sumologic-access-key", "SUMO_ACCESS_KEY", "no", TH.format("sumologickey/sumologickey_test.go"), lambda: r(ALNUM, 64)),
    ("razorpay-key-secret", "RAZORPAY_KEY_SECRET", "no", TH.format("razorpay/razorpay_test.go"), lambda: r(ALNUM, 24)),
    ("fastly-api-token", "FASTLY_API_TOKEN", "no", TH.format("fastlypersonaltoken/fastlypersonaltoken_test.go"), lambda: r(URLSAFE, 32)),
    ("infura-api-secret", "INFURA_API_SECRET", "no", TH.format("infura/infura_test.go"), lambda: r(LO + DI, 32)),
    ("moralis-api-key", "MORALIS_API_KEY", "no", TH.format("moralis/moralis_test.go"), lambda: r(ALNUM, 64)),
    ("zendesk-api-token", "ZENDESK_API_TOKEN", "no", TH.format("zendeskapi/zendeskapi_test.go"), lambda: r(ALNUM, 40)),
    ("cloudflare-global-api-key", "X-Auth-Key", "no", TH.format("cloudflareglobalapikey/v1/cloudflareglobalapikey_test.go"), lambda: r(HEX, 37)),
    ("newrelic-license-key", "NEW_RELIC_LICENSE_KEY", "no", TH.format("newreliclicensekey/newreliclicensekey_test.go"), lambda: r(HEX, 36) + "NRAL"),
    ("mailgun-hex-key", "MAILGUN_API_KEY", "no", TH.format("mailgun/mailgun_test.go"), lambda: r(HEX, 32) + "-" + r(HEX, 8) + "-" + r(HEX, 8)),
    ("confluent-api-secret", "CONFLUENT_API_SECRET", "no", TH.format("confluent/confluent_test.go"), lambda: r(ALNUM + "+/", 64)),
    ("asana-pat", "ASANA_ACCESS_TOKEN", "no", TH.format("asanapersonalaccesstoken/asanapersonalaccesstoken_test.go"), lambda: "2/" + r(DI, 16) + "/" + r(DI, 16) + ":" + r(HEX, 32)),
    ("twitch-client-secret", "TWITCH_CLIENT_SECRET", "no", TH.format("twitch/twitch_test.go"), lambda: r(LO + DI, 30)),
    ("azure-acr-password", "ACR_PASSWORD", "no", TH.format("azurecontainerregistry/azurecontainerregistry_test.go"), lambda: r(ALNUM + "+/", 42) + "+ACR" + r(ALNUM, 6)),
    ("deepseek-api-key", "DEEPSEEK_API_KEY", "no", TH.format("deepseek/deepseek_test.go"), lambda: "sk-" + r(HEX, 32)),
    ("detect-secrets-hex-secret", "hex_secret", "no", DS.format("test_data/each_secret.py"), lambda: r(HEX, 40)),
    ("detect-secrets-ini-password", "password", "no", DS.format("test_data/config.ini"), lambda: r(DI, 14)),
    ("laravel-app-key", "APP_KEY", "no", "https://laravel.com/docs/11.x/encryption#configuration (APP_KEY=base64:...)", lambda: "base64:" + b64(32)),
    ("rails-master-key", "RAILS_MASTER_KEY", "no", "https://guides.rubyonrails.org/security.html#custom-credentials (32 hex)", lambda: r(HEX, 32)),
    ("fernet-key", "AIRFLOW__CORE__FERNET_KEY", "no", "https://airflow.apache.org/docs/apache-airflow/stable/security/secrets/fernet.html (44 url-safe base64)", lambda: b64(32, alt=True)),
    ("aws-generated-password", "DB_PASSWORD", "no", "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html (32 characters with punctuation)", password),
    ("aws-generated-password-rds", "MasterUserPassword", "no", "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html (32 characters with punctuation)", password),
    ("human-password", "PGPASSWORD", "no", "https://www.postgresql.org/docs/current/libpq-envars.html (PGPASSWORD)", human_password),
    ("rabbitmq-default-pass", "RABBITMQ_DEFAULT_PASS", "no", "https://hub.docker.com/_/rabbitmq (RABBITMQ_DEFAULT_PASS)", lambda: r(ALNUM, 16)),
    ("personal-access-token", "GITEA_PAT", "no", "https://docs.gitea.com/development/api-usage (40 hex access tokens)", lambda: r(HEX, 40)),
]

print("# format\tname\tdistinct\tsource\tvalue\tsecret part (written by make_holdout.py)")
for fmt, name, distinct, source, make in FORMATS:
    for _ in range(3):
        made = make()
        value, secret = made if isinstance(made, tuple) else (made, "")
        print(f"{fmt}\t{name}\t{distinct}\t{source}\t{value}\t{secret}")

#!/usr/bin/env python3
"""Writes planted.tsv: one fake secret per line, in the real format of a
credential, with the public source of that format.

The values are random (seeded, so the file is reproducible) and never were
credentials; their shapes follow the providers' documentation and the
true-positive fixtures of public secret scanners (gitleaks' rule set,
read for format facts only). A few are the well-known documentation
examples themselves (AWS's AKIAIOSFODNN7EXAMPLE, jwt.io's token).

    python3 tests/secrets/make_planted.py > tests/secrets/planted.tsv

Columns: format, name (the word a program would print beside it), source,
value (what is planted), secret (the part of a URL value that is secret;
empty when the whole value is). Every secret is planted by tests/scrub_corpus.rs in each log shape.
"""
import base64
import random
import string
import sys

rng = random.Random(15)
UP, LO, DI = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LO + DI
HEX = "0123456789abcdef"


def r(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid():
    return "-".join(r(HEX, n) for n in (8, 4, 4, 4, 12))


def b64(n):
    return base64.b64encode(bytes(rng.randrange(256) for _ in range(n))).decode()


def pem(kind):
    body = base64.b64encode(bytes([0x30, 0x82, 0x04, 0xa4]) + bytes(rng.randrange(256) for _ in range(180))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    label = f"{kind} PRIVATE KEY".strip()
    return f"-----BEGIN {label}-----\\n" + "\\n".join(lines) + f"\\n-----END {label}-----"


def url(before, secret, after):
    return (before + secret + after, secret)


GL = "gitleaks rule {} (format fact)"
FORMATS = [
    # Cloud providers
    ("aws-access-key-id", "aws_access_key_id", "AWS IAM docs, unique id prefixes", lambda: "AKIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    ("aws-access-key-id-docs", "access_key", "AWS IAM docs example", lambda: "AKIAIOSFODNN7EXAMPLE"),
    ("aws-temporary-key-id", "aws_access_key_id", "AWS STS docs: ASIA prefix", lambda: "ASIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
    ("aws-secret-access-key", "aws_secret_access_key", "AWS IAM docs: 40 base64 characters", lambda: r(ALNUM + "/+", 40)),
    ("aws-secret-access-key-docs", "aws_secret_access_key", "AWS IAM docs example", lambda: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws-session-token", "aws_session_token", "AWS STS: base64 of a serialized token, IQoJb3JpZ2luX2Vj...", lambda: "IQoJb3JpZ2luX2VjE" + r(ALNUM + "/+", 300) + "=="),
    ("aws-bedrock-api-key", "bedrock_api_key", GL.format("aws-amazon-bedrock-api-key-long-lived"), lambda: "ABSKQmVkcm9ja0FQSUtleS1" + r(ALNUM, 108) + "="),
    ("gcp-api-key", "google_api_key", GL.format("gcp-api-key"), lambda: "AIza" + r(ALNUM + "_-", 35)),
    ("gcp-oauth-client-secret", "client_secret", "Google OAuth client secrets, GOCSPX- prefix", lambda: "GOCSPX-" + r(ALNUM + "_-", 28)),
    ("gcp-service-account-key", "private_key", "Google service account JSON key file", lambda: pem("")),
    ("azure-ad-client-secret", "azure_client_secret", GL.format("azure-ad-client-secret"), lambda: r(ALNUM, 3) + "8Q~" + r(ALNUM + "_~.-", 34)),
    ("azure-storage-account-key", "AccountKey", "Azure Storage connection strings: 64-byte base64 AccountKey", lambda: b64(64)),
    ("azure-sas-signature", "sig", "Azure SAS token docs: sig= URL-encoded base64 HMAC", lambda: b64(32).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")),
    ("alibaba-access-key-id", "alibaba_access_key", GL.format("alibaba-access-key-id"), lambda: "LTAI" + r(ALNUM, 20)),
    ("digitalocean-pat", "do_token", GL.format("digitalocean-pat"), lambda: "dop_v1_" + r(HEX, 64)),
    ("heroku-api-key-v2", "heroku_api_key", GL.format("heroku-api-key-v2"), lambda: "HRKU-AA" + r(ALNUM + "_-", 58)),
    ("heroku-api-key", "HEROKU_API_KEY", GL.format("heroku-api-key"), uuid),
    ("cloudflare-api-token", "CLOUDFLARE_API_TOKEN", GL.format("cloudflare-api-key"), lambda: r(ALNUM + "_-", 40)),
    ("databricks-token", "databricks_token", GL.format("databricks-api-token"), lambda: "dapi" + r(HEX, 32)),
    ("hashicorp-vault-token", "VAULT_TOKEN", GL.format("vault-service-token"), lambda: "hvs." + r(ALNUM + "_-", 95)),
    ("terraform-cloud-token", "tfe_token", GL.format("hashicorp-tf-api-token"), lambda: r(LO + DI, 14) + ".atlasv1." + r(ALNUM + "_-", 67)),
    ("flyio-token", "FLY_API_TOKEN", GL.format("flyio-access-token"), lambda: "fo1_" + r(ALNUM + "_-", 43)),
    # Source hosting and CI
    ("github-pat", "github_token", "GitHub docs: token prefixes (ghp_ + 36)", lambda: "ghp_" + r(ALNUM, 36)),
    ("github-oauth", "GITHUB_TOKEN", "GitHub docs: token prefixes (gho_)", lambda: "gho_" + r(ALNUM, 36)),
    ("github-app-token", "installation_token", "GitHub docs: token prefixes (ghs_)", lambda: "ghs_" + r(ALNUM, 36)),
    ("github-fine-grained-pat", "gh_pat", GL.format("github-fine-grained-pat"), lambda: "github_pat_" + r(ALNUM, 22) + "_" + r(ALNUM, 59)),
    ("gitlab-pat", "gitlab_token", GL.format("gitlab-pat"), lambda: "glpat-" + r(ALNUM + "_-", 20)),
    ("gitlab-runner-token", "runner_token", GL.format("gitlab-runner-authentication-token"), lambda: "glrt-" + r(ALNUM + "_-", 20)),
    ("gitlab-pipeline-trigger", "trigger_token", GL.format("gitlab-ptt"), lambda: "glptt-" + r(HEX, 40)),
    # Package registries
    ("npm-token", "NPM_TOKEN", GL.format("npm-access-token"), lambda: "npm_" + r(ALNUM, 36)),
    ("pypi-token", "PYPI_TOKEN", GL.format("pypi-upload-token"), lambda: "pypi-AgEIcHlwaS5vcmc" + r(ALNUM + "_-", 150)),
    ("rubygems-token", "GEM_HOST_API_KEY", GL.format("rubygems-api-token"), lambda: "rubygems_" + r(HEX, 48)),
    ("nuget-api-key", "NUGET_API_KEY", "NuGet API keys: oy2 + 43 lowercase alphanumerics", lambda: "oy2" + r(LO + DI, 43)),
    ("clojars-token", "CLOJARS_TOKEN", GL.format("clojars-api-token"), lambda: "CLOJARS_" + r(LO + DI, 60)),
    ("docker-hub-pat", "DOCKERHUB_TOKEN", "Docker Hub personal access tokens: dckr_pat_", lambda: "dckr_pat_" + r(ALNUM + "_-", 27)),
    ("artifactory-api-key", "artifactory_api_key", GL.format("artifactory-api-key"), lambda: "AKCp" + r(ALNUM, 69)),
    ("jfrog-reference-token", "jfrog_token", GL.format("artifactory-reference-token"), lambda: "cmVmd" + r(ALNUM, 59)),
    # SaaS API keys
    ("stripe-secret-key", "stripe_key", GL.format("stripe-access-token"), lambda: "sk_live_" + r(ALNUM, 99)),
    ("stripe-restricted-key", "STRIPE_API_KEY", GL.format("stripe-access-token"), lambda: "rk_test_" + r(ALNUM, 24)),
    ("stripe-webhook-secret", "webhook_secret", "Stripe docs: webhook signing secrets, whsec_", lambda: "whsec_" + r(ALNUM, 32)),
    ("slack-bot-token", "slack_token", GL.format("slack-bot-token"), lambda: "xoxb-" + r(DI, 12) + "-" + r(DI, 13) + "-" + r(ALNUM, 24)),
    ("slack-user-token", "SLACK_USER_TOKEN", GL.format("slack-user-token"), lambda: "xoxp-" + r(DI, 12) + "-" + r(DI, 12) + "-" + r(DI, 13) + "-" + r(HEX, 32)),
    ("slack-app-token", "SLACK_APP_TOKEN", GL.format("slack-app-token"), lambda: "xapp-1-A" + r(UP + DI, 10) + "-" + r(DI, 13) + "-" + r(HEX, 64)),
    ("twilio-api-key", "twilio_api_key", GL.format("twilio-api-key"), lambda: "SK" + r(HEX, 32)),
    ("sendgrid-api-key", "SENDGRID_API_KEY", GL.format("sendgrid-api-token"), lambda: "SG." + r(ALNUM + "_-", 22) + "." + r(ALNUM + "_-", 43)),
    ("mailgun-api-key", "mailgun_api_key", GL.format("mailgun-private-api-token"), lambda: "key-" + r(HEX, 32)),
    ("mailchimp-api-key", "mailchimp_api_key", GL.format("mailchimp-api-key"), lambda: r(HEX, 32) + "-us" + r(DI, 2)),
    ("openai-api-key", "OPENAI_API_KEY", GL.format("openai-api-key"), lambda: "sk-proj-" + r(ALNUM + "_-", 74) + "T3BlbkFJ" + r(ALNUM + "_-", 74)),
    ("anthropic-api-key", "ANTHROPIC_API_KEY", GL.format("anthropic-api-key"), lambda: "sk-ant-api03-" + r(ALNUM + "_-", 93) + "AA"),
    ("huggingface-token", "HF_TOKEN", GL.format("huggingface-access-token"), lambda: "hf_" + r(UP + LO, 34)),
    ("shopify-access-token", "shopify_token", GL.format("shopify-access-token"), lambda: "shpat_" + r(HEX, 32)),
    ("square-access-token", "square_access_token", GL.format("square-access-token"), lambda: "EAAA" + r(ALNUM + "_-", 60)),
    ("datadog-api-key", "DD_API_KEY", GL.format("datadog-access-token"), lambda: r(HEX, 32)),
    ("datadog-app-key", "datadog_app_key", GL.format("datadog-access-token"), lambda: r(LO + DI, 40)),
    ("new-relic-user-key", "NEW_RELIC_API_KEY", GL.format("new-relic-user-api-key"), lambda: "NRAK-" + r(UP + DI, 27)),
    ("sentry-user-token", "SENTRY_AUTH_TOKEN", GL.format("sentry-user-token"), lambda: "sntryu_" + r(HEX, 64)),
    ("grafana-service-account", "grafana_token", GL.format("grafana-service-account-token"), lambda: "glsa_" + r(ALNUM, 32) + "_" + r(HEX, 8)),
    ("dynatrace-token", "DT_API_TOKEN", GL.format("dynatrace-api-token"), lambda: "dt0c01." + r(UP + DI, 24) + "." + r(UP + DI, 64)),
    ("postman-api-key", "postman_api_key", GL.format("postman-api-token"), lambda: "PMAK-" + r(HEX, 24) + "-" + r(HEX, 34)),
    ("pulumi-token", "PULUMI_ACCESS_TOKEN", GL.format("pulumi-api-token"), lambda: "pul-" + r(HEX, 40)),
    ("linear-api-key", "LINEAR_API_KEY", GL.format("linear-api-key"), lambda: "lin_api_" + r(ALNUM, 40)),
    ("notion-token", "NOTION_TOKEN", GL.format("notion-api-token"), lambda: "ntn_" + r(DI, 11) + r(ALNUM, 35)),
    ("doppler-token", "DOPPLER_TOKEN", GL.format("doppler-api-token"), lambda: "dp.pt." + r(ALNUM, 43)),
    ("atlassian-api-token", "jira_api_token", GL.format("atlassian-api-token"), lambda: r(LO + DI, 24)),
    ("telegram-bot-token", "telegram_bot_token", GL.format("telegram-bot-api-token"), lambda: r(DI, 10) + ":AA" + r(ALNUM + "_-", 33)),
    ("age-secret-key", "age_key", GL.format("age-secret-key"), lambda: "AGE-SECRET-KEY-1" + r("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
    ("planetscale-password", "DATABASE_PASSWORD", GL.format("planetscale-password"), lambda: "pscale_pw_" + r(ALNUM + "_", 43)),
    ("easypost-api-key", "easypost_api_key", GL.format("easypost-api-token"), lambda: "EZAK" + r(ALNUM, 54)),
    ("jwt", "id_token", "RFC 7519 (three base64url parts)", lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + base64.urlsafe_b64encode(('{"sub":"%s","exp":1735689600}' % r(DI, 10)).encode()).decode().rstrip("=") + "." + r(ALNUM + "_-", 43)),
    ("jwt-io-example", "access_token", "jwt.io example token", lambda: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
    # Chat webhooks
    ("slack-webhook", "SLACK_WEBHOOK_URL", GL.format("slack-webhook-url"), lambda: url("https://hooks.slack.com/services/", "T" + r(UP + DI, 10) + "/B" + r(UP + DI, 10) + "/" + r(ALNUM, 24), "")),
    ("discord-webhook", "discord_webhook", "Discord docs: webhook URL /api/webhooks/{id}/{token}", lambda: url("https://discord.com/api/webhooks/" + r(DI, 18) + "/", r(ALNUM + "_-", 68), "")),
    ("teams-webhook", "teams_webhook_url", GL.format("microsoft-teams-webhook"), lambda: url("https://contoso.webhook.office.com/webhookb2/" + uuid() + "@" + uuid() + "/IncomingWebhook/", r(HEX, 32), "/" + uuid())),
    # Database URLs and passwords
    ("postgres-url", "DATABASE_URL", "libpq connection URIs", lambda: url("postgres://app:", r(ALNUM, 18), "@db.internal:5432/orders")),
    ("mysql-url-slash-at", "db_url", "RFC 3986 userinfo (unescaped / and @ seen in logs)", lambda: url("mysql://admin:", r(ALNUM, 6) + "/" + r(ALNUM, 5) + "@" + r(ALNUM, 6), "@mysql.internal:3306/app")),
    ("redis-url-no-user", "REDIS_URL", "redis-py URL scheme: redis://:password@host", lambda: url("redis://:", r(ALNUM, 24), "@cache.internal:6379/0")),
    ("mongodb-srv-url", "MONGO_URI", "MongoDB connection string docs", lambda: url("mongodb+srv://svc:", r(ALNUM, 20), "@cluster0.abcde.mongodb.net/?retryWrites=true")),
    ("password-plain", "password", "any password", lambda: r(ALNUM, 10) + "!" + r(ALNUM, 3)),
    ("password-symbols", "db_password", "any password, with / and @", lambda: r(ALNUM, 5) + "/" + r(ALNUM, 4) + "@" + r(ALNUM, 5)),
    ("generic-secret-hex", "client_secret", "a 32-hex client secret", lambda: r(HEX, 32)),
    ("generic-api-key-b64", "api_key", "a base64 API key", lambda: b64(30)),
    # Private keys
    ("rsa-private-key", "private_key", "RFC 7468 PEM private keys", lambda: pem("RSA")),
    ("ec-private-key", "ssh_key", "RFC 7468 PEM private keys", lambda: pem("EC")),
    ("openssh-private-key", "deploy_key", "OpenSSH private key format", lambda: pem("OPENSSH")),
]

print("# format\tname\tsource\tvalue\tsecret part (written by make_planted.py)")
for fmt, name, source, make in FORMATS:
    for _ in range(2 if fmt.endswith("-docs") or fmt == "jwt-io-example" else 3):
        made = make()
        value, secret = made if isinstance(made, tuple) else (made, "")
        print(f"{fmt}\t{name}\t{source}\t{value}\t{secret}")
        if fmt.endswith("-docs") or fmt == "jwt-io-example":
            break

#!/usr/bin/env python3
"""Writes holdout2.tsv: a second held-out set, built after the rules were
fixed for what holdout.tsv found, and measured once, to say whether those
fixes hold on data they were not fitted to.

Formats come from sources neither planted.tsv nor holdout.tsv used: the
leak samples of Horusec (internal/services/engines/leaks/samples.go) and
vendors' documentation. tests/scrub_holdout.rs plants them in log shapes
neither earlier set has (Go http.Header, PHP var_dump, Spring Boot's
failure analysis, Azure CLI app settings, Node rawHeaders, Kubernetes
Secret block scalars, systemd units). Same columns as holdout.tsv.

    python3 tests/secrets/make_holdout2.py > tests/secrets/holdout2.tsv
"""
import base64
import random
import string

rng = random.Random(2026_12_01)
UP, LO, DI = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UP + LO + DI
HEX = "0123456789abcdef"
HZ = "https://github.com/ZupIT/horusec/blob/main/internal/services/engines/leaks/samples.go"


def r(alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def uuid():
    return "-".join(r(HEX, n) for n in (8, 4, 4, 4, 12))


def around(before, secret, after=""):
    return (before + secret + after, secret)


def pem_one_line():
    body = base64.b64encode(bytes([0x30, 0x82, 0x04, 0xbe]) + bytes(rng.randrange(256) for _ in range(150))).decode()
    return ("-----BEGIN PRIVATE KEY-----" + body + "-----END PRIVATE KEY-----", body)


FORMATS = [
    ("amazon-mws-key", "AWS_MWS_KEY", "yes", HZ + " (HS-LEAKS-3, amzn.mws. + UUID)", lambda: "amzn.mws." + uuid()),
    ("braintree-access-token", "PAYPAL_ACCESS_TOKEN", "yes", HZ + " (HS-LEAKS-18, access_token$production$...$...)", lambda: "access_token$production$" + r(LO + DI, 16) + "$" + r(HEX, 32)),
    ("pem-on-one-line", "SSH_PRIVATE_KEY", "yes", HZ + " (HS-LEAKS-12, a PEM key with its line breaks lost)", pem_one_line),
    ("facebook-app-secret", "FB_SECRET_KEY", "no", HZ + " (HS-LEAKS-4, 32 hex)", lambda: r(HEX, 32)),
    ("twitter-secret", "TWITTER_SECRET_KEY", "no", HZ + " (HS-LEAKS-6, 35-44 lower-case alphanumerics)", lambda: r(LO + DI, 40)),
    ("linkedin-secret", "LINKEDIN_SECRET_KEY", "no", HZ + " (HS-LEAKS-10, 16 lower-case alphanumerics)", lambda: r(LO + DI, 16)),
    ("github-oauth-app-secret", "GITHUB_CLIENT_SECRET", "no", "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps (client secret, 40 hex)", lambda: r(HEX, 40)),
    ("postgres-password-short", "POSTGRES_DBPASSWD", "no", HZ + " (HS-LEAKS-25, 'Ch@ng3m3')", lambda: rng.choice(["Ch", "Sw", "Tr", "Pl"]) + "@" + r(LO, 3) + r(DI, 1) + r(LO, 1) + r(DI, 1)),
    ("slack-signing-secret", "SLACK_SIGNING_SECRET", "no", "https://api.slack.com/authentication/verifying-requests-from-slack (signing secret, 32 hex)", lambda: r(HEX, 32)),
    ("auth0-client-secret", "AUTH0_CLIENT_SECRET", "no", "https://auth0.com/docs/get-started/applications/application-settings (client secret, 64 base64url)", lambda: r(ALNUM + "_-", 64)),
    ("okta-client-secret", "OKTA_CLIENT_SECRET", "no", "https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/ (client secret, 40 base64url)", lambda: r(ALNUM + "_-", 40)),
    ("pagerduty-routing-key", "PAGERDUTY_ROUTING_KEY", "no", "https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (routing_key, 32 hex)", lambda: r(HEX, 32)),
    ("session-cookie", "Set-Cookie", "no", "https://expressjs.com/en/resources/middleware/session.html (connect.sid=s%3A<id>.<signature>)", lambda: around("connect.sid=s%3A", r(ALNUM + "_-", 32) + "." + r(ALNUM + "+/", 43), "; Path=/; HttpOnly")),
    ("django-session-id", "Cookie", "no", "https://docs.djangoproject.com/en/5.0/topics/http/sessions/ (sessionid, 32 lower-case alphanumerics)", lambda: around("csrftoken=" + r(ALNUM, 32) + "; sessionid=", r(LO + DI, 32))),
    ("smtp-password", "SMTP_PASSWORD", "no", "https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html (SES SMTP passwords, 44 base64)", lambda: "B" + r(ALNUM + "+/", 43)),
    ("rds-iam-token", "DB_AUTH_TOKEN", "yes", "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html (a presigned rds-db:connect URL)", lambda: around("db.internal:5432/?Action=connect&DBUser=etl&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA" + r("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) + "%2F20251130%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20251130T101500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=", r(HEX, 64))),
]

print("# format\tname\tdistinct\tsource\tvalue\tsecret part (written by make_holdout2.py)")
for fmt, name, distinct, source, make in FORMATS:
    for _ in range(3):
        made = make()
        value, secret = made if isinstance(made, tuple) else (made, "")
        print(f"{fmt}\t{name}\t{distinct}\t{source}\t{value}\t{secret}")

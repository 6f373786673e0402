//! What a secret looks like: the rule table, and the words that make a
//! name secret.
//!
//! Each rule is a row: a name, where the format comes from, the literals
//! that must occur for it to match at all (the prefilter), how it finds
//! candidates, what decides that a candidate is a secret, and an example
//! line with the secret it must lose. Formats are written from public
//! facts: the providers' documentation of their token prefixes and
//! lengths, and the rule descriptions and true-positive fixtures of public
//! scanners (gitleaks' rule set), read for the formats, not copied.
//!
//! Three kinds of rule:
//! - token formats with a distinctive prefix (`ghp_`, `AKIA`, `xoxb-`):
//!   secrets wherever they stand;
//! - shapes that name their value (`password=`, `"api_key": "..."`,
//!   `<dbPassword>`, `--token X`, `System.setProperty("X_TOKEN", "...")`):
//!   the name decides, see `crate::scrub::detect::name_strength`;
//! - scans for what has neither (an AWS secret key alone, a long random
//!   blob): entropy and character classes decide.

use std::ops::Range;

use super::detect;

/// How a rule finds candidates.
pub enum Find {
    /// A regular expression; the group `s`, or else the whole match, is
    /// the candidate. Compiled the first time its keywords occur.
    Regex(&'static str),
    /// A hand-written scan for rules with no literal to look for.
    Scan(fn(&str, &mut Vec<Range<usize>>)),
}

/// What makes a candidate a secret.
pub enum Check {
    Always,
    /// Only when this holds for the candidate text.
    If(fn(&str) -> bool),
    /// Only when this holds for the text from the match's start to the
    /// candidate, and the candidate.
    Prose(fn(&str, &str) -> bool),
    /// The regex's group `name` says whether its group `s` is a secret
    /// (see `name_strength`); `q` is a quote closing the name and `op` the
    /// operator, which matter for the comma shape `("X_TOKEN", "value")`.
    Named,
}

pub struct Rule {
    pub name: &'static str,
    /// Where the format is documented.
    pub source: &'static str,
    /// ASCII literals, case-insensitive, one of which every match holds;
    /// empty for scans, which always run.
    pub keywords: &'static [&'static str],
    pub find: Find,
    pub check: Check,
    /// A line this rule alone must scrub, and the secret in it.
    pub example: (&'static str, &'static str),
}

/// Name fragments that may make a name secret; `name_strength` decides.
macro_rules! name_words {
    () => {
        "pass|pw|secret|token|key|auth|cred|cookie|session|sig|sas|pat"
    };
}
/// `pat` only where it ends a name (`GITEA_PAT=`, `"giteaPat":`), so
/// `file_path` and `pattern` do not wake the rules.
const NAME_KEYWORDS: &[&str] = &[
    "pass", "pw", "secret", "token", "key", "auth", "cred", "cookie", "session", "sig", "sas",
    "pat=", "pat:", "pat\"", "pat\\", "pat'", "pat ",
];

/// Value of a named shape: quoted (possibly with escaped quotes, as in a
/// JSON string inside JSON) or bare up to a delimiter.
macro_rules! value {
    () => {
        r#"(?P<s>\\*"[^"\\\r\n]*|\\*'[^'\\\r\n]*|`[^`\r\n]*|[^\s"'`\\,;&<>(){}\[\]]+|[({\[<][^\s"'`\\]+)"#
    };
}

/// Words whose presence in any part of a name makes its value a secret
/// (`dbPassword`, `GITHUB_TOKEN`, `client_secret`, `X-Amz-Signature`).
pub const STRONG_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "authorization",
    "signature",
    "cookie",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "accountkey",
    "sessionid",
    "sessiontoken",
    "authkey",
    "masterkey",
];
/// Short words that count only as a whole part: `db_pass`, `pwd`, `sig`
/// (an Azure SAS signature), but not `passenger`, `design`, `author`.
/// `pat` is a personal access token (`AZURE_DEVOPS_PAT`, `GITEA_PAT`).
pub const STRONG_PARTS: &[&str] = &["pass", "pwd", "pw", "auth", "creds", "sig", "sas", "pat"];
/// Adjacent parts that name a secret together: `api_key`, `AccessKey`.
pub const STRONG_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("app", "key"),
    ("license", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("account", "key"),
    ("master", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("session", "id"),
    ("session", "key"),
    ("client", "secret"),
];
/// Parts that make a value a secret only when it also looks random.
pub const WEAK_PARTS: &[&str] = &["key", "access", "session"];
/// Parts that hold a strong word but name something else.
pub const NOT_SECRET_PARTS: &[&str] = &[
    "tokens",
    "tokenizer",
    "tokenize",
    "tokenized",
    "keyboard",
    "keyspace",
    "keyword",
    "keywords",
    "monkey",
    "turkey",
    "hockey",
    "jockey",
    "donkey",
    "keys",
];
/// Last parts that make a name about a secret, not the secret itself
/// (`secret_arn`, `token_count`, `password_reset_url`, `KeyError`).
pub const NOT_SECRET_LAST: &[&str] = &[
    "id",
    "ids",
    "name",
    "names",
    "arn",
    "type",
    "count",
    "len",
    "length",
    "size",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "expired",
    "at",
    "url",
    "uri",
    "endpoint",
    "file",
    "path",
    "dir",
    "version",
    "format",
    "mode",
    "policy",
    "rotation",
    "error",
    "errors",
    "exception",
    "field",
    "label",
    "prefix",
    "source",
    "provider",
    "store",
    "manager",
    "required",
    "missing",
    "invalid",
    "enabled",
    "used",
    "limit",
    "index",
    "hint",
    // Events and settings about a secret: `AuthFail`, `auth_method`.
    "fail",
    "failed",
    "failure",
    "failures",
    "success",
    "successful",
    "method",
    "status",
    "state",
    "timeout",
];

/// The rule table. Order does not matter: every rule sees the original
/// text and the secrets they find are merged.
pub static RULES: &[Rule] = &[
    // -- Cloud providers --------------------------------------------------
    Rule {
        name: "aws-access-key-id",
        source: "AWS IAM: unique id prefixes AKIA (long-term), ASIA (STS), ABIA, ACCA; 20 characters",
        keywords: &["akia", "asia", "abia", "acca", "a3t"],
        find: Find::Regex(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
        check: Check::Always,
        example: (
            "AccessDenied for ASIAGBGEK753DAUJPWRK on bucket",
            "ASIAGBGEK753DAUJPWRK",
        ),
    },
    Rule {
        name: "aws-session-token",
        source: "AWS STS session tokens: base64 of a serialized token, prefixes IQoJb3JpZ2luX2 (\\x21\\n\\torigin_), FwoGZXIvYXdzE, FQoGZXIvYXdzE, FQoDYXdzE (seen in API Gateway logs), AgoJb3JpZ2luX2, AQoDYXdzE",
        // The serialized token names its issuer (`aws`, base64 `YXdz`) or its
        // `origin` (`b3JpZ2lu`) within its first bytes, whatever the
        // version header before it (FQoD, FwoGZXIv, IQoJ, AgoJ, AQoD, ...).
        keywords: &["yxdze", "b3jpz2lux2"],
        find: Find::Regex(r"\b[A-Za-z0-9]{4,8}(?:YXdzE|b3JpZ2luX2)[A-Za-z0-9/+]{20,}=*"),
        check: Check::Always,
        example: (
            "ExpiredToken IQoJb3JpZ2luX2VjEEiMIsY5xCGcyF4GefcFUWoA6m1g+Ifxc0nz/CfLWVtwXAlyuOqxqzIP2sfxY7kse3EjDrTeQLZiQ47eU= rejected",
            "IQoJb3JpZ2luX2VjEEiMIsY5xCGcyF4GefcFUWoA6m1g+Ifxc0nz",
        ),
    },
    Rule {
        name: "aws-secret-access-key",
        source: "AWS IAM: secret access keys are 40 characters of [A-Za-z0-9/+]; found alone by entropy",
        keywords: &[],
        find: Find::Scan(detect::bare_aws_secret_keys),
        check: Check::Always,
        example: (
            "boto3 Session(None, LckQzktz7QjWDus0D7fztMXlOicFzFU3ZmTwFnWd) failed",
            "LckQzktz7QjWDus0D7fztMXlOicFzFU3ZmTwFnWd",
        ),
    },
    Rule {
        name: "aws-bedrock-api-key",
        source: "Amazon Bedrock API keys: ABSK + base64 (long-lived), bedrock-api-key- (short-lived)",
        keywords: &["absk", "bedrock-api-key-"],
        find: Find::Regex(r"\bABSK[A-Za-z0-9+/]{100,}=*|bedrock-api-key-[A-Za-z0-9+/=%&.-]+"),
        check: Check::Always,
        example: (
            "invoke failed ABSKQmVkcm9ja0FQSUtleS1aXgZpj7kJ4M9afZcxn5lVshv0FKXUXE0TgLHp5SsV07g4aoKhS0gNg5MaLDokmGWkoouCsaAyATtsjA6TZ1GlAqBMLfxjkR3p5igJkMamHJK=",
            "ABSKQmVkcm9ja0FQSUtleS1aXgZpj7kJ4M9",
        ),
    },
    Rule {
        name: "gcp-api-key",
        source: "Google API keys: AIza + 35 characters",
        keywords: &["aiza"],
        find: Find::Regex(r"\bAIza[0-9A-Za-z_-]{35}"),
        check: Check::Always,
        example: (
            "maps 403 key AIzaMBvRnhmX1EoC3G-FP1z5IBxT80NK8bTB2AB",
            "AIzaMBvRnhmX1EoC3G-FP1z5IBxT80NK8bTB2AB",
        ),
    },
    Rule {
        name: "gcp-oauth",
        source: "Google OAuth: client secrets GOCSPX-, access tokens ya29., refresh tokens 1//0",
        keywords: &["gocspx-", "ya29.", "1//0"],
        find: Find::Regex(
            r"\bGOCSPX-[A-Za-z0-9_-]{28}|\bya29\.[A-Za-z0-9_-]{20,}|\b1//0[A-Za-z0-9_-]{40,}",
        ),
        check: Check::Always,
        example: (
            "oauth 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 invalid_client",
            "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",
        ),
    },
    Rule {
        name: "azure-ad-client-secret",
        source: "Microsoft Entra client secrets: 3 characters, a digit, Q~, 31-34 more",
        keywords: &["q~"],
        find: Find::Regex(
            r"(?:^|[^A-Za-z0-9_~.-])(?P<s>[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34})",
        ),
        check: Check::Always,
        example: (
            "AADSTS7000215 bG88Q~5QgErZXwKDGEv6_IyPLgodL.yX5UvecWEg",
            "bG88Q~5QgErZXwKDGEv6_IyPLgodL.yX5UvecWEg",
        ),
    },
    Rule {
        name: "alibaba-access-key-id",
        source: "Alibaba Cloud AccessKey ids: LTAI + 20 alphanumerics",
        keywords: &["ltai"],
        find: Find::Regex(r"\bLTAI[A-Za-z0-9]{20}\b"),
        check: Check::Always,
        example: (
            "oss denied LTAI8WD5j5B16DQygtvpweDG",
            "LTAI8WD5j5B16DQygtvpweDG",
        ),
    },
    Rule {
        name: "digitalocean-token",
        source: "DigitalOcean tokens: do[opr]_v1_ + 64 hex",
        keywords: &["_v1_"],
        find: Find::Regex(r"\bdo[opr]_v1_[a-f0-9]{64}"),
        check: Check::Always,
        example: (
            "401 with dop_v1_4a069e3fab8c3bfc5e740e61572b4e3c02eaa7f3b4a715e4e48dd74089a58f3a",
            "dop_v1_4a069e3fab8c3bfc5e740e61572b4e3c02eaa7f3b4a715e4e48dd74089a58f3a",
        ),
    },
    Rule {
        name: "heroku-api-key-v2",
        source: "Heroku API keys: HRKU-AA + 58 characters",
        keywords: &["hrku-"],
        find: Find::Regex(r"\bHRKU-[A-Za-z0-9_-]{58,}"),
        check: Check::Always,
        example: (
            "heroku HRKU-AA69OTHb9kPgZu3heeMxl1UHlSC4rR4AkXu3F0bjXRXdWZKL-jWaRYnZBI0H",
            "HRKU-AA69OTHb9kPgZu3heeMxl1UHlSC4rR4AkXu3F0bjXRXdWZKL-jWaRYnZBI0H",
        ),
    },
    Rule {
        name: "databricks-token",
        source: "Databricks personal access tokens: dapi + 32 hex (+ -N)",
        keywords: &["dapi"],
        find: Find::Regex(r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
        check: Check::Always,
        example: (
            "jobs API 403 dapiba9f20df4875b15b0be23b7ac193fe04",
            "dapiba9f20df4875b15b0be23b7ac193fe04",
        ),
    },
    Rule {
        name: "hashicorp-tokens",
        source: "Vault tokens hvs./hvb./hvr., Terraform Cloud tokens <14>.atlasv1.<60-70>",
        keywords: &["hvs.", "hvb.", "hvr.", "atlasv1"],
        find: Find::Regex(
            r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}|\b[a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
        ),
        check: Check::Always,
        example: (
            "vault 403 hvs.CfLcXVNngDCMYhC7e4NsMWFiP7-jOPPzRddS7yVCx1EyGurzeq3pzGpStf2BuNXIp3ZCcR1y6FFEiiEMgPB3eFkOnsVPHiK",
            "hvs.CfLcXVNngDCMYhC7e4NsMWFiP7",
        ),
    },
    Rule {
        name: "flyio-token",
        source: "Fly.io tokens: fo1_ + 43, fm1a_/fm1r_/fm2_ + base64",
        keywords: &["fo1_", "fm1", "fm2_"],
        find: Find::Regex(r"\bfo1_[A-Za-z0-9_-]{43}|\bfm(?:1[ar]|2)_[A-Za-z0-9+/]{60,}=*"),
        check: Check::Always,
        example: (
            "deploy fo1_tltyxpA-w4mXmS3wdLqpfpa2BDGg-mn33x7tFs5BIdM",
            "fo1_tltyxpA-w4mXmS3wdLqpfpa2BDGg-mn33x7tFs5BIdM",
        ),
    },
    Rule {
        name: "cloudflare-origin-ca-key",
        source: "Cloudflare Origin CA keys: v1.0- + 24 hex + - + 146 hex",
        keywords: &["v1.0-"],
        find: Find::Regex(r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
        check: Check::Always,
        example: (
            "cf v1.0-0b64915abef7ab5392e335ce-1113d4db2b5b52a0f94833734f83ae7518b69c64773031f6725480dc3932677172a31659a2e50add127454b4667a20f1fa2261bd2b5ff4891e5dc9328776e7f1ccacc27ad909f03fdd",
            "0b64915abef7ab5392e335ce-1113d4db2b5b52a0",
        ),
    },
    // -- Source hosting and CI ---------------------------------------------
    Rule {
        name: "github-token",
        source: "GitHub token prefixes ghp_ gho_ ghu_ ghs_ ghr_ (36+ base62, last 6 a CRC32), github_pat_",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        find: Find::Regex(r"\bgh[pousr]_[A-Za-z0-9]{36,255}|\bgithub_pat_[A-Za-z0-9_]{22,255}"),
        check: Check::Always,
        example: (
            "git push 403 ghp_U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8D",
            "ghp_U8JZpDE0iGXlD6gNCFbaEPFjbD0kH8Oool8D",
        ),
    },
    Rule {
        name: "gitlab-token",
        source: "GitLab token prefixes glpat- glptt- glrt- gldt- glft- glimt- glagent- gloas- glsoat- glcbt- glffct-, GR1348941",
        keywords: &[
            "glpat-",
            "glptt-",
            "glrt-",
            "gldt-",
            "glft-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glsoat-",
            "glcbt-",
            "glffct-",
            "gr1348941",
        ],
        find: Find::Regex(
            r"\bgl(?:pat|ptt|rt|dt|ft|imt|agent|oas|soat|cbt|ffct)-[A-Za-z0-9_.-]{20,}|\bGR1348941[A-Za-z0-9_-]{20}",
        ),
        check: Check::Always,
        example: (
            "clone failed glpat-y40UVsWmflzdE1F8Resq",
            "glpat-y40UVsWmflzdE1F8Resq",
        ),
    },
    // -- Package registries ------------------------------------------------
    Rule {
        name: "npm-token",
        source: "npm access tokens: npm_ + 36 base62 (last 6 a CRC32)",
        keywords: &["npm_"],
        find: Find::Regex(r"\bnpm_[A-Za-z0-9]{36}"),
        check: Check::Always,
        example: (
            "npm ERR! 401 npm_EDusTpkr0cStY4qWB8dWKnHfDNxSIvPZZ63f",
            "npm_EDusTpkr0cStY4qWB8dWKnHfDNxSIvPZZ63f",
        ),
    },
    Rule {
        name: "pypi-token",
        source: "PyPI API tokens: pypi- + a macaroon whose base64 starts AgEIcHlwaS5vcmc (pypi.org)",
        keywords: &["pypi-ageichlwas5vcmc"],
        find: Find::Regex(r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
        check: Check::Always,
        example: (
            "twine 403 pypi-AgEIcHlwaS5vcmcKV5zjR3j1twdTKWTddB_XhkAS1voQG6yyzyN9zHYIa4UOrGNATMuDJawTgsu8PO_799nKS",
            "pypi-AgEIcHlwaS5vcmcKV5zjR3j1twdTKWTddB_X",
        ),
    },
    Rule {
        name: "rubygems-token",
        source: "RubyGems API keys: rubygems_ + 48 hex",
        keywords: &["rubygems_"],
        find: Find::Regex(r"\brubygems_[a-f0-9]{48}"),
        check: Check::Always,
        example: (
            "gem push rubygems_3a8f506b40928b5b7a767c76fb008f86bebb2737f6a6f0fb",
            "rubygems_3a8f506b40928b5b7a767c76fb008f86bebb2737f6a6f0fb",
        ),
    },
    Rule {
        name: "nuget-api-key",
        source: "NuGet.org API keys: oy2 + 43 lower-case alphanumerics",
        keywords: &["oy2"],
        find: Find::Regex(r"\boy2[a-z0-9]{43}\b"),
        check: Check::Always,
        example: (
            "dotnet nuget push -k oy2fhym4l1vfz3zfkkibj3j4wj99ibag7i1mnbqns6puq8",
            "oy2fhym4l1vfz3zfkkibj3j4wj99ibag7i1mnbqns6puq8",
        ),
    },
    Rule {
        name: "clojars-token",
        source: "Clojars deploy tokens: CLOJARS_ + 60",
        keywords: &["clojars_"],
        find: Find::Regex(r"(?i)\bCLOJARS_[a-z0-9]{60}"),
        check: Check::Always,
        example: (
            "deploy CLOJARS_0idw3706i8j76b2lajlj4h9du7794g9dpmrcg629be2u66mr26846p7q9m2i",
            "CLOJARS_0idw3706i8j76b2lajlj4h9du7794g9d",
        ),
    },
    Rule {
        name: "docker-hub-pat",
        source: "Docker Hub personal access tokens: dckr_pat_ + 27",
        keywords: &["dckr_pat_"],
        find: Find::Regex(r"\bdckr_pat_[A-Za-z0-9_-]{27,}"),
        check: Check::Always,
        example: (
            "docker login dckr_pat_1Py4oJe2JbmPTuSgR7cMy_UcU3z",
            "dckr_pat_1Py4oJe2JbmPTuSgR7cMy_UcU3z",
        ),
    },
    Rule {
        name: "jfrog-token",
        source: "JFrog Artifactory API keys AKCp + 69, reference tokens cmVmd + 59",
        keywords: &["akcp", "cmvmd"],
        find: Find::Regex(r"\bAKCp[A-Za-z0-9]{69}\b|\bcmVmd[A-Za-z0-9]{59}\b"),
        check: Check::Always,
        example: (
            "artifactory 401 AKCpVaMWUFuXBVjdctBYVhnSg9EH6yO4GFQRC5xLRwI0b26r08QZJi6gkfsUFRDzsLb5ER8Bo",
            "AKCpVaMWUFuXBVjdctBYVhnSg9EH6yO4GFQRC5xLRwI0b26r08QZJi6gkfsUFRDzsLb5ER8Bo",
        ),
    },
    // -- SaaS API keys -----------------------------------------------------
    Rule {
        name: "stripe-key",
        source: "Stripe secret and restricted keys sk_/rk_ + live/test/prod; webhook secrets whsec_",
        keywords: &["sk_", "rk_", "whsec_"],
        find: Find::Regex(
            r"\b[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,247}|\bwhsec_[A-Za-z0-9+/=]{24,}",
        ),
        check: Check::Always,
        example: (
            "charge failed sk_live_7cGq0pbqfi14ZgTsNOVM14tu",
            "sk_live_7cGq0pbqfi14ZgTsNOVM14tu",
        ),
    },
    Rule {
        name: "slack-token",
        source: "Slack tokens xoxb- xoxp- xoxa- xoxr- xoxo- xoxs- xoxe-, app tokens xapp-",
        keywords: &["xox", "xapp-"],
        find: Find::Regex(r"\bxox[abposer]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"),
        check: Check::Always,
        example: (
            "slack invalid_auth xoxb-470455853043-5205617483380-FQ0FJZlCZBTToOFl9h2wJq5t",
            "xoxb-470455853043-5205617483380-FQ0FJZlCZBTToOFl9h2wJq5t",
        ),
    },
    Rule {
        name: "twilio-api-key",
        source: "Twilio API key SIDs: SK + 32 hex",
        keywords: &["sk"],
        find: Find::Regex(r"\bSK[0-9a-fA-F]{32}\b"),
        check: Check::Always,
        example: (
            "twilio 20003 SKb483b7ffc050fec94dbca3a0aac36098",
            "SKb483b7ffc050fec94dbca3a0aac36098",
        ),
    },
    Rule {
        name: "sendgrid-api-key",
        source: "SendGrid API keys: SG. + 22 + . + 43",
        keywords: &["sg."],
        find: Find::Regex(r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
        check: Check::Always,
        example: (
            "mail 401 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",
            "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",
        ),
    },
    Rule {
        name: "mailgun-mailchimp-sendinblue",
        source: "Mailgun key- + 32 hex; Mailchimp 32 hex + -usNN; Brevo xkeysib- + 64 hex + 16",
        keywords: &["key-", "-us", "xkeysib-"],
        find: Find::Regex(
            r"\bkey-[0-9a-f]{32}\b|\b[0-9a-f]{32}-us\d{1,2}\b|\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
        ),
        check: Check::Always,
        example: (
            "mailchimp 401 02cee737443e210471948d33296c8700-us14",
            "02cee737443e210471948d33296c8700-us14",
        ),
    },
    Rule {
        name: "ai-api-key",
        source: "OpenAI sk-proj-/sk-svcacct-/sk-admin- and legacy sk- (T3BlbkFJ marker), Anthropic sk-ant-, Perplexity pplx-, Hugging Face hf_/api_org_",
        keywords: &["sk-", "pplx-", "hf_", "api_org_"],
        find: Find::Regex(
            r"\bsk-(?:proj|svcacct|admin|ant-api\d\d|ant-admin\d\d)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|\bsk-[A-Za-z0-9]{48}\b|\bpplx-[A-Za-z0-9]{48}|\b(?:hf|api_org)_[A-Za-z]{34}\b",
        ),
        check: Check::Always,
        example: (
            "openai 401 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",
            "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",
        ),
    },
    Rule {
        name: "commerce-token",
        source: "Shopify shpat_/shpca_/shppa_/shpss_ + 32 hex; Square EAAA/sq0atp-/sq0csp-; Facebook EAAC/EAAM; Shippo shippo_live_/test_; EasyPost EZAK/EZTK",
        keywords: &[
            "shpat_", "shpca_", "shppa_", "shpss_", "eaa", "sq0atp-", "sq0csp-", "sq0csb-",
            "shippo_", "ezak", "eztk",
        ],
        find: Find::Regex(
            r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|\b(?:EAAA|sq0atp-|sq0csp-|sandbox-sq0csb-)[A-Za-z0-9_-]{22,60}|\bEAA[CM][A-Za-z0-9]{100,}|\bshippo_(?:live|test)_[a-fA-F0-9]{40}|\bEZ[AT]K[A-Za-z0-9]{54}",
        ),
        check: Check::Always,
        example: (
            "shopify 401 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",
            "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",
        ),
    },
    Rule {
        name: "observability-token",
        source: "New Relic NRAK-/NRII-/NRJS-; Sentry sntryu_/sntrys_; Grafana glsa_/glc_/eyJrIjoi; Dynatrace dt0c01.",
        keywords: &[
            "nrak-", "nrii-", "nrjs-", "sntryu_", "sntrys_", "glsa_", "glc_", "eyjrijoi", "dt0c01.",
        ],
        find: Find::Regex(
            r"\bNR(?:AK|II|JS)-[A-Za-z0-9-]{19,32}|\bsntry[us]_[A-Za-z0-9+/=_]{40,}|\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|\bglc_[A-Za-z0-9+/]{32,}=*|\beyJrIjoi[A-Za-z0-9]{40,}=*|\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
        ),
        check: Check::Always,
        example: (
            "newrelic 403 NRAK-XCMLZKRUYKQH7DX297GQ8ZXQYXJ",
            "NRAK-XCMLZKRUYKQH7DX297GQ8ZXQYXJ",
        ),
    },
    Rule {
        name: "devtools-token",
        source: "Postman PMAK-, Pulumi pul-, Linear lin_api_, Notion ntn_, Doppler dp.pt., Prefect pnu_, ReadMe rdme_, Frame.io fio-u-, Duffel duffel_, PlanetScale pscale_, Scalingo tk-us-, Sonar squ_/sqp_/sqa_, Atlassian ATATT3",
        keywords: &[
            "pmak-", "pul-", "lin_api_", "ntn_", "dp.", "pnu_", "rdme_", "fio-u-", "duffel_",
            "pscale_", "tk-us-", "squ_", "sqp_", "sqa_", "atatt3",
        ],
        find: Find::Regex(
            r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}|\bpul-[a-f0-9]{40}|\blin_api_[A-Za-z0-9]{40}|\bntn_[0-9]{11}[A-Za-z0-9]{35}|\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}|\bpnu_[A-Za-z0-9]{36}|\brdme_[a-z0-9]{70}|\bfio-u-[A-Za-z0-9_=-]{64}|\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}|\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,64}|\btk-us-[A-Za-z0-9_-]{48}|\bsq[upa]_[a-f0-9]{40}|\bATATT3[A-Za-z0-9_=-]{100,}",
        ),
        check: Check::Always,
        example: (
            "linear 401 lin_api_bUQosG5aPyZttoKQ2bedBn2ahrq73L5pUxAY1f6G",
            "lin_api_bUQosG5aPyZttoKQ2bedBn2ahrq73L5pUxAY1f6G",
        ),
    },
    Rule {
        name: "more-prefixed-tokens",
        source: "TruffleHog detector tests (pkg/detectors/*/..._test.go): Supabase sbp_, Groq gsk_, Replicate r8_, Tailscale tskey-, Pinecone pcsk_, xAI xai-, OpenRouter sk-or-v1-, LangSmith lsv2_, NVIDIA nvapi-, ElevenLabs sk_ + 48 hex, Contentful CFPAT-, LaunchDarkly sdk-/mob- + UUID, Bitbucket ATBB, CircleCI CCIPAT_, Figma figd_, Intercom dG9rOm (base64 'tok:'), 1Password ops_eyJ, Firebase Cloud Messaging :APA91b, Django django-insecure-; Horusec's leak samples: Amazon MWS amzn.mws. + UUID, Braintree access_token$production$",
        keywords: &[
            "sbp_",
            "gsk_",
            "r8_",
            "tskey-",
            "pcsk_",
            "xai-",
            "sk-or-",
            "lsv2_",
            "nvapi-",
            "sk_",
            "cfpat-",
            "sdk-",
            "mob-",
            "atbb",
            "ccipat_",
            "figd_",
            "dg9rom",
            "ops_eyj",
            ":apa91b",
            "django-insecure-",
            "amzn.mws.",
            "access_token$",
        ],
        find: Find::Regex(
            r"\bamzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\baccess_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}|\bsbp_[a-z0-9]{40}|\bgsk_[A-Za-z0-9]{48,}|\br8_[A-Za-z0-9]{37}|\btskey-[a-z]+-[A-Za-z0-9_]+-[A-Za-z0-9_]{16,}|\bpcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,}|\bxai-[A-Za-z0-9]{70,}|\bsk-or-v1-[a-f0-9]{64}|\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}|\bnvapi-[A-Za-z0-9_-]{60,}|\bsk_[a-f0-9]{48}|\bCFPAT-[A-Za-z0-9_-]{43}|\b(?:sdk|mob)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b|\bATBB[A-Za-z0-9]{32,}|\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}|\bfigd_[A-Za-z0-9_-]{40}|\bdG9rOm[A-Za-z0-9+/]{40,}=*|\bops_eyJ[A-Za-z0-9+/]{100,}=*|[A-Za-z0-9_-]{11}:APA91b[A-Za-z0-9_-]{100,}|\bdjango-insecure-[a-z0-9!@#$%^&*(\-_=+)]{40,50}",
        ),
        check: Check::Always,
        example: (
            "groq 401 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",
            "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",
        ),
    },
    Rule {
        name: "more-prefixed-tokens-common-keywords",
        source: "TruffleHog detector tests: Airtable pat + 14 + . + 64 hex, Salesforce 00D + 12 + ! + 96, Dropbox sl. + 130+, Notion secret_ + 43 (kept apart: their keywords occur in ordinary words)",
        keywords: &["pat", "00d", "sl.", "secret_"],
        find: Find::Regex(
            r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b|\b00D[A-Za-z0-9]{12}![A-Za-z0-9._]{80,}|\bsl\.[A-Za-z0-9_.-]{130,}|\bsecret_[A-Za-z0-9]{43}\b",
        ),
        check: Check::Always,
        example: (
            "airtable 401 patfqpIZBPU6EAt5x.458546d9c77b21f8a98141f2a4039d5626010f19efc16c20d57c4f41d44c8c85",
            "patfqpIZBPU6EAt5x.458546d9c77b21f8a98141f2a4039d5626010f19efc16c20d57c4f41d44c8c85",
        ),
    },
    Rule {
        name: "telegram-bot-token",
        source: "Telegram bot tokens: bot id, colon, A + 34",
        keywords: &[":a"],
        find: Find::Regex(r"[0-9]{5,16}:A[A-Za-z0-9_-]{34}"),
        check: Check::Always,
        example: (
            "sendMessage 401 bot6748275346:AAg2X9Ajtfmp9_2KuTmxHKpRsBBaJlgMSdX",
            "6748275346:AAg2X9Ajtfmp9_2KuTmxHKpRsBBaJlgMSdX",
        ),
    },
    Rule {
        name: "age-secret-key",
        source: "age secret keys: AGE-SECRET-KEY-1 + 58 Bech32 characters",
        keywords: &["age-secret-key-1"],
        find: Find::Regex(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        check: Check::Always,
        example: (
            "sops AGE-SECRET-KEY-1UKFDE29NVLD9U88S6WG7LR7AFL0L2Q25ALJAHM6YTHPPZ4X7LFZD6G4XH4",
            "AGE-SECRET-KEY-1UKFDE29NVLD9U88S6WG7LR7AFL0L2Q25ALJAHM6YTHPPZ4X7LFZD6G4XH4",
        ),
    },
    // -- Chat webhooks -----------------------------------------------------
    Rule {
        name: "chat-webhook",
        source: "Slack incoming webhooks hooks.slack.com/services|workflows|triggers/...; Discord /api/webhooks/{id}/{token}; Teams *.webhook.office.com/webhookb2/...",
        keywords: &["hooks.slack.com", "/api/webhooks/", "webhook.office.com"],
        find: Find::Regex(
            r#"hooks\.slack\.com/(?P<s>(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,})|discord(?:app)?\.com/api/webhooks/(?P<s2>\d+/[A-Za-z0-9_-]{20,})|\.webhook\.office\.com/(?P<s3>webhookb2/[^\s"'<>\\]+)"#,
        ),
        check: Check::Always,
        example: (
            "POST https://hooks.slack.com/services/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 404",
            "T7KGTUYLWUO/BXI9XQPDCGZ/5D8NfbfuKTmloFJsOKIcoZFC",
        ),
    },
    // -- Shapes any credential takes ---------------------------------------
    Rule {
        name: "private-key",
        source: "RFC 7468 PEM private keys (PKCS#1, PKCS#8, EC, OpenSSH, PGP blocks), also cut short or with escaped newlines",
        keywords: &["private key"],
        find: Find::Regex(
            r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?P<s>(?s:.*?)(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\z))",
        ),
        check: Check::Always,
        example: (
            "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VSk9T0aRnLq\n-----END RSA PRIVATE KEY----- loaded",
            "MIIEpAIBAAKCAQEA0Z3VSk9T0aRnLq",
        ),
    },
    Rule {
        name: "jwt",
        source: "RFC 7519 JSON Web Tokens: base64url header {\"... (eyJ), payload, signature; also cut after the payload",
        keywords: &["eyj"],
        find: Find::Regex(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.?[A-Za-z0-9_-]*"),
        check: Check::Always,
        example: (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U rejected",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
        ),
    },
    Rule {
        name: "url-userinfo",
        source: "RFC 3986 userinfo: scheme://user:password@host, password up to the last @ before the host (passwords with / and @ are logged unescaped)",
        keywords: &["://"],
        find: Find::Regex(
            r#"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@"'<>\\]*:(?P<s>[^\s"'<>\\]*)@[A-Za-z0-9\[._-]"#,
        ),
        check: Check::If(detect::is_url_password),
        example: (
            "connect mysql://admin:p4ss/w@rd@db.internal:3306/app refused",
            "p4ss/w@rd",
        ),
    },
    Rule {
        name: "bearer-token",
        source: "RFC 6750 bearer tokens",
        keywords: &["bearer"],
        find: Find::Regex(r"(?i)\bbearer[ \t]+(?P<s>[A-Za-z0-9._~+/=-]{8,})"),
        check: Check::If(detect::looks_tokenish),
        example: (
            "401 Bearer TWm8XQP4E4jGwmr1a1ztH7TKpL9uov.sHxZZ18yv1VZZfzVW3Lt",
            "TWm8XQP4E4jGwmr1a1ztH7TKpL9uov",
        ),
    },
    Rule {
        name: "basic-credentials",
        source: "RFC 7617 Basic credentials: base64 of user:password",
        keywords: &["basic"],
        find: Find::Regex(r"(?i)\bbasic[ \t]+(?P<s>[A-Za-z0-9+/]{6,}=*)"),
        check: Check::If(detect::is_basic_credential),
        example: (
            "proxy 407 Basic ZGVwbG95OjJvSFFjeEFDaTBzaw==",
            "ZGVwbG95OjJvSFFjeEFDaTBzaw",
        ),
    },
    Rule {
        name: "cookie-header",
        source: "RFC 6265 Cookie and Set-Cookie headers: every cookie in the header",
        keywords: &["cookie"],
        find: Find::Regex(
            r#"(?i)\b(?:set-)?cookie\\*["']?[ \t]*[:=][ \t]*\\*["']?(?P<s>[^\r\n"'\\]+)"#,
        ),
        check: Check::Always,
        example: (
            "GET /cart Cookie: theme=dark; sid=Fz81kLq0aPzW",
            "Fz81kLq0aPzW",
        ),
    },
    Rule {
        name: "curl-user",
        source: "curl -u/--user user:password",
        keywords: &["-u"],
        find: Find::Regex(r#"(?:^|\s)(?:-u|--user)(?:=|[ \t]+)["']?[^\s:"']*:(?P<s>[^\s"']+)"#),
        check: Check::Always,
        example: (
            "curl -sf -u admin:S3cr3t-pw https://ci.internal/api",
            "S3cr3t-pw",
        ),
    },
    Rule {
        name: "named-value",
        source: "assignments to secret-sounding names: = : := ::= ?= .= => , (quoted name, also a list's next line: Node's rawHeaders), JSON, YAML (also block scalars), INI, properties, env, Go, Java, Kotlin, PHP (also var_dump), Python, query strings, escaped JSON",
        keywords: NAME_KEYWORDS,
        find: Find::Regex(concat!(
            r"(?P<name>[A-Za-z0-9_.$-]*(?i:",
            name_words!(),
            r#")[A-Za-z0-9_.-]*)(?P<q>\\*["'`])?(?:[ \t]*:?[ \t]*(?:string|String|str|&str|\[\]byte|SecureString))?[ \t]*\]?[ \t]*(?P<op>:{1,3}=|\?=|\.=|=>(?:[ \t]*\r?\n[ \t]*(?:string|int|float)\([0-9]+\))?|==?|:|,(?:[ \t]*\r?\n)?)[ \t]*"#,
            value!()
        )),
        check: Check::Named,
        example: (
            "conn failed db_password=Kq8/x@Lm2!zz user=etl",
            "Kq8/x@Lm2!zz",
        ),
    },
    Rule {
        name: "named-prose",
        source: "a secret word, up to two words, then a random-looking value: `invalid API key provided: 5f2b...`, `the deploy token x7Gq...`",
        keywords: &[
            "key",
            "token",
            "secret",
            "passw",
            "passphrase",
            "credential",
            "sig",
            "pwd",
        ],
        find: Find::Regex(
            r#"(?i)\b(?:key|token|secret|password|passwd|passphrase|credentials?|signature|sig|pwd)s?\b(?:[ \t]+[A-Za-z]{1,12}){0,2}?(?:[ \t]*[:=][ \t]*|[ \t]+)\\*["'`]?(?P<s>[A-Za-z]*[0-9+/_.~=!@#$%^&*-][A-Za-z0-9+/_.~=!@#$%^&*%-]{7,})"#,
        ),
        check: Check::Prose(detect::prose_secret),
        example: (
            "Invalid API key provided: 5f2b7c9e1a2b4c3d9e8f0a1b2c3d4e5f",
            "5f2b7c9e1a2b4c3d9e8f0a1b2c3d4e5f",
        ),
    },
    Rule {
        name: "named-xml-element",
        source: "XML elements named like secrets: <apiToken>...</apiToken>, also across lines",
        keywords: NAME_KEYWORDS,
        find: Find::Regex(concat!(
            r"<(?P<name>[A-Za-z0-9_.:-]*(?i:",
            name_words!(),
            r")[A-Za-z0-9_.:-]*)(?:\s[^<>]*)?>\s*(?P<s>[^<\s][^<]*?)\s*</"
        )),
        check: Check::Named,
        example: (
            "<config><dbPassword>\n  Zx9!mQ2pLw\n</dbPassword></config>",
            "Zx9!mQ2pLw",
        ),
    },
    Rule {
        name: "named-pair",
        source: "name/value pairs that put the secret's name in one field and the secret in a later one: XML <add key=\"Password\" value=\"...\"/> (NuGet, .NET config), AWS Batch/ECS environments {\"name\": ..., \"value\": ...}, Azure CLI app settings (a field between), CloudFormation ParameterKey/ParameterValue, AWS CLI shorthand Name=...,Value=..., Spring Boot's Property:/Value: lines",
        keywords: NAME_KEYWORDS,
        find: Find::Regex(concat!(
            r#"(?i:name|key|property)\\*["']?[ \t]*[:=][ \t]*\\*["']?(?P<name>[A-Za-z0-9_.:-]*(?i:"#,
            name_words!(),
            r#")[A-Za-z0-9_.:-]*)\\*["']?[ \t]*,?\s*(?:\\*"[A-Za-z_]+\\*"[ \t]*:[ \t]*(?:true|false|null|-?[0-9]+|\\*"[^"\\\r\n]{0,60}\\*")[ \t]*,[ \t]*){0,3}\\*["']?[A-Za-z]*(?i:value)\\*["']?[ \t]*[:=][ \t]*(?P<s>\\*"[^"\\\r\n]*|\\*'[^'\\\r\n]*|[^\s"'\\,;&<>(){}\[\]]+)"#
        )),
        check: Check::Named,
        example: (
            r#"SubmitJob failed: {"environment":[{"name":"DB_PASSWORD","value":"nU7#kd93Lq"}]}"#,
            "nU7#kd93Lq",
        ),
    },
    Rule {
        name: "oracle-user-password",
        source: "Oracle JDBC thin and EZConnect URLs, sqlplus: user/password@host (docs.oracle.com, JDBC Developer's Guide, data sources and URLs)",
        keywords: &["jdbc:oracle:", "sqlplus"],
        find: Find::Regex(
            r#"(?:jdbc:oracle:(?:thin|oci8?):|sqlplus[ \t]+(?:-[A-Za-z]+[ \t]+)*)[A-Za-z0-9_$#.]+/(?P<s>[^@\s"'/]+)@"#,
        ),
        check: Check::Always,
        example: (
            "SQLRecoverableException: IO Error, url=jdbc:oracle:thin:billing/Xq7vLp2RmK9sWd4T@//db.internal:1521/ORCLPDB1",
            "Xq7vLp2RmK9sWd4T",
        ),
    },
    Rule {
        name: "url-code",
        source: "Azure Functions keys (?code=, learn.microsoft.com: function access keys) and OAuth 2.0 authorization codes (RFC 6749 4.1.2) in URL queries, also percent-encoded",
        keywords: &["code=", "code%3d"],
        find: Find::Regex(
            r"(?:[?&]|%3[Ff]|%26)code(?:=|%3[Dd])(?P<s>[A-Za-z0-9_.~+/=-]{20,}(?:%3[Dd])*)",
        ),
        check: Check::If(detect::looks_random),
        example: (
            "POST https://billing-fn.azurewebsites.net/api/ExportHook?code=pX9v2Lq7Tz4mK8rW1cYb6NfHs3Jd0QeAu5GiVo_kE-lMxRt9Zn2Bw== 500",
            "pX9v2Lq7Tz4mK8rW1cYb6NfHs3Jd0QeAu5GiVo_kE-lMxRt9Zn2Bw",
        ),
    },
    Rule {
        name: "named-cli-flag",
        source: "command-line flags named like secrets: --password X, --api-token 'X', -token X",
        keywords: NAME_KEYWORDS,
        find: Find::Regex(concat!(
            r#"(?:^|[\s"'])--?(?P<name>[A-Za-z0-9_-]*(?i:"#,
            name_words!(),
            r#")[A-Za-z0-9_-]*)[ \t]+(?P<s>\\*"[^"\\\r\n]*|\\*'[^'\\\r\n]*|[^\s"'\\-][^\s"'\\]*)"#
        )),
        check: Check::Named,
        example: ("mysqldump --password Tr0ub4dor&3 --host db", "Tr0ub4dor&3"),
    },
    Rule {
        name: "long-random-blob",
        source: "any 64+ characters of base64 or base64url close to random (session tokens, keys and signed blobs with no known prefix)",
        keywords: &[],
        find: Find::Scan(detect::long_blobs),
        check: Check::Always,
        example: (
            "payload /g3sAOkFGfOEoasL1ycjLs24r5Ga2Q+YFhWUehfHVts0LZnRR+9eeA4RsmRSeqP2VT7zaOlBu+aFHjmZOn5OUp47ulVJFB7+KqhN+3+YpBtLkgfKRDDySlvX rejected",
            "OkFGfOEoasL1ycjLs24r5Ga2Q+YFhWUehfHVts0LZnRR",
        ),
    },
];

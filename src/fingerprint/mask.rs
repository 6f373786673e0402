//! The masked message: the constant words of a message with its variable
//! values replaced by `<*>`.
//!
//! A stateless grouper cannot learn which words vary, as Drain does from the
//! lines it has seen, so it recognises variable values by their shape alone:
//!
//! - a word holding a digit is a value: ids, counts, hex, UUIDs, versions,
//!   IPv4 addresses, timestamps, sizes and durations (`300ms`, `1m30s`);
//! - so is a run of 8 or more hex letters (`deadbeef`), `true` and `false`;
//! - so is whatever follows `key=`: a key-value pair names its own value;
//! - URLs, ARNs, paths, e-mail addresses, DNS names, IPv6 and MAC addresses
//!   are masked whole, or their letters would be left behind as constants;
//! - a quoted single word (`'alice'`, `"orders.csv"`) is a value; quoted text
//!   with spaces is masked word by word, since its words say what happened;
//! - a month or weekday next to a number is part of a date;
//! - a unit after a value (`5.01 seconds`, `1024 bytes`) and a bracket that
//!   only annotates a value (`1024 bytes (1.0 KB)`, `10.0.0.1 (host)`) fold
//!   into it, and values separated by one glue character (`10.0.0.1:8080`,
//!   `2024/01/31 22:12:58`) become one, so the same value written in a
//!   different format or length still gives the same template.
//!
//! Everything else, in particular plain words, is kept: "Connection refused"
//! and "Connection reset" are different bugs.
//!
//! The scanner makes one pass over the bytes with a lookup table, never runs
//! a regex, and writes into a caller-supplied buffer, because `faultline
//! fingerprint --every-line` calls it once per log line and the CLI is
//! expected to handle millions of lines a second. It slices only at ASCII
//! bytes or the ends of the message, so every slice is on a UTF-8 character
//! boundary and no input can make it panic. Non-ASCII bytes count as letters.
//!
//! Its work is linear in the message, whatever the message: deciding
//! whether a quote closes, or whether a word starts a path, URL or address,
//! looks ahead to the next space, quote or separator, and on a token without
//! spaces (compact JSON, a run of quotes, `a/=a/=...`) looking again from
//! every word made the scan quadratic (a megabyte of `'` took minutes). Each
//! look-ahead is now a `Next` pointer that only moves forward, and each
//! backward trim is remembered for the end it trims, so every byte is looked
//! at a bounded number of times (`work_is_linear_in_the_message` counts
//! them). The templates are the ones the quadratic scanner produced: the
//! two were compared on 600,000 random messages over the bytes the scanner
//! treats specially and on all of Loghub-2k, with no difference; the
//! remembered trims only differ where a value of fewer than three bytes
//! could never be accepted anyway, so v2 keys computed now equal stored ones
//! for every message that finished scanning before.

/// What a masked value is replaced with.
pub const MASK: &str = "<*>";

/// The message with its variable values masked.
pub fn template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    template_into(message, &mut out);
    out
}

/// [`template`] into a reused buffer, which is cleared first.
pub fn template_into(message: &str, out: &mut String) {
    out.clear();
    template_append(message, out);
}

/// [`template`] appended to what `out` already holds, so a key's other
/// inputs and the template can be hashed as one buffer.
pub(crate) fn template_append(message: &str, out: &mut String) {
    out.reserve(message.len());
    let mut s = Scanner {
        src: message,
        b: message.as_bytes(),
        base: out.len(),
        out,
        last_mask_end: usize::MAX,
        ahead: Ahead::new(),
    };
    s.run();
}

// Byte classes, looked up once per byte.
const SPACE: u8 = 1;
/// Splits a message into values: whitespace and the punctuation of
/// key-value pairs, lists, brackets and quotes. Everything else (`.`, `-`,
/// `_`, `/`, `~`, `@`, `#`, `+`...) is part of a value, so `10.0.0.1`,
/// `blk_-1608`, `Foo@1a2b`, `pkg~31bf~amd64~~6.1` and `2024/01/31` are each
/// one value.
const DELIM: u8 = 2;
const DIGIT: u8 = 4;
const HEX: u8 = 8;
/// What a DNS name is made of once lower-cased by its writer.
const HOST: u8 = 16;
/// May make a token a whole value (path, URL, ARN, e-mail, IPv6).
const SPECIAL: u8 = 32;
/// Joins the parts of one value: masks separated by one of these merge.
const GLUE: u8 = 64;

static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let mut k = 0;
        if b.is_ascii_whitespace() {
            k |= SPACE | DELIM;
        }
        if matches!(
            b,
            b'=' | b':'
                | b','
                | b';'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
                | b'"'
                | b'\''
                | b'`'
                | b'|'
        ) {
            k |= DELIM;
        }
        if b.is_ascii_digit() {
            k |= DIGIT | HEX | HOST;
        }
        if matches!(b, b'a'..=b'f' | b'A'..=b'F') {
            k |= HEX;
        }
        if b.is_ascii_lowercase() || b == b'-' || b == b'.' {
            k |= HOST;
        }
        if matches!(b, b'/' | b'@' | b':' | b'\\') {
            k |= SPECIAL;
        }
        if matches!(
            b,
            b' ' | b':' | b'.' | b'/' | b'-' | b'_' | b'@' | b'+' | b'#' | b','
        ) {
            k |= GLUE;
        }
        t[c] = k;
        c += 1;
    }
    t
}

#[inline(always)]
fn class(c: u8) -> u8 {
    CLASS[c as usize]
}

#[inline(always)]
fn is_space(c: u8) -> bool {
    class(c) & SPACE != 0
}

#[inline(always)]
fn is_delim(c: u8) -> bool {
    class(c) & DELIM != 0
}

#[cfg(test)]
thread_local! {
    /// Bytes looked at, counted only in tests: the linearity test compares
    /// it across input sizes, a measure of work that no machine load moves.
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline(always)]
fn step(_n: usize) {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get() + _n as u64));
}

/// The next position at or after a query where a predicate holds, for
/// queries that only move forward: a scan resumes where the last one
/// stopped instead of starting again, so all the queries of one message
/// cost one pass.
#[derive(Clone, Copy)]
struct Next {
    /// The answer `at` holds for every query in `from..=at`.
    from: usize,
    at: usize,
}

impl Next {
    const UNKNOWN: Next = Next {
        from: usize::MAX,
        at: 0,
    };

    #[inline]
    fn find(&mut self, b: &[u8], q: usize, pred: impl Fn(&[u8], usize) -> bool) -> usize {
        if !(self.from <= q && q <= self.at) {
            let mut j = q;
            while j < b.len() && !pred(b, j) {
                j += 1;
            }
            step(j - q + 1);
            *self = Next { from: q, at: j };
        }
        self.at
    }
}

/// A backward trim remembered for the position it trims from: `at` trimmed
/// to `to`, computed for a start at or before any later one.
#[derive(Clone, Copy)]
struct Trimmed {
    at: usize,
    to: usize,
}

/// The look-aheads of one scan.
struct Ahead {
    space: Next,
    path_stop: Next,
    slash: Next,
    second_slash: Next,
    dot: Next,
    delim: Next,
    at_sign: Next,
    ipv6_end: Next,
    colon: Next,
    second_colon: Next,
    digit: Next,
    double_colon: Next,
    zone_end: Next,
    quote_close: [Next; 3],
    trim_end: Option<Trimmed>,
    trim_path: Option<Trimmed>,
    trim_ipv6: Option<Trimmed>,
}

impl Ahead {
    fn new() -> Ahead {
        Ahead {
            space: Next::UNKNOWN,
            path_stop: Next::UNKNOWN,
            slash: Next::UNKNOWN,
            second_slash: Next::UNKNOWN,
            dot: Next::UNKNOWN,
            delim: Next::UNKNOWN,
            at_sign: Next::UNKNOWN,
            ipv6_end: Next::UNKNOWN,
            colon: Next::UNKNOWN,
            second_colon: Next::UNKNOWN,
            digit: Next::UNKNOWN,
            double_colon: Next::UNKNOWN,
            zone_end: Next::UNKNOWN,
            quote_close: [Next::UNKNOWN; 3],
            trim_end: None,
            trim_path: None,
            trim_ipv6: None,
        }
    }
}

/// Bytes a path rarely holds: a path ends before them, so `a=/x/y,b=2`
/// works.
fn is_path_stop(c: u8) -> bool {
    matches!(
        c,
        b',' | b';' | b'"' | b'\'' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>' | b'|'
    )
}

/// Trailing punctuation that is not part of a URL, ARN or path.
fn is_trailing(c: u8) -> bool {
    matches!(
        c,
        b'.' | b',' | b';' | b':' | b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b'!' | b'?'
    )
}

/// `at` moved back over trailing punctuation, not past `start`, using and
/// refreshing the remembered trim of `at` (see [`Trimmed`]).
fn trim_back(b: &[u8], memo: &mut Option<Trimmed>, start: usize, at: usize) -> usize {
    if let Some(t) = *memo
        && t.at == at
    {
        return t.to.max(start);
    }
    let mut e = at;
    while e > start && is_trailing(b[e - 1]) {
        e -= 1;
    }
    step(at - e + 1);
    *memo = Some(Trimmed { at, to: e });
    e
}

struct Scanner<'a, 'o> {
    src: &'a str,
    b: &'a [u8],
    out: &'o mut String,
    /// Where the template starts in `out`.
    base: usize,
    /// `out.len()` just after the last mask written, for folding the next.
    last_mask_end: usize,
    ahead: Ahead,
}

impl Scanner<'_, '_> {
    fn run(&mut self) {
        let b = self.b;
        let n = b.len();
        let mut i = 0;
        let mut token_start = true;
        while i < n {
            step(1);
            let c = b[i];
            if is_space(c) {
                token_start = true;
                i += 1;
                continue;
            }
            let at_start = token_start;
            if at_start {
                token_start = false;
                if self.out.len() > self.base {
                    self.out.push(' ');
                }
            }
            let prev = if at_start { b' ' } else { b[i - 1] };
            let after_delim = is_delim(prev);
            if after_delim && matches!(c, b'\'' | b'"' | b'`') {
                if let Some(close) = self.closing_quote(i) {
                    self.quoted(c as char, close > 1);
                    i += close + 1;
                    continue;
                }
            }
            if c == b':' && after_delim && b.get(i + 1) == Some(&b':') {
                // `::1`, `::ffff:10.0.0.1`
                if let Some(e) = self.whole_value(i) {
                    self.mask();
                    i = e;
                    continue;
                }
            }
            if is_delim(c) {
                // `<1 sec`, `>5 retries`: the comparison belongs to the number.
                if at_start
                    && (c == b'<' || c == b'>')
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                {
                    i += 1;
                    continue;
                }
                self.out.push(c as char);
                i += 1;
                if c == b')' || c == b']' {
                    self.fold_annotation();
                }
                continue;
            }
            if prev == b'=' && self.after_key(i - 1) {
                // `key=value`: the value is data whatever its shape.
                let mut j = i + 1;
                while j < n
                    && !is_space(b[j])
                    && !matches!(b[j], b',' | b';' | b')' | b']' | b'}' | b'&')
                {
                    j += 1;
                }
                step(j - i);
                self.mask();
                i = j;
                continue;
            }
            // One word: up to the next delimiter, with the union and the
            // intersection of its byte classes.
            let mut j = i;
            let mut all = u8::MAX;
            let mut any = 0;
            while j < n {
                let k = class(b[j]);
                if k & DELIM != 0 {
                    break;
                }
                all &= k;
                any |= k;
                j += 1;
            }
            // The word, its trailing dots and its classes again below, and
            // the checks of `word` are each at most a few passes over it.
            step(4 * (j - i + 1));
            // Only words that could start a URL, ARN, path, e-mail or IPv6
            // address are looked at again; most `word:` are just a label.
            let colon_value = b.get(j) == Some(&b':')
                && match b.get(j + 1) {
                    Some(b'/') => true,
                    Some(b'\\') => j - i == 1,
                    Some(&next) => {
                        (all & HEX != 0 && (next == b':' || next.is_ascii_hexdigit()))
                            || &b[i..j] == b"arn"
                    }
                    None => false,
                };
            if after_delim && (any & SPECIAL != 0 || colon_value) {
                if let Some(e) = self.whole_value(i) {
                    self.mask();
                    i = e;
                    continue;
                }
            }
            // A sentence's full stop or ellipsis is not part of its last word.
            let mut k = j;
            while k > i + 1 && b[k - 1] == b'.' {
                k -= 1;
            }
            if k < j {
                (all, any) = (u8::MAX, 0);
                for &c in &b[i..k] {
                    all &= class(c);
                    any |= class(c);
                }
            }
            self.word(i, k, at_start, all, any);
            if k < j {
                self.out.push_str(&self.src[k..j]);
            }
            i = j;
        }
    }

    /// The template written so far.
    fn written(&self) -> &str {
        self.out.get(self.base..).unwrap_or("")
    }

    /// Writes a mask, merging it into the previous one when a single glue
    /// character separates them.
    fn mask(&mut self) {
        let between = self
            .out
            .as_bytes()
            .get(self.last_mask_end..)
            .unwrap_or(b"xx");
        let glued = match between {
            [] => true,
            [c] => class(*c) & GLUE != 0,
            _ => false,
        };
        if glued {
            self.out.truncate(self.last_mask_end);
        } else {
            self.out.push_str(MASK);
        }
        self.last_mask_end = self.out.len();
    }

    /// Whether the `=` at `eq` ends a key (`user=`, `a.b_c=`) rather than
    /// being an operator or a run of `=`.
    fn after_key(&self, eq: usize) -> bool {
        eq > 0 && {
            let k = self.b[eq - 1];
            k.is_ascii_alphanumeric() || k == b'_'
        }
    }

    /// A quoted single word is data (a name, a file, a value the program was
    /// given) far more often than a constant, so it is masked, quotes kept.
    /// Empty quotes say that nothing was given, which is not a value.
    fn quoted(&mut self, quote: char, filled: bool) {
        self.out.push(quote);
        if filled {
            self.out.push_str(MASK);
        }
        self.out.push(quote);
        self.last_mask_end = usize::MAX;
    }

    /// `1024 bytes (1.0 KB)`, `10.0.0.1 (host.example.com)`, `10.0.0.1 ()`:
    /// a bracket holding nothing but a value, right after a value, annotates
    /// that value, and whether the producer could fill it in varies.
    fn fold_annotation(&mut self) {
        for tail in ["<*> (<*>)", "<*> ()", "<*>(<*>)", "<*> [<*>]", "<*> []"] {
            if self.written().ends_with(tail) {
                let len = self.out.len() - tail.len() + MASK.len();
                self.out.truncate(len);
                self.last_mask_end = len;
                return;
            }
        }
    }

    /// The length of a quoted single word starting at `b[i]`, up to its
    /// closing quote: the next same quote before the next space that ends
    /// the word (`'user's'` stays whole).
    fn closing_quote(&mut self, i: usize) -> Option<usize> {
        let b = self.b;
        let quote = b[i];
        let which = match quote {
            b'\'' => 0,
            b'"' => 1,
            _ => 2,
        };
        let space = self.ahead.space.find(b, i, |b, j| is_space(b[j]));
        let close = self.ahead.quote_close[which].find(b, i + 1, |b, j| {
            b[j] == quote
                && match b.get(j + 1) {
                    None => true,
                    Some(&next) => is_delim(next) || next == b'.',
                }
        });
        (close < space).then(|| close - i)
    }

    /// A value masked as one piece because its parts would otherwise leave
    /// constant-looking words behind: URLs, ARNs, paths, e-mail addresses,
    /// IPv6 and MAC addresses. Returns where it ends within the token.
    ///
    /// Every look-ahead goes through [`Ahead`], so that calling this for
    /// every word of a long token without spaces stays linear.
    fn whole_value(&mut self, start: usize) -> Option<usize> {
        let b = self.b;
        let a = &mut self.ahead;
        let end = a.space.find(b, start, |b, j| is_space(b[j]));
        let tok = &b[start..end];
        let first = tok[0];
        if first.is_ascii_alphabetic() {
            // scheme://... (the scheme's bytes are word bytes: this stops
            // within the word)
            let scheme = tok
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
                .unwrap_or(tok.len());
            step(scheme + 1);
            if tok[scheme..].starts_with(b"://") {
                let e = trim_back(b, &mut a.trim_end, start, end);
                return (e > start + scheme + 3).then_some(e);
            }
            if tok.starts_with(b"arn:") {
                return Some(trim_back(b, &mut a.trim_end, start, end));
            }
        }
        let stop = a
            .path_stop
            .find(b, start, |b, j| is_path_stop(b[j]))
            .min(end);
        let path_end = trim_back(b, &mut a.trim_path, start, stop);
        let seg = &b[start..path_end];
        let slash = a.slash.find(b, start, |b, j| b[j] == b'/');
        let slashes_1 = slash < path_end;
        let slashes_2 =
            slashes_1 && a.second_slash.find(b, slash + 1, |b, j| b[j] == b'/') < path_end;
        let is_path = match first {
            b'/' => {
                slashes_2 || (seg.len() > 1 && a.dot.find(b, start, |b, j| b[j] == b'.') < path_end)
            }
            b'~' | b'.' => {
                seg.len() > 2
                    && (seg.starts_with(b"~/") || seg.starts_with(b"./") || seg.starts_with(b"../"))
            }
            _ => {
                (seg.len() > 2 && first.is_ascii_alphabetic() && seg[1] == b':' && seg[2] == b'\\')
                    || (slashes_1
                        && a.delim.find(b, start, |b, j| is_delim(b[j])) >= path_end
                        && (slashes_2 || {
                            // No delimiter in the segment: it is within the word.
                            step(seg.len());
                            has_extension(seg)
                        }))
            }
        };
        if is_path {
            return Some(path_end);
        }
        // user@host.domain; the user is checked first, and each check stops
        // at the first byte it refuses, which is within the word.
        let at_sign = a.at_sign.find(b, start, |b, j| b[j] == b'@');
        if at_sign < path_end {
            let (user, host) = (&b[start..at_sign], &b[at_sign + 1..path_end]);
            let valid_user =
                |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'+');
            let valid_host = |c: &u8| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-';
            let user_ok = !user.is_empty() && user.iter().all(valid_user);
            step(
                user.iter()
                    .position(|c| !valid_user(c))
                    .unwrap_or(user.len())
                    + 1,
            );
            if user_ok {
                let host_ok = host.iter().all(valid_host);
                step(host.len() + 1);
                if host_ok && host.contains(&b'.') {
                    return Some(path_end);
                }
            }
        }
        // IPv6 or MAC: hex digits and colons only, with `::` or 2+ colons.
        let is_ipv6_byte = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
        let run_end = a
            .ipv6_end
            .find(b, start, |b, j| !is_ipv6_byte(b[j]))
            .min(end);
        let colons_2 = {
            let c1 = a.colon.find(b, start, |b, j| b[j] == b':');
            c1 < run_end && a.second_colon.find(b, c1 + 1, |b, j| b[j] == b':') < run_end
        };
        let digit = a.digit.find(b, start, |b, j| b[j].is_ascii_digit()) < run_end;
        // Trailing `:` and `.` are not part of the address, unless they end
        // in `::`. Remembered per run end: for a later start within the run
        // the trim is the same, or ends too close to the start to pass the
        // length check below.
        let mut e = match a.trim_ipv6 {
            Some(t) if t.at == run_end => {
                if t.to >= start + 2 {
                    t.to
                } else {
                    start
                }
            }
            _ => {
                let mut e = run_end;
                while e > start && matches!(b[e - 1], b':' | b'.') && !b[start..e].ends_with(b"::")
                {
                    e -= 1;
                }
                step(run_end - e + 1);
                a.trim_ipv6 = Some(Trimmed { at: run_end, to: e });
                e
            }
        };
        let double = a
            .double_colon
            .find(b, start, |b, j| b[j] == b':' && b.get(j + 1) == Some(&b':'))
            + 1
            < e;
        // A zone index: `fe80::1%eth0`.
        if colons_2 && b.get(e) == Some(&b'%') {
            e = a
                .zone_end
                .find(b, e + 1, |b, j| !b[j].is_ascii_alphanumeric())
                .min(end);
        }
        if (e == end || is_delim(b[e])) && colons_2 && (digit || double) && e - start >= 3 {
            return Some(e);
        }
        None
    }

    /// One word, `b[start..end]`: masked when its shape says it is a value.
    fn word(&mut self, start: usize, end: usize, at_token_start: bool, all: u8, any: u8) {
        let w = &self.b[start..end];
        let variable = any & DIGIT != 0
            || (all & HEX != 0 && w.len() >= 8)
            || w.eq_ignore_ascii_case(b"true")
            || w.eq_ignore_ascii_case(b"false")
            || (all & HOST != 0 && w.contains(&b'.') && self.is_host(w, end))
            || (at_token_start && self.is_date_word(w, end));
        if variable {
            self.mask();
            return;
        }
        // `5.01 seconds`, `1024 bytes`: the unit is part of the value.
        if at_token_start && self.written().ends_with("<*> ") && is_unit(w) {
            self.out.pop();
            return;
        }
        self.out.push_str(&self.src[start..end]);
    }

    /// A DNS name: lower-case labels ending in a well-known top-level domain
    /// (or a country code after two dots), or any dotted name followed by
    /// `:port`. Java packages and file names (`org.apache.Foo`,
    /// `handler.py`) do not end in one. `w` holds only [`HOST`] bytes.
    fn is_host(&self, w: &[u8], end: usize) -> bool {
        let Some(dot) = w.iter().rposition(|&c| c == b'.') else {
            return false;
        };
        if dot == 0 || w.windows(2).any(|p| p == b"..") {
            return false;
        }
        if self.b.get(end) == Some(&b':') && self.b.get(end + 1).is_some_and(u8::is_ascii_digit) {
            return true;
        }
        const GENERIC: [&[u8]; 10] = [
            b"com",
            b"net",
            b"org",
            b"edu",
            b"gov",
            b"mil",
            b"int",
            b"info",
            b"local",
            b"internal",
        ];
        let tld = &w[dot + 1..];
        let dots = w.iter().filter(|&&c| c == b'.').count();
        GENERIC.contains(&tld)
            || (dots >= 2 && tld.len() == 2 && tld.iter().all(u8::is_ascii_alphabetic))
    }

    /// A month or weekday name that is part of a date (`Jan 31`, `Mon Jan`,
    /// `Tue, 31`): masked with the numbers around it, or the same bug would
    /// get a new template every month.
    fn is_date_word(&self, w: &[u8], end: usize) -> bool {
        if !(3..=9).contains(&w.len()) || !w[0].is_ascii_alphabetic() {
            return false;
        }
        let month = is_month(w);
        if !month && !is_weekday(w) {
            return false;
        }
        let rest = &self.b[end..];
        let rest = rest.strip_prefix(b",").unwrap_or(rest).trim_ascii_start();
        if rest.first().is_some_and(u8::is_ascii_digit) {
            return true;
        }
        // A weekday before a month name, as in `Mon Jan 31`.
        !month && {
            let next = rest
                .iter()
                .position(|c| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            is_month(&rest[..next])
        }
    }
}

/// Whether a path's last component ends in a file extension (`daily.csv`),
/// which tells an S3 key or relative path from `read/write` or `TCP/IP`.
fn has_extension(path: &[u8]) -> bool {
    let name = match path.iter().rposition(|&c| c == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    };
    match name.iter().rposition(|&c| c == b'.') {
        Some(dot) if dot > 0 => {
            let ext = &name[dot + 1..];
            (1..=5).contains(&ext.len()) && ext.iter().all(u8::is_ascii_alphanumeric)
        }
        _ => false,
    }
}

/// The first three letters of a word, lower-cased, as one number.
#[inline]
fn prefix3(w: &[u8]) -> u32 {
    u32::from_le_bytes([
        w[0].to_ascii_lowercase(),
        w[1].to_ascii_lowercase(),
        w[2].to_ascii_lowercase(),
        0,
    ])
}

const fn p3(w: &[u8]) -> u32 {
    u32::from_le_bytes([w[0], w[1], w[2], 0])
}

const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];

const WEEKDAYS: [&[u8]; 7] = [
    b"monday",
    b"tuesday",
    b"wednesday",
    b"thursday",
    b"friday",
    b"saturday",
    b"sunday",
];

/// `Jan`, `Sept`, `January`, any case. Called for many words, so the
/// three-letter prefix is matched first. The match is written out (and again
/// in [`is_weekday`]) on purpose: a shared table scan cost 19% more
/// instructions for the whole `fingerprint --every-line` run (callgrind).
fn is_month(w: &[u8]) -> bool {
    if w.len() < 3 {
        return false;
    }
    let full = match prefix3(w) {
        x if x == p3(b"jan") => MONTHS[0],
        x if x == p3(b"feb") => MONTHS[1],
        x if x == p3(b"mar") => MONTHS[2],
        x if x == p3(b"apr") => MONTHS[3],
        x if x == p3(b"may") => MONTHS[4],
        x if x == p3(b"jun") => MONTHS[5],
        x if x == p3(b"jul") => MONTHS[6],
        x if x == p3(b"aug") => MONTHS[7],
        x if x == p3(b"sep") => MONTHS[8],
        x if x == p3(b"oct") => MONTHS[9],
        x if x == p3(b"nov") => MONTHS[10],
        x if x == p3(b"dec") => MONTHS[11],
        _ => return false,
    };
    w.len() == 3 || w.eq_ignore_ascii_case(full) || w.eq_ignore_ascii_case(b"sept")
}

/// `Mon`, `Monday`, any case.
fn is_weekday(w: &[u8]) -> bool {
    if w.len() < 3 {
        return false;
    }
    let full = match prefix3(w) {
        x if x == p3(b"mon") => WEEKDAYS[0],
        x if x == p3(b"tue") => WEEKDAYS[1],
        x if x == p3(b"wed") => WEEKDAYS[2],
        x if x == p3(b"thu") => WEEKDAYS[3],
        x if x == p3(b"fri") => WEEKDAYS[4],
        x if x == p3(b"sat") => WEEKDAYS[5],
        x if x == p3(b"sun") => WEEKDAYS[6],
        _ => return false,
    };
    w.len() == 3 || w.eq_ignore_ascii_case(full)
}

/// Units written after a number.
fn is_unit(w: &[u8]) -> bool {
    const UNITS: [&[u8]; 34] = [
        b"ns",
        b"us",
        b"ms",
        b"s",
        b"sec",
        b"secs",
        b"second",
        b"seconds",
        b"millisecond",
        b"milliseconds",
        b"microsecond",
        b"microseconds",
        b"nanosecond",
        b"nanoseconds",
        b"min",
        b"mins",
        b"minute",
        b"minutes",
        b"h",
        b"hour",
        b"hours",
        b"day",
        b"days",
        b"B",
        b"byte",
        b"bytes",
        b"KB",
        b"MB",
        b"GB",
        b"TB",
        b"KiB",
        b"MiB",
        b"GiB",
        b"TiB",
    ];
    w.len() <= 12 && UNITS.contains(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values_and_keeps_words() {
        let cases = [
            (
                "PacketResponder 1 for block blk_-6952295868487656571 terminating",
                "PacketResponder <*> for block <*> terminating",
            ),
            ("Connection refused", "Connection refused"),
            (
                "uid=0 euid=0 tty=NODEVssh ruser= rhost=10.0.0.1",
                "uid=<*> euid=<*> tty=<*> ruser= rhost=<*>",
            ),
            ("connect to 10.0.0.1:8080 failed", "connect to <*> failed"),
            ("at 2024/01/31 22:12:58 it broke", "at <*> it broke"),
            ("on Jan 31 22:12:58 it broke", "on <*> it broke"),
            ("timed out after 5.01 seconds.", "timed out after <*>."),
            ("sent 1024 bytes (1.0 KB) ok", "sent <*> ok"),
            ("user 'alice' can't log in", "user '<*>' can't log in"),
            ("argument '' is empty", "argument '' is empty"),
            (
                "\"GET /v2/servers HTTP/1.1\" status: 200",
                "\"GET <*>\" status: <*>",
            ),
            (
                "fetch https://x.example.com/a?b=1 failed",
                "fetch <*> failed",
            ),
            ("denied on arn:aws:s3:::bucket/key", "denied on <*>"),
            ("mail to a.b@example.com bounced", "mail to <*> bounced"),
            (
                "open /var/log/app.log: no such file",
                "open <*>: no such file",
            ),
            ("peer [fe80::1%eth0]:22 closed", "peer [<*>]:<*> closed"),
            ("lookup db.prod.example.com failed", "lookup <*> failed"),
            ("class org.apache.Foo failed", "class org.apache.Foo failed"),
            ("flag is true", "flag is <*>"),
            (
                "jk2_init() Found child 1 in slot 2",
                "<*>() Found child <*> in slot <*>",
            ),
            ("  leading and   trailing  ", "leading and trailing"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(template(input), want, "{input:?}");
        }
    }

    #[test]
    fn a_march_is_not_a_date_unless_a_number_follows() {
        assert_eq!(template("May 5 the job failed"), "<*> the job failed");
        assert_eq!(template("you may retry"), "you may retry");
    }

    #[test]
    fn reused_buffer_is_cleared() {
        let mut out = String::from("stale");
        template_into("a 1", &mut out);
        assert_eq!(out, "a <*>");
        template_into("b", &mut out);
        assert_eq!(out, "b");
    }

    #[test]
    fn non_ascii_is_kept_and_never_splits_a_character() {
        assert_eq!(
            template("Fehler beim Öffnen: Datei ß 42"),
            "Fehler beim Öffnen: Datei ß <*>"
        );
        assert_eq!(template("日本語のエラー 123件"), "日本語のエラー <*>");
        assert_eq!(template("'é"), "'é");
    }

    /// The bytes the scanner looks at for one message.
    fn steps(message: &str) -> u64 {
        STEPS.with(|s| s.set(0));
        let _ = template(message);
        STEPS.with(std::cell::Cell::get)
    }

    /// The work grows with the message, not with its square, on the shapes
    /// that made it quadratic: runs of quotes, compact JSON, long tokens
    /// without spaces whose words each look ahead (for a closing quote, a
    /// path's end, an address's end). Measured as bytes looked at, so the
    /// check is exact whatever the machine's load: ten times the input may
    /// cost at most twenty times the work (a quadratic scan costs a hundred).
    #[test]
    fn work_is_linear_in_the_message() {
        let shapes: [(&str, &str); 10] = [
            ("single quotes", "'"),
            ("quote after delimiter, never closed", "('a"),
            (
                "compact JSON",
                r#"{"id":"a1","name":"b","tags":["x","y"]},"#,
            ),
            ("path stops far away", "a/=a/="),
            ("hex and colons", "a:"),
            ("digits and colons, cut", "1:1:"),
            ("at signs", "u@h@"),
            ("slashes and dots", "/a./"),
            ("url-ish", "x://"),
            ("double colons and dots", "::.."),
        ];
        for (name, unit) in shapes {
            let make = |bytes: usize| unit.repeat(bytes / unit.len() + 1) + "x";
            let small = steps(&make(10_000));
            let large = steps(&make(100_000));
            let ratio = large as f64 / small as f64;
            assert!(
                ratio < 20.0,
                "{name}: {small} steps for 10 KB, {large} for 100 KB (x{ratio:.1})"
            );
        }
    }

    /// Nothing in a message may panic: pseudo-random messages over an
    /// alphabet of the bytes the scanner treats specially plus multi-byte
    /// characters.
    #[test]
    fn arbitrary_messages_do_not_panic() {
        const ALPHABET: [&str; 40] = [
            " ", "\t", "\n", "=", ":", ",", ";", "(", ")", "[", "]", "{", "}", "<", ">", "\"", "'",
            "`", "|", "/", "\\", "@", ".", "-", "_", "~", "0", "7", "a", "f", "Jan", "x", "é",
            "日", "😀", "://", "arn:", "::", "<*>", "true",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = String::new();
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let msg: String = (0..len).map(|_| ALPHABET[(next() % 40) as usize]).collect();
            template_into(&msg, &mut out);
            // Deterministic, and masking is idempotent on its own output's shape.
            assert_eq!(template(&msg), out);
        }
    }
}

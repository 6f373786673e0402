//! What the scrubbing tests plant and read back, shared by the tuned set
//! (`scrub_corpus.rs`) and the held-out set (`scrub_holdout.rs`), so both
//! measure exactly the same thing: every string faultline keeps.

use faultline::extract;
use faultline::model::Occurrence;
use faultline::scrub;

/// Where a secret sits: a log line (scrubbed as text and, if it holds an
/// error, extracted and scrubbed as an occurrence), or an occurrence built
/// directly (for the parts of one a line cannot control alone).
pub enum Planting {
    Line(String),
    Occurrence(Occurrence),
}

/// Every string faultline keeps of a planting, joined: the scrubbed text,
/// and the kind, message, fingerprint, frames and fields of the scrubbed
/// occurrence extracted from it.
pub fn scrubbed(planting: Planting) -> String {
    match planting {
        Planting::Line(line) => {
            let mut out = vec![scrub::scrub(&line).into_owned()];
            if let Some(mut o) = extract::extract(&line) {
                scrub::occurrence(&mut o);
                out.push(kept(&o));
            }
            out.join("\n")
        }
        Planting::Occurrence(mut o) => {
            scrub::occurrence(&mut o);
            kept(&o)
        }
    }
}

fn kept(o: &Occurrence) -> String {
    let mut parts = vec![o.kind.clone(), o.message.clone()];
    parts.extend(o.fingerprint.clone());
    for f in &o.frames {
        parts.push(f.function.clone());
        parts.push(f.file.clone());
    }
    for (k, v) in &o.fields {
        parts.push(k.clone());
        parts.push(v.clone());
    }
    parts.join("\n")
}

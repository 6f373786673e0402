//! Prints alerts for a person at a terminal.

use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Notifier, NotifyError};
use crate::model::Alert;
use crate::text::printable;

/// Writes one line per issue of each alert.
pub struct Console {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    pub fn stdout() -> Console {
        Console::to(Box::new(std::io::stdout()))
    }

    pub fn to(out: Box<dyn Write + Send>) -> Console {
        Console {
            out: Mutex::new(out),
        }
    }
}

/// The lines an alert prints as, without terminal control characters: a log
/// line must not be able to move the cursor or recolour the terminal.
pub fn render(alert: &Alert) -> String {
    if let Some(run) = &alert.run {
        return super::digest::console(run);
    }
    let label = alert.event_type.label();
    let mut text = String::new();
    for issue in &alert.issues {
        text.push_str(&format!(
            "[faultline] {label} {}  {}  {}  ({} in this batch)\n",
            issue.id,
            printable(&alert.log_group),
            printable(&issue.title),
            issue.count
        ));
    }
    text
}

#[async_trait]
impl Notifier for Console {
    async fn send(&self, alert: &Alert) -> Result<(), NotifyError> {
        let failed = |reason: String| NotifyError::Delivery {
            alert_id: alert.id.clone(),
            reason,
        };
        let mut out = self
            .out
            .lock()
            .map_err(|_| failed("console writer poisoned".into()))?;
        out.write_all(render(alert).as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| failed(e.to_string()))
    }
}

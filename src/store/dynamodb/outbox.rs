//! Claiming queued alerts in the DynamoDB table: Queries of the outbox
//! partition in the order alerts were queued, reading about as many as a
//! flush claims, then a conditional UpdateItem per alert (its lease), a
//! few at a time.
//!
//! # Why the sort key starts with the alert's age (layout 5)
//!
//! A Query bills every item it reads, whole (0.5 or 1 read unit per 4 KB,
//! projected or filtered or not), and a queued alert weighs about 3 KB
//! (its payload). Layouts before 5 keyed alerts by their bare id, which
//! says nothing of their age, so a flush read the whole partition to find
//! the oldest 200: when the queue backed up (SNS down, a topic policy
//! missing, a burst of new issues) every invocation read all of it, 2,000
//! alerts 6 MB and 1,500 strongly consistent read units, exactly when
//! things were already wrong. Layout 5 keys an alert
//! `~<created_at, 20 digits>#<alert id>` ([`queued_alert_sk`]): the
//! partition reads oldest first (ties by id, as SQLite orders them), and a
//! flush Queries with `Limit` for what it still wants, paging on only past
//! alerts it found leased. The key is a function of the alert alone, so
//! the flush that sent an alert finds its item to delete it
//! (`alert_sent` is given the alert).
//!
//! Alternatives weighed: a global secondary index ordered by when each
//! alert is next due would skip leased alerts without reading them, but a
//! table without it (every one deployed so far) would need it built before
//! a flush could use it, index reads are only eventually consistent (an
//! invocation's flush could miss the alert its own batch just queued), and
//! every lease would move the alert's entry (two index writes). Moving an
//! alert to a key of its next due time on every lease would cost a
//! transaction of a delete and a put of the whole item per lease (12 write
//! units for a 3 KB alert instead of 3).
//!
//! Queueing stays exactly once: an alert is Put in the same transaction as
//! the decision that raised it (a batch chunk's marker, conditional on not
//! existing, or a run's settlement, conditional on the run's version), so
//! it is queued once however often that write is retried; its key never
//! mattered to that. Delivery stays at least once: a lease is a
//! conditional UpdateItem by key that lasts `lease_ms`, and `alert_sent`
//! deletes the item only once the notifier took the alert.
//!
//! # Leased alerts at the head of the queue
//!
//! A leased alert stays where it is until it is sent and deleted, or its
//! lease runs out. While sends fail (SNS down, a topic policy missing)
//! every flush leases the oldest free alerts, fails to send them, and
//! leaves them leased for a whole lease: the run of leased alerts at the
//! head grows by a flush's worth each flush, and a flush that paged past
//! it would read it all again (a filter on the lease would not help:
//! DynamoDB bills what the Query reads, not what it returns). So a claim
//! that leased or paged past such a run records how far it goes and until
//! when all of it stays leased (the earliest lease in it), in one small
//! item (`OUTBOX#SKIP`, 1 write unit). A claim that finds the oldest alert
//! leased reads that record (0.5 read units) and, if it lasts, Queries
//! after the run. It is only a hint: each alert in the run stays leased
//! until at least the time it names (a lease is never cut short), so an
//! alert skipped is never one that could be claimed, and once the time
//! passes the run is read again. The one exception is an alert put into
//! the run after the claim read it, which must have been stamped before an
//! alert already read and committed after it: a claim does not count in
//! alerts younger than [`SKIP_GRACE_MS`], far longer than a write takes to
//! commit, and such an alert would still go out when the run's leases end.
//! A claim that finds the oldest alert free reads nothing more than before.
//!
//! # Alerts queued by earlier layouts
//!
//! Their bare-id keys sort before `~`, so they come first in the
//! partition. A flush whose first read finds one reads all of them (as
//! every flush did before), claims the oldest, and goes on into the
//! time-ordered keys if it wants more. They are all older than what this
//! layout queued, so oldest first holds across the upgrade; once they are
//! delivered, that read is gone. `alert_sent` deletes the time-ordered key
//! and, when no such item was there, the bare id. Layout 5 is marked in the
//! table ([`super::layout`]) so that an older faultline, which would delete
//! only the bare id and send a time-keyed alert again every lease, refuses
//! the table.
//!
//! # Concurrency
//!
//! Every lease is its own request, and a flush sends what it claimed one
//! alert after another. Leased one at a time, 2,000 queued alerts took
//! longer to claim than the Lambda's timeout allows for the whole
//! invocation (BENCHMARKS.md, "Claiming queued alerts"): an invocation
//! that dies after sending some of them, before marking them sent, sends
//! them again once their lease runs out. So the leases go out
//! [`LEASE_CONCURRENCY`] at a time, and a flush claims at most the limit
//! its caller gives, oldest first; the rest stay queued, unleased, for the
//! next flush.
//!
//! [`queued_alert_sk`]: super::items::queued_alert_sk

use std::collections::HashSet;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::ReturnValue;
use futures_util::stream::{self, StreamExt};

use super::DynamoDbStore;
use super::items::{
    Item, OUTBOX_PK, QUEUED_PREFIX, alert_id_in, earlier_outbox_key, get_opt_n, get_s, n,
    outbox_key, outbox_sk_key, s,
};
use super::retry::{classify, lease_token};
use crate::model::Alert;
use crate::store::StoreError;

/// How many leases are in flight at once: enough that a flush's claims
/// take a fraction of the requests' round trips laid end to end, few
/// enough that a burst of them stays far from a table's throttling (a
/// partition takes 1,000 writes a second) and from the SDK's connection
/// pool.
pub const LEASE_CONCURRENCY: usize = 16;

/// What a claim reads of a queued alert: its key, age and lease. The
/// payload comes with the lease's answer, for the alerts claimed.
const PROJECTION: &str = "sk, created_at, lease_until";

/// Alerts whose `created_at` is younger than this when a claim reads them
/// are not counted into a [`Skip`]: an alert is Put when the write that
/// raised it commits, up to a few seconds after the `now` it was stamped
/// with, so a younger key might yet have an alert queued before it that the
/// skip would hide until it ends.
const SKIP_GRACE_MS: i64 = 10_000;

/// Where the run of leased alerts at the head of the queue is recorded.
const SKIP_PK: &str = "OUTBOX#SKIP";
const SKIP_SK: &str = "SKIP";

/// The run of alerts at the head of the queue that some claim found
/// leased or leased itself: every alert up to sort key `after` is leased
/// until `until` at least, or gone.
struct Skip {
    after: String,
    until: i64,
}

/// A queued alert as the outbox Query read it.
struct Queued {
    sk: String,
    created_at: i64,
    lease_until: i64,
}

impl Queued {
    fn from_item(item: &Item) -> Result<Queued, StoreError> {
        Ok(Queued {
            sk: get_s(item, "sk")?.to_string(),
            created_at: get_opt_n::<i64>(item, "created_at")?.unwrap_or(0),
            lease_until: get_opt_n::<i64>(item, "lease_until")?.unwrap_or(0),
        })
    }

    fn is_earlier_layout(&self) -> bool {
        !self.sk.starts_with(QUEUED_PREFIX)
    }
}

/// Which part of the outbox partition a Query reads.
enum Range {
    /// From its start, whatever the layout.
    All,
    /// The bare-id keys of earlier layouts.
    Earlier,
    /// The time-ordered keys of layout 5 after this one (`~`: all of them).
    After(String),
}

/// Reads one range of the outbox page by page, in key order.
struct Reader {
    range: Range,
    start: Option<Item>,
    done: bool,
}

impl Reader {
    fn new(range: Range) -> Reader {
        Reader {
            range,
            start: None,
            done: false,
        }
    }
}

impl DynamoDbStore {
    /// Leases up to `limit` queued alerts whose lease is free at `now`,
    /// oldest first, `concurrency` leases at a time (1 is how it was done
    /// before; BENCHMARKS.md compares the two).
    pub async fn claim_alerts_with(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
        concurrency: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut claim = Claim {
            store: self,
            now,
            lease_ms,
            limit,
            concurrency: concurrency.max(1),
            // A token of this claim: if the answer to a lease is lost and
            // the SDK resends it, the resend finds its own token and
            // succeeds instead of reading the lease as someone else's
            // (which would hold the alert back for a whole lease, and
            // longer where batches are rare).
            token: lease_token(now),
            claimed: Vec::new(),
            leased: HashSet::new(),
        };
        // One item tells which layouts are queued: usually there is none,
        // and this one small read is the whole claim.
        let mut probe = Reader::new(Range::All);
        let Some(first) = self.outbox_page(&mut probe, 1).await?.pop() else {
            return Ok(Vec::new());
        };
        let mut queued = Reader::new(Range::After(QUEUED_PREFIX.to_string()));
        let mut read = Vec::new();
        if first.is_earlier_layout() {
            claim.earlier().await?;
        } else {
            // The first time-ordered alert, already read: go on after it.
            read.push(first);
            queued.start = probe.start;
            queued.done = probe.done;
        }
        claim.in_order(&mut queued, read).await?;
        let mut claimed = claim.claimed;
        claimed.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(claimed)
    }

    /// The next page of `reader`'s range, at most `limit` alerts,
    /// strongly consistent (an invocation's flush must see the alerts its
    /// own batch just queued).
    async fn outbox_page(
        &self,
        reader: &mut Reader,
        limit: usize,
    ) -> Result<Vec<Queued>, StoreError> {
        if reader.done {
            return Ok(Vec::new());
        }
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(OUTBOX_PK))
            .consistent_read(true)
            .projection_expression(PROJECTION)
            .set_exclusive_start_key(reader.start.take());
        query = match &reader.range {
            Range::All => query.key_condition_expression("pk = :pk"),
            Range::Earlier => query
                .key_condition_expression("pk = :pk AND sk < :queued")
                .expression_attribute_values(":queued", s(QUEUED_PREFIX)),
            Range::After(after) => query
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
        };
        if limit < usize::MAX {
            query = query.limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1));
        }
        let out = query
            .send()
            .await
            .map_err(|e| classify("Query (outbox)", &self.table, e))?;
        match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => reader.start = Some(key.clone()),
            _ => reader.done = true,
        }
        out.items().iter().map(Queued::from_item).collect()
    }

    /// The run of leased alerts at the head of the queue, if one is
    /// recorded and lasts past `now`. A hint: without it (none recorded,
    /// or the read failed) the claim reads the run, as it would anyway.
    async fn skip(&self, now: i64) -> Option<Skip> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(skip_key()))
            .send()
            .await;
        let item = match read {
            Ok(out) => out.item?,
            Err(e) => {
                tracing::debug!(error = %classify("GetItem (outbox skip)", &self.table, e), "reading the outbox from its start");
                return None;
            }
        };
        let skip = Skip {
            after: get_s(&item, "after").ok()?.to_string(),
            until: get_opt_n::<i64>(&item, "until").ok()??,
        };
        (skip.until > now).then_some(skip)
    }

    /// Records the run of leased alerts at the head of the queue. Best
    /// effort: the alerts are claimed already, and without the record the
    /// next claim reads the run again.
    async fn put_skip(&self, after: &str, until: i64) {
        let mut item = skip_key();
        item.insert("after".into(), s(after));
        item.insert("until".into(), n(until));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await;
        if let Err(e) = put {
            tracing::debug!(error = %classify("PutItem (outbox skip)", &self.table, e), "the run of leased alerts was not recorded");
        }
    }

    /// Leases one alert (by its sort key) until `now + lease_ms`,
    /// answering with the alert's item: `None` when another claimer leased
    /// or delivered it since the outbox was read.
    async fn lease(
        &self,
        sk: &str,
        now: i64,
        lease_ms: i64,
        token: &str,
    ) -> Result<Option<Item>, StoreError> {
        let lease = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(outbox_sk_key(sk.to_string())))
            .update_expression("SET lease_until = :until, lease_owner = :token ADD attempts :one")
            .condition_expression(
                "attribute_exists(pk) AND (lease_until <= :now OR lease_owner = :token)",
            )
            .expression_attribute_values(":until", n(now + lease_ms))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match lease {
            Ok(out) => Ok(Some(out.attributes.unwrap_or_default())),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
            Err(e) => Err(classify("UpdateItem (alert lease)", &self.table, e)),
        }
    }

    /// Deletes a delivered alert: under its time-ordered key, or, when
    /// none is there, under the bare id an earlier layout queued it by.
    pub(super) async fn delete_sent(&self, alert: &Alert) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(alert)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(earlier_outbox_key(&alert.id)))
                    .send()
                    .await
                    .map_err(|e| classify("DeleteItem (sent alert)", &self.table, e))?;
                Ok(())
            }
            Err(e) => Err(classify("DeleteItem (sent alert)", &self.table, e)),
        }
    }
}

fn skip_key() -> Item {
    Item::from([
        ("pk".to_string(), s(SKIP_PK)),
        ("sk".to_string(), s(SKIP_SK)),
    ])
}

/// One flush's claim: what it wants, and what it leased so far.
struct Claim<'a> {
    store: &'a DynamoDbStore,
    now: i64,
    lease_ms: i64,
    limit: usize,
    concurrency: usize,
    token: String,
    claimed: Vec<Alert>,
    /// The sort keys of the alerts claimed.
    leased: HashSet<String>,
}

impl Claim<'_> {
    fn wanted(&self) -> usize {
        self.limit.saturating_sub(self.claimed.len())
    }

    /// Claims from the alerts earlier layouts queued: all of them are
    /// read, since their keys say nothing of their age, and the oldest
    /// free ones leased.
    async fn earlier(&mut self) -> Result<(), StoreError> {
        let mut reader = Reader::new(Range::Earlier);
        let mut free = Vec::new();
        while !reader.done {
            for queued in self.store.outbox_page(&mut reader, usize::MAX).await? {
                if queued.lease_until <= self.now {
                    free.push(queued);
                }
            }
        }
        free.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| alert_id_in(&a.sk).cmp(alert_id_in(&b.sk)))
        });
        let mut free = free.into_iter();
        // Leases another claimer won are not ours: the next round tries as
        // many more as are still wanted, so a flush never holds more than
        // `limit` leases, and none it will not send.
        while self.wanted() > 0 {
            let round: Vec<Queued> = free.by_ref().take(self.wanted()).collect();
            if round.is_empty() {
                break;
            }
            self.lease_round(round).await?;
        }
        Ok(())
    }

    /// Claims from the time-ordered keys, reading a page of as many as are
    /// still wanted at a time: `read` is what was read of them already.
    /// When the oldest is leased, the run of leased alerts it starts may be
    /// known ([`Skip`]): the claim starts after it.
    async fn in_order(
        &mut self,
        reader: &mut Reader,
        mut read: Vec<Queued>,
    ) -> Result<(), StoreError> {
        let mut base = None;
        if let Some(first) = read.first().filter(|q| q.lease_until > self.now) {
            if let Some(skip) = self.store.skip(self.now).await {
                if skip.after > first.sk {
                    *reader = Reader::new(Range::After(skip.after.clone()));
                    read.clear();
                    base = Some(skip);
                }
            }
        }
        // Every alert considered, in key order, and the lease it was under
        // (`None`: free, so a candidate).
        let mut seen: Vec<(String, i64, Option<i64>)> = Vec::new();
        let mut read = read.into_iter();
        while self.wanted() > 0 {
            let mut round = Vec::new();
            while round.len() < self.wanted() {
                let Some(queued) = read.next() else {
                    if reader.done {
                        break;
                    }
                    let want = self.wanted() - round.len();
                    read = self.store.outbox_page(reader, want).await?.into_iter();
                    continue;
                };
                let leased = (queued.lease_until > self.now).then_some(queued.lease_until);
                seen.push((queued.sk.clone(), queued.created_at, leased));
                if leased.is_none() {
                    round.push(queued);
                }
            }
            if round.is_empty() {
                break;
            }
            self.lease_round(round).await?;
        }
        self.remember_skip(base, &seen).await;
        Ok(())
    }

    /// Records how far the run of leased alerts at the head of the queue
    /// now goes, and until when all of it stays leased: the alerts `seen`
    /// from where the claim started (the start of the queue, or the end of
    /// `base`), as long as each was leased already or by this claim, and
    /// older than [`SKIP_GRACE_MS`].
    async fn remember_skip(&self, base: Option<Skip>, seen: &[(String, i64, Option<i64>)]) {
        let horizon = self.now - SKIP_GRACE_MS;
        let mut run: Option<(&str, i64)> = None;
        for (sk, created_at, leased) in seen {
            let until = match leased {
                Some(until) => *until,
                None if self.leased.contains(sk) => self.now + self.lease_ms,
                None => break,
            };
            if *created_at > horizon {
                break;
            }
            run = Some((sk, run.map_or(until, |(_, earliest)| earliest.min(until))));
        }
        let Some((after, until)) = run else {
            return;
        };
        let until = base.map_or(until, |base| base.until.min(until));
        if until > self.now {
            self.store.put_skip(after, until).await;
        }
    }

    /// Leases `round` [`Claim::concurrency`] at a time, keeping the alerts
    /// it won.
    async fn lease_round(&mut self, round: Vec<Queued>) -> Result<(), StoreError> {
        let (store, now, lease_ms, token) = (self.store, self.now, self.lease_ms, &self.token);
        let results: Vec<(Queued, Result<Option<Item>, StoreError>)> = stream::iter(round)
            .map(|queued| async move {
                let leased = store.lease(&queued.sk, now, lease_ms, token).await;
                (queued, leased)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for (queued, leased) in results {
            if let Some(item) = leased? {
                self.leased.insert(queued.sk.clone());
                let alert: Alert = serde_json::from_str(get_s(&item, "payload")?).map_err(|e| {
                    StoreError::Corrupt(format!("queued alert {}: {e}", alert_id_in(&queued.sk)))
                })?;
                self.claimed.push(alert);
            }
        }
        Ok(())
    }
}

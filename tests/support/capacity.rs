//! A DynamoDB capacity meter: what each request would cost on DynamoDB.
//!
//! moto's `ConsumedCapacity` is not DynamoDB's (it reports 1.0 for a 30 KB
//! item), so the meter prices every request itself, by DynamoDB's billing
//! rules (AWS-FACTS.md section 8, the Developer Guide's "Item sizes and
//! formats", "Read/write capacity mode" and "Global secondary indexes"):
//!
//! - an item's size is the sum of its attribute names and values: strings
//!   and binaries by their bytes, numbers about one byte per two significant
//!   digits plus one, booleans and nulls one byte, lists and maps three
//!   bytes plus their elements (one byte each beside the element, and a
//!   map's keys), sets the sum of their elements;
//! - a write costs one unit per KB (rounded up) of the larger of the item
//!   before and after it; inside `TransactWriteItems` twice that; a write
//!   whose condition failed still costs the existing item's units (at
//!   least one); a cancelled transaction is charged for every item it
//!   named, as the before image, twice;
//! - every write that changes what a global secondary index holds costs
//!   index writes: one per KB of the index entry (keys, projected attributes
//!   and 100 bytes of overhead), two when the index key changed (a delete
//!   and a put); the meter charges them once, also inside a transaction
//!   (AWS documents the doubling for the table's items only);
//! - a read costs one unit per 4 KB, half when eventually consistent, twice
//!   inside `TransactGetItems`; `GetItem` and `BatchGetItem` round each item
//!   up (a missing item costs the minimum), `Query` and `Scan` round the
//!   total of the items they read once: whole, whatever a projection or a
//!   filter left out of the answer (the proxy asks moto again without
//!   them, and prices that answer).
//!
//! The meter sits in the fault proxy (tests/support/proxy.rs): for each
//! write it reads the items the request names before and after it, straight
//! from moto with all other requests held back, so it prices exactly what
//! the request changed. Requests the proxy fails itself never reach moto
//! and cost nothing, as a throttled request costs nothing on DynamoDB.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use base64::Engine;
use serde_json::{Map, Value};

/// Price of a million write and read request units, on-demand, us-east-1,
/// since November 2024.
pub const DOLLARS_PER_MILLION_WRITES: f64 = 0.625;
pub const DOLLARS_PER_MILLION_READS: f64 = 0.125;

type Item = Map<String, Value>;

/// What a set of requests cost.
#[derive(Clone, Debug, Default)]
pub struct Bill {
    pub requests: usize,
    /// Write units on the table's own items.
    pub writes: f64,
    /// Write units spent keeping global secondary indexes current.
    pub index_writes: f64,
    pub reads: f64,
    /// Table write units by item (`pk|sk`).
    pub per_item: BTreeMap<String, f64>,
    /// Requests, write units (table and index) and read units by operation.
    pub by_operation: BTreeMap<String, (usize, f64, f64)>,
}

impl Bill {
    /// Every write unit, the indexes' included.
    pub fn all_writes(&self) -> f64 {
        self.writes + self.index_writes
    }

    /// The item that cost the most write units, and what it cost.
    pub fn hottest_item(&self) -> (String, f64) {
        self.per_item
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, v)| (k.clone(), *v))
            .unwrap_or_default()
    }

    /// What these requests cost in dollars at on-demand prices.
    pub fn dollars(&self) -> f64 {
        self.all_writes() * DOLLARS_PER_MILLION_WRITES / 1e6
            + self.reads * DOLLARS_PER_MILLION_READS / 1e6
    }

    fn add_write(&mut self, operation: &str, key: String, units: f64) {
        self.writes += units;
        *self.per_item.entry(key).or_default() += units;
        self.by_operation
            .entry(operation.to_string())
            .or_default()
            .1 += units;
    }

    fn add_index_write(&mut self, operation: &str, units: f64) {
        self.index_writes += units;
        self.by_operation
            .entry(operation.to_string())
            .or_default()
            .1 += units;
    }

    fn add_read(&mut self, operation: &str, units: f64) {
        self.reads += units;
        self.by_operation
            .entry(operation.to_string())
            .or_default()
            .2 += units;
    }

    /// One line per operation, for test output.
    pub fn describe(&self) -> String {
        self.by_operation
            .iter()
            .map(|(op, (n, w, r))| format!("{op} x{n}: {w} WCU, {r} RCU"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The size DynamoDB bills for one attribute value (DynamoDB JSON).
pub fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(1, number_size),
        "B" => binary_size(inner),
        "BOOL" | "NULL" => 1,
        "SS" => inner.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(str::len).sum()
        }),
        "NS" => inner.as_array().map_or(0, |a| {
            a.iter().filter_map(Value::as_str).map(number_size).sum()
        }),
        "BS" => inner
            .as_array()
            .map_or(0, |a| a.iter().map(binary_size).sum()),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |a| a.iter().map(|v| 1 + value_size(v)).sum())
        }
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter().map(|(k, v)| k.len() + 1 + value_size(v)).sum()
            })
        }
        _ => 0,
    }
}

/// About one byte per two significant digits, plus one.
pub fn number_size(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    significant.len().div_ceil(2) + 1
}

fn binary_size(value: &Value) -> usize {
    value.as_str().map_or(0, |b64| {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_or(b64.len() * 3 / 4, |b| b.len())
    })
}

/// The size DynamoDB bills for an item: names and values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

#[derive(Clone, Debug)]
enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Clone, Debug)]
struct Index {
    keys: Vec<String>,
    projection: Projection,
}

/// A table's key attributes and global secondary indexes, from DescribeTable.
#[derive(Clone, Debug, Default)]
pub struct Table {
    keys: Vec<String>,
    indexes: Vec<Index>,
}

impl Table {
    /// From a DescribeTable response body.
    pub fn from_description(described: &Value) -> Table {
        let table = &described["Table"];
        let names = |schema: &Value| -> Vec<String> {
            schema
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k["AttributeName"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let indexes = table["GlobalSecondaryIndexes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|index| Index {
                        keys: names(&index["KeySchema"]),
                        projection: match index["Projection"]["ProjectionType"].as_str() {
                            Some("ALL") => Projection::All,
                            Some("INCLUDE") => Projection::Include(
                                index["Projection"]["NonKeyAttributes"]
                                    .as_array()
                                    .map(|a| {
                                        a.iter()
                                            .filter_map(|v| v.as_str().map(str::to_string))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            ),
                            _ => Projection::KeysOnly,
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        Table {
            keys: names(&table["KeySchema"]),
            indexes,
        }
    }

    fn key_of(&self, item: &Item) -> Item {
        self.keys
            .iter()
            .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }

    /// What `index` holds for `item`, if the item is in it (sparse indexes
    /// hold only items with every key attribute).
    fn entry(&self, index: &Index, item: &Item) -> Option<Item> {
        if !index.keys.iter().all(|k| item.contains_key(k)) {
            return None;
        }
        let mut entry: Item = self.key_of(item);
        for key in &index.keys {
            entry.insert(key.clone(), item[key].clone());
        }
        match &index.projection {
            Projection::All => return Some(item.clone()),
            Projection::KeysOnly => {}
            Projection::Include(names) => {
                for name in names {
                    if let Some(v) = item.get(name) {
                        entry.insert(name.clone(), v.clone());
                    }
                }
            }
        }
        Some(entry)
    }
}

fn key_text(key: &Item) -> String {
    let mut parts: Vec<String> = key
        .iter()
        .map(|(k, v)| {
            let text = v
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
                .unwrap_or("");
            format!("{k}={text}")
        })
        .collect();
    parts.sort();
    parts.join("|")
}

/// One item a write request names: its table and key, and how it is billed.
#[derive(Clone, Debug)]
pub struct Target {
    pub table: String,
    pub key: Item,
    transactional: bool,
}

/// The meter: shared by a proxy and the test that reads its bills.
#[derive(Default)]
pub struct Meter {
    bill: Mutex<Bill>,
    tables: Mutex<HashMap<String, Table>>,
    /// Held by the proxy around a metered request, so that no other request
    /// changes an item between its before and after reads.
    pub serial: Mutex<()>,
}

impl Meter {
    pub fn new() -> Meter {
        Meter::default()
    }

    /// What was billed since the last call, and a fresh bill.
    pub fn take(&self) -> Bill {
        std::mem::take(&mut *self.bill.lock().expect("bill"))
    }

    /// Tables a request names that the meter has not described yet.
    pub fn unknown_tables(&self, request: &Value) -> Vec<String> {
        let known = self.tables.lock().expect("tables");
        let mut names: Vec<String> = Vec::new();
        if let Some(t) = request["TableName"].as_str() {
            names.push(t.to_string());
        }
        for field in ["RequestItems"] {
            if let Some(m) = request[field].as_object() {
                names.extend(m.keys().cloned());
            }
        }
        if let Some(items) = request["TransactItems"].as_array() {
            for action in items {
                if let Some(o) = action.as_object() {
                    for body in o.values() {
                        if let Some(t) = body["TableName"].as_str() {
                            names.push(t.to_string());
                        }
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names.retain(|n| !known.contains_key(n));
        names
    }

    pub fn describe_table(&self, name: &str, described: &Value) {
        self.tables
            .lock()
            .expect("tables")
            .insert(name.to_string(), Table::from_description(described));
    }

    fn table(&self, name: &str) -> Table {
        self.tables
            .lock()
            .expect("tables")
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    /// The items a write request names, whose before and after images the
    /// proxy reads for [`Meter::charge`]. Empty for reads.
    pub fn targets(&self, operation: &str, request: &Value) -> Vec<Target> {
        let single = |key: Option<Item>| -> Vec<Target> {
            let table = request["TableName"].as_str().unwrap_or("").to_string();
            key.map(|key| Target {
                table,
                key,
                transactional: false,
            })
            .into_iter()
            .collect()
        };
        match operation {
            "PutItem" => {
                let table = self.table(request["TableName"].as_str().unwrap_or(""));
                single(request["Item"].as_object().map(|i| table.key_of(i)))
            }
            "UpdateItem" | "DeleteItem" => single(request["Key"].as_object().cloned()),
            "BatchWriteItem" => {
                let mut out = Vec::new();
                for (name, writes) in request["RequestItems"].as_object().into_iter().flatten() {
                    let table = self.table(name);
                    for write in writes.as_array().into_iter().flatten() {
                        let key = write["PutRequest"]["Item"]
                            .as_object()
                            .map(|i| table.key_of(i))
                            .or_else(|| write["DeleteRequest"]["Key"].as_object().cloned());
                        if let Some(key) = key {
                            out.push(Target {
                                table: name.clone(),
                                key,
                                transactional: false,
                            });
                        }
                    }
                }
                out
            }
            "TransactWriteItems" => {
                let mut out = Vec::new();
                for action in request["TransactItems"].as_array().into_iter().flatten() {
                    let Some((kind, body)) = action.as_object().and_then(|o| o.iter().next())
                    else {
                        continue;
                    };
                    let name = body["TableName"].as_str().unwrap_or("").to_string();
                    let key = if kind == "Put" {
                        body["Item"]
                            .as_object()
                            .map(|i| self.table(&name).key_of(i))
                    } else {
                        body["Key"].as_object().cloned()
                    };
                    if let Some(key) = key {
                        out.push(Target {
                            table: name,
                            key,
                            transactional: true,
                        });
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }

    /// Prices one request that reached moto. `status` is the response's
    /// HTTP status, `response` its body; `before` and `after` are the
    /// images of [`Meter::targets`] (`None`: no such item).
    pub fn charge(
        &self,
        operation: &str,
        request: &Value,
        status: u16,
        response: &Value,
        before: &[Option<Item>],
        after: &[Option<Item>],
    ) {
        let mut bill = self.bill.lock().expect("bill");
        bill.requests += 1;
        bill.by_operation
            .entry(operation.to_string())
            .or_default()
            .0 += 1;
        let error = response["__type"].as_str().unwrap_or("");
        let targets = self.targets(operation, request);
        if !targets.is_empty() {
            let size = |image: &Option<Item>| image.as_ref().map_or(0, item_size);
            for (i, target) in targets.iter().enumerate() {
                let was = before.get(i).cloned().flatten();
                let now = after.get(i).cloned().flatten();
                let key = key_text(&target.key);
                let factor = if target.transactional { 2.0 } else { 1.0 };
                if status == 200 {
                    let units = write_units(size(&was).max(size(&now)));
                    bill.add_write(operation, key, units * factor);
                    let table = self.table(&target.table);
                    for index in &table.indexes {
                        let old = was.as_ref().and_then(|w| table.entry(index, w));
                        let new = now.as_ref().and_then(|n| table.entry(index, n));
                        let entry_units = |e: &Item| write_units(item_size(e) + 100);
                        let units = match (&old, &new) {
                            (None, None) => 0.0,
                            (Some(o), None) => entry_units(o),
                            (None, Some(n)) => entry_units(n),
                            (Some(o), Some(n)) if o == n => 0.0,
                            (Some(o), Some(n)) => {
                                let moved = index.keys.iter().any(|k| o.get(k) != n.get(k));
                                if moved {
                                    entry_units(o) + entry_units(n)
                                } else {
                                    entry_units(n)
                                }
                            }
                        };
                        if units > 0.0 {
                            bill.add_index_write(operation, units);
                        }
                    }
                } else if error.ends_with("ConditionalCheckFailedException")
                    || error.ends_with("TransactionCanceledException")
                {
                    bill.add_write(operation, key, write_units(size(&was)) * factor);
                }
            }
            return;
        }
        if status != 200 {
            return;
        }
        match operation {
            "GetItem" => {
                let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
                let size = response["Item"].as_object().map_or(0, item_size);
                bill.add_read(operation, read_units(size, consistent));
            }
            "BatchGetItem" => {
                for (table, asked) in request["RequestItems"].as_object().into_iter().flatten() {
                    let consistent = asked["ConsistentRead"].as_bool().unwrap_or(false);
                    let keys = asked["Keys"].as_array().map_or(0, Vec::len);
                    let unprocessed = response["UnprocessedKeys"][table]["Keys"]
                        .as_array()
                        .map_or(0, Vec::len);
                    let found: Vec<&Value> = response["Responses"][table]
                        .as_array()
                        .map(|a| a.iter().collect())
                        .unwrap_or_default();
                    let mut units = 0.0;
                    for item in &found {
                        units += read_units(item.as_object().map_or(0, item_size), consistent);
                    }
                    let missing = keys.saturating_sub(unprocessed + found.len());
                    units += missing as f64 * read_units(0, consistent);
                    bill.add_read(operation, units);
                }
            }
            "Query" | "Scan" => {
                let consistent = request["ConsistentRead"].as_bool().unwrap_or(false)
                    && request["IndexName"].is_null();
                let total: usize = response["Items"]
                    .as_array()
                    .map(|a| a.iter().map(|i| i.as_object().map_or(0, item_size)).sum())
                    .unwrap_or(0);
                bill.add_read(operation, read_units(total, consistent));
            }
            "TransactGetItems" => {
                for r in response["Responses"].as_array().into_iter().flatten() {
                    let size = r["Item"].as_object().map_or(0, item_size);
                    bill.add_read(operation, 2.0 * read_units(size, true));
                }
            }
            _ => {}
        }
    }
}

//! Full-table streams: lists and objects read whole on every run, their requests (pages, and
//! the per-item reads of lists that give only summaries) made through the pipeline.

use super::context::{extracted_now, Ctx};
use super::engine::{Engine, Outcome};
use super::pager::{self, ListRequest, Pager};
use super::servers::Server;
use crate::client::{path_segment, Client, Counters, Token};
use crate::error::Error;
use crate::record::line::RecordWriter;
use crate::record::page::Total;
use crate::record::Selected;
use crate::record::Stamps;
use crate::streams::{FullTable, Kind};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;

/// What the requests of one full-table stream share.
pub struct TableSpec<'a> {
    pub sel: &'a Selected,
    /// `None` for account-level streams.
    pub server: Option<Arc<Server>>,
    pub token: Token,
    pub tally: Counters,
}

impl TableSpec<'_> {
    fn how(&self) -> Result<FullTable, Error> {
        match self.sel.def.kind {
            Kind::FullTable(how) => Ok(how),
            _ => Err(Error::Internal(format!(
                "{} is not a full-table stream",
                self.sel.def.name
            ))),
        }
    }

    fn server_id(&self) -> Option<u64> {
        self.server.as_ref().map(|s| s.id)
    }
}

#[derive(Clone, Debug)]
pub enum Fetch {
    /// The stream's object, or one item of a list (`id`).
    Object { id: Option<String> },
    /// The stream's list, whole (of one message stream, for lists kept per message stream).
    List { message_stream: Option<String> },
    /// A page of a count/offset list.
    Page { offset: u64 },
}

#[derive(Clone)]
pub struct TableRequest<'a> {
    pub spec: Arc<TableSpec<'a>>,
    pub fetch: Fetch,
}

pub enum TableAnswer {
    Lines {
        buf: Vec<u8>,
        records: u64,
    },
    /// A page: its items' lines, or, when each item is read whole, their IDs.
    Page {
        total: Total,
        got: usize,
        buf: Vec<u8>,
        records: u64,
        ids: Vec<String>,
    },
}

/// The write side of one full-table stream.
pub struct TableTask<'a> {
    spec: Arc<TableSpec<'a>>,
    pager: Pager,
    left: u64,
    written: u64,
}

impl<'a> TableTask<'a> {
    /// The first requests (none when the records are at hand: they are written at once).
    pub fn start<W: Write>(
        ctx: &mut Ctx<'_, W>,
        spec: Arc<TableSpec<'a>>,
    ) -> Result<(TableTask<'a>, Vec<TableRequest<'a>>), Error> {
        let fetches = match spec.how()? {
            FullTable::Object => vec![Fetch::Object { id: None }],
            FullTable::List { .. } => vec![Fetch::List {
                message_stream: None,
            }],
            FullTable::Paged { .. } => vec![Fetch::Page { offset: 0 }],
            FullTable::PerMessageStream { .. } => {
                let server = spec.server.as_ref().ok_or_else(|| {
                    Error::Internal(format!("{} needs a server", spec.sel.def.name))
                })?;
                server
                    .message_streams()
                    .iter()
                    .map(|ms| Fetch::List {
                        message_stream: Some(ms.id.clone()),
                    })
                    .collect()
            }
            FullTable::MessageStreams { .. } => Vec::new(),
        };
        let mut task = TableTask {
            spec,
            pager: Pager::new(),
            left: fetches.len() as u64,
            written: 0,
        };
        if let (FullTable::MessageStreams { .. }, Some(server)) =
            (task.spec.how()?, &task.spec.server)
        {
            let stamps = Stamps::new(Some(server.id), None);
            let writer = RecordWriter::new(task.spec.sel, stamps, &extracted_now())?;
            let mut buf = Vec::new();
            for item in server.listed_items() {
                task.written += u64::from(writer.value(item.clone(), &mut buf)?);
            }
            ctx.write(task.spec.sel.def.name, &buf)?;
        }
        let requests = fetches
            .into_iter()
            .map(|fetch| TableRequest {
                spec: Arc::clone(&task.spec),
                fetch,
            })
            .collect();
        Ok((task, requests))
    }

    /// Writes an answer's records; a page asks for its items (if each is read whole) and for
    /// the next page.
    fn write_answer<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        fetched: TableAnswer,
        requests: &mut Vec<TableRequest<'a>>,
    ) -> Result<(), Error> {
        self.left -= 1;
        let name = self.spec.sel.def.name;
        let (buf, records) = match fetched {
            TableAnswer::Lines { buf, records } => (buf, records),
            TableAnswer::Page {
                total,
                got,
                buf,
                records,
                ids,
            } => {
                let next = self.pager.advance(self.spec.sel.def.path, got, &total)?;
                for id in ids {
                    self.ask(requests, Fetch::Object { id: Some(id) });
                }
                if let Some(offset) = next {
                    self.ask(requests, Fetch::Page { offset });
                }
                (buf, records)
            }
        };
        ctx.write(name, &buf)?;
        self.written += records;
        Ok(())
    }

    fn ask(&mut self, requests: &mut Vec<TableRequest<'a>>, fetch: Fetch) {
        self.left += 1;
        requests.push(TableRequest {
            spec: Arc::clone(&self.spec),
            fetch,
        });
    }
}

impl<'a> Engine<'a> for TableTask<'a> {
    type Ask = TableRequest<'a>;
    type Done = TableAnswer;

    fn fetch(client: &Client, ask: &TableRequest<'a>) -> Result<TableAnswer, Error> {
        fetch(client, ask)
    }

    fn server<'r>(ask: &'r TableRequest<'a>) -> Option<&'r Server> {
        ask.spec.server.as_deref()
    }

    fn handle<W: Write>(
        &mut self,
        ctx: &mut Ctx<'_, W>,
        done: TableAnswer,
        asked: &mut Vec<TableRequest<'a>>,
    ) -> Result<(), Error> {
        self.write_answer(ctx, done, asked)
    }

    fn done(&self) -> bool {
        self.left == 0
    }

    fn outcome(&self) -> Outcome {
        Outcome::single(self.written)
    }

    fn counters(&self) -> &Counters {
        &self.spec.tally
    }
}

/// Reads one answer and writes its records' RECORD lines.
pub fn fetch(client: &Client, req: &TableRequest) -> Result<TableAnswer, Error> {
    let spec = &*req.spec;
    let def = spec.sel.def;
    match (&req.fetch, spec.how()?) {
        (Fetch::Object { id: None }, _) => object(client, spec, def.path, def.path),
        (
            Fetch::Object { id: Some(id) },
            FullTable::Paged {
                detail: Some(prefix),
                ..
            },
        ) => {
            let path = format!("{prefix}{}", path_segment(id, "an item ID")?);
            object(client, spec, &path, &format!("{prefix}{{id}}"))
        }
        (Fetch::List { message_stream }, how) => list(client, spec, how, message_stream.as_deref()),
        (Fetch::Page { offset }, how @ FullTable::Paged { .. }) => page(client, spec, how, *offset),
        (fetch, _) => Err(Error::Internal(format!("{}: cannot {fetch:?}", def.name))),
    }
}

/// An object answer: one record.
fn object(
    client: &Client,
    spec: &TableSpec,
    path: &str,
    endpoint: &str,
) -> Result<TableAnswer, Error> {
    let def = spec.sel.def;
    let record = pager::object(
        client,
        &spec.token,
        path,
        endpoint,
        def.identity,
        Some(&spec.tally),
    )?;
    lines(spec, None, vec![record])
}

/// A list read whole (of one message stream, its items stamped with it).
fn list(
    client: &Client,
    spec: &TableSpec,
    how: FullTable,
    message_stream: Option<&str>,
) -> Result<TableAnswer, Error> {
    let def = spec.sel.def;
    let (envelope, query, path) = match (how, message_stream) {
        (FullTable::List { envelope, query }, None) => (envelope, query, def.path.to_string()),
        (FullTable::PerMessageStream { envelope }, Some(ms)) => {
            (envelope, &[][..], def.path.replace("{id}", ms))
        }
        _ => return Err(Error::Internal(format!("{}: not a list", def.name))),
    };
    let query: Vec<(&str, String)> = query.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let req = ListRequest {
        path: &path,
        endpoint: def.path,
        query: &query,
        envelope,
        identity: def.identity,
    };
    let items = pager::list(client, &spec.token, &req, Some(&spec.tally))?.items;
    lines(spec, message_stream, items)
}

/// A page of a count/offset list: its items' lines, or their IDs when each is read whole.
fn page(
    client: &Client,
    spec: &TableSpec,
    how: FullTable,
    offset: u64,
) -> Result<TableAnswer, Error> {
    let def = spec.sel.def;
    let FullTable::Paged {
        envelope,
        count_param,
        offset_param,
        detail,
        id_field,
    } = how
    else {
        return Err(Error::Internal(format!("{}: not a paged list", def.name)));
    };
    let query = Pager { offset }.query(count_param, offset_param);
    let req = ListRequest {
        path: def.path,
        endpoint: def.path,
        query: &query,
        envelope,
        identity: def.identity,
    };
    let page = pager::list(client, &spec.token, &req, Some(&spec.tally))?;
    let got = page.items.len();
    let (buf, records, ids) = match detail {
        Some(_) => {
            let ids = page
                .items
                .iter()
                .map(|item| item_id(item, id_field, def.path))
                .collect::<Result<_, _>>()?;
            (Vec::new(), 0, ids)
        }
        None => match lines(spec, None, page.items)? {
            TableAnswer::Lines { buf, records } => (buf, records, Vec::new()),
            TableAnswer::Page { buf, records, .. } => (buf, records, Vec::new()),
        },
    };
    Ok(TableAnswer::Page {
        total: page.total,
        got,
        buf,
        records,
        ids,
    })
}

/// The ID an item is read whole by.
fn item_id(item: &Value, id_field: &str, path: &str) -> Result<String, Error> {
    match item.get(id_field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(Error::Api(format!(
            "an item of {path} has an {id_field} that is neither a string nor a number"
        ))),
    }
}

/// The RECORD lines of records extracted now (of one message stream, stamped with it).
fn lines(
    spec: &TableSpec,
    message_stream: Option<&str>,
    records: Vec<Value>,
) -> Result<TableAnswer, Error> {
    let stamps = Stamps::new(spec.server_id(), message_stream);
    let writer = RecordWriter::new(spec.sel, stamps, &extracted_now())?;
    let mut buf = Vec::new();
    let mut written = 0;
    for record in records {
        written += u64::from(writer.value(record, &mut buf)?);
    }
    Ok(TableAnswer::Lines {
        buf,
        records: written,
    })
}

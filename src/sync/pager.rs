//! Lists and objects read whole: one GET of a list answer (its items, each carrying its
//! identity, and `TotalCount`) or of an object, and the offset pager that walks a count/offset
//! list to its end (full-table lists and `/servers`).

use crate::client::{Client, Counters, Token};
use crate::error::Error;
use crate::record::items::{self, Items};
use crate::record::page::{Records, Total};
use crate::streams::{CEILING, PAGE_SIZE};
use serde_json::Value;

/// A GET of a list answer.
pub struct ListRequest<'r> {
    pub path: &'r str,
    /// The path template, for metrics.
    pub endpoint: &'r str,
    pub query: &'r [(&'r str, String)],
    pub envelope: &'r str,
    /// The fields each item must carry once (see [`crate::record::Members::identity_problem`]).
    pub identity: &'r [&'r str],
}

/// GETs a list answer. A list that is absent is an error, unless `TotalCount` says there is
/// nothing to list.
pub fn list(
    client: &Client,
    token: &Token,
    req: &ListRequest,
    tally: Option<&Counters>,
) -> Result<Items, Error> {
    let (path, envelope, identity) = (req.path, req.envelope, req.identity);
    let answer = client
        .get_with(
            token,
            path,
            req.query,
            req.endpoint,
            tally,
            |body: Vec<u8>| items::parse_items(&body, envelope, identity),
        )
        .map_err(|e| e.into_error(path))?
        .map_err(|e| Error::Api(format!("Postmark's {path} answer has {e}")))?;
    match answer.list {
        Records::List(_) => Ok(answer),
        Records::Missing if answer.total == Total::Count(0) => Ok(answer),
        _ => Err(Error::Api(format!(
            "Postmark's {path} answer has no {envelope} list"
        ))),
    }
}

/// GETs an object answer whose `identity` fields must be there once each.
pub fn object(
    client: &Client,
    token: &Token,
    path: &str,
    endpoint: &str,
    identity: &[&str],
    tally: Option<&Counters>,
) -> Result<Value, Error> {
    client
        .get_with(token, path, &[], endpoint, tally, |body: Vec<u8>| {
            items::parse_object(&body, identity)
        })
        .map_err(|e| e.into_error(path))?
        .map_err(|e| Error::Api(format!("Postmark's {path} answer {e}")))
}

/// Walks a count/offset list: the next offset is the items received so far, so a short page
/// loses nothing, and an empty page before `TotalCount` is an error (stopping would drop the
/// rest, asking again would loop forever).
#[derive(Clone, Debug)]
pub struct Pager {
    pub offset: u64,
}

impl Pager {
    pub fn new() -> Pager {
        Pager { offset: 0 }
    }

    /// The `count`/`offset` parameters of the next page.
    pub fn query<'p>(&self, count: &'p str, offset: &'p str) -> [(&'p str, String); 2] {
        [
            (count, PAGE_SIZE.to_string()),
            (offset, self.offset.to_string()),
        ]
    }

    /// Takes a page of `got` items of `total`: the offset of the next page, or `None` when the
    /// list is read.
    pub fn advance(&mut self, path: &str, got: usize, total: &Total) -> Result<Option<u64>, Error> {
        let total = total.count(path)?;
        if total > CEILING {
            return Err(Error::Ceiling(format!(
                "Postmark's {path} lists {total} items; its paging reaches only {CEILING} per list"
            )));
        }
        if got == 0 && self.offset < total {
            return Err(Error::Api(format!(
                "Postmark's {path} reported {total} items but returned none at offset {}",
                self.offset
            )));
        }
        self.offset += got as u64;
        Ok((self.offset < total).then_some(self.offset))
    }
}

impl Default for Pager {
    fn default() -> Self {
        Pager::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_items_received() {
        let mut p = Pager::new();
        assert_eq!(p.advance("/x", 250, &Total::Count(600)).unwrap(), Some(250));
        assert_eq!(p.advance("/x", 350, &Total::Count(600)).unwrap(), None);
        let mut p = Pager::new();
        assert!(p.advance("/x", 0, &Total::Count(3)).is_err());
        assert!(Pager::new()
            .advance("/x", 0, &Total::Count(0))
            .unwrap()
            .is_none());
        assert!(Pager::new()
            .advance("/x", 1, &Total::Count(10_001))
            .is_err());
        assert!(Pager::new().advance("/x", 1, &Total::Missing).is_err());
    }
}

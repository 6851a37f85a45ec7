//! Reading a Server-Sent Events stream in tests: events and comments, as
//! they arrive, split however the bytes come.

use std::{pin::Pin, time::Duration};

use futures::{Stream, StreamExt};
use serde_json::Value;

/// One event of the stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    pub fn seq(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("an event without a numeric id: {self:?}"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("an event's data is JSON")
    }
}

/// What the stream sent next.
#[derive(Debug)]
pub enum Item {
    Event(Event),
    /// A `:` line: a keep-alive.
    Comment,
}

type Bytes = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>> + Send>>;

pub struct Events {
    bytes: Bytes,
    buffer: Vec<u8>,
    ended: bool,
}

impl Events {
    pub fn new(bytes: impl Stream<Item = Result<Vec<u8>, String>> + Send + 'static) -> Self {
        Self {
            bytes: Box::pin(bytes),
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// The stream of a poem response's body.
    pub fn of_poem(response: poem::Response) -> Self {
        Self::new(
            response
                .into_body()
                .into_bytes_stream()
                .map(|chunk| chunk.map(|b| b.to_vec()).map_err(|e| e.to_string())),
        )
    }

    /// The stream of a reqwest response's body.
    pub fn of_reqwest(response: reqwest::Response) -> Self {
        Self::new(futures::stream::unfold(
            response,
            |mut response| async move {
                match response.chunk().await {
                    Ok(Some(chunk)) => Some((Ok(chunk.to_vec()), response)),
                    Ok(None) => None,
                    Err(err) => Some((Err(err.to_string()), response)),
                }
            },
        ))
    }

    /// The next event or comment; `Ok(None)` when the stream ended (or
    /// failed), `Err` when nothing came within `within`.
    pub async fn next(&mut self, within: Duration) -> Result<Option<Item>, ()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = find_blank_line(&self.buffer) {
                let block: Vec<u8> = self.buffer.drain(..end.1).collect();
                let text = String::from_utf8(block[..end.0].to_vec()).expect("UTF-8 events");
                return Ok(Some(parse(&text)));
            }
            if self.ended {
                return Ok(None);
            }
            match tokio::time::timeout_at(deadline, self.bytes.next()).await {
                Err(_) => return Err(()),
                Ok(Some(Ok(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Some(Err(_)) | None) => self.ended = true,
            }
        }
    }

    /// The next event, skipping comments; `None` at the end of the stream.
    pub async fn next_event(&mut self, within: Duration) -> Result<Option<Event>, ()> {
        loop {
            match self.next(within).await? {
                Some(Item::Event(event)) => return Ok(Some(event)),
                Some(Item::Comment) => {}
                None => return Ok(None),
            }
        }
    }

    /// Events until `done` says so, each within `within` of the one before.
    pub async fn collect_until(
        &mut self,
        within: Duration,
        mut done: impl FnMut(&[Event]) -> bool,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        while !done(&events) {
            match self.next_event(within).await {
                Ok(Some(event)) => events.push(event),
                Ok(None) => panic!("the stream ended after {events:?}"),
                Err(()) => panic!("no event within {within:?} after {events:?}"),
            }
        }
        events
    }
}

/// The end of the first block (before the blank line, after it).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn parse(block: &str) -> Item {
    let mut event = Event {
        id: None,
        event: None,
        data: String::new(),
    };
    let mut fields = 0;
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        fields += 1;
        match name {
            "id" => event.id = Some(value.to_owned()),
            "event" => event.event = Some(value.to_owned()),
            "data" => {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            _ => {}
        }
    }
    if fields == 0 {
        Item::Comment
    } else {
        Item::Event(event)
    }
}

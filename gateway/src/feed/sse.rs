//! A small incremental parser of server-sent events (the `text/event-stream` format).

/// What the stream said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched event: its name (`message` when none was given) and data.
    Event { name: String, data: String },
    /// A comment line (`: …`): a keep-alive.
    Comment,
}

/// Longest line accepted: an event is one revocation, a few hundred bytes.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("an event stream line is longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("the event stream is not UTF-8")]
    NotUtf8,
}

/// Feeds bytes in as they arrive; complete lines come out as items.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    name: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseItem>, SseError> {
        let mut out = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::take(&mut self.after_cr);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    let line = String::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
                    if let Some(item) = self.line_done(&line) {
                        out.push(item);
                    }
                }
                _ => {
                    if self.line.len() >= MAX_LINE || self.data.len() >= MAX_LINE {
                        return Err(SseError::LineTooLong);
                    }
                    self.line.push(byte);
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &str) -> Option<SseItem> {
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if line.is_empty() {
            let name = std::mem::take(&mut self.name);
            let data = std::mem::take(&mut self.data);
            if !std::mem::take(&mut self.has_data) {
                return None;
            }
            let name = if name.is_empty() {
                "message".to_owned()
            } else {
                name
            };
            return Some(SseItem::Event { name, data });
        }
        if line.starts_with(':') {
            return Some(SseItem::Comment);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` are not used: the cursor travels in the data.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> SseItem {
        SseItem::Event {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn parses_events_comments_and_line_endings() {
        let mut p = SseParser::new();
        let text =
            b": keep-alive\n\nevent: revocation\ndata: {\"a\":1}\n\ndata: x\r\ndata: y\r\n\r\n";
        let items = p.push(text).unwrap();
        assert_eq!(
            items,
            vec![
                SseItem::Comment,
                event("revocation", "{\"a\":1}"),
                event("message", "x\ny"),
            ]
        );
    }

    #[test]
    fn events_may_be_split_anywhere() {
        let text = b"event: revocation\r\ndata: 1\r\n\r\n";
        for split in 0..text.len() {
            let mut p = SseParser::new();
            let mut items = p.push(&text[..split]).unwrap();
            items.extend(p.push(&text[split..]).unwrap());
            assert_eq!(items, vec![event("revocation", "1")], "split at {split}");
        }
    }

    #[test]
    fn bounds_lines() {
        let mut p = SseParser::new();
        let long = vec![b'a'; MAX_LINE + 1];
        assert_eq!(p.push(&long), Err(SseError::LineTooLong));
    }
}

//! Reading tokens and containers from an argument, a file, or standard input (`-`).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use countersign_core::container::{Container, ContainerLimits};
use countersign_core::json::decode_base64;

/// Most bytes read from a file or standard input.
const MAX_INPUT: u64 = 8 * 1024 * 1024;

/// Raw token envelopes start with these bytes: a 2-list and a 64-byte signature.
const ENVELOPE_START: [u8; 3] = [0x82, 0x58, 0x40];

/// Reads `arg`: `-` is standard input, an existing path is a file, anything else is the
/// text itself.
pub fn read_source(arg: &str) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if arg == "-" {
        std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
    } else if Path::new(arg).is_file() {
        std::fs::File::open(arg)
            .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut buf))
            .with_context(|| format!("cannot read {arg}"))?;
    } else {
        buf = arg.as_bytes().to_vec();
    }
    if buf.len() as u64 > MAX_INPUT {
        bail!("input is larger than {} MiB", MAX_INPUT / 1024 / 1024);
    }
    Ok(buf)
}

/// The token envelopes in `arg`: one token (raw or standard base64) or a container.
pub fn tokens(arg: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = read_source(arg)?;
    parse_tokens(&bytes).with_context(|| {
        if arg.len() > 60 {
            "the input".to_owned()
        } else {
            format!("{arg:?}")
        }
    })
}

pub fn parse_tokens(bytes: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    if bytes.starts_with(&ENVELOPE_START) {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes)
        .map(str::trim)
        .unwrap_or_default();
    // Base64 of an envelope always starts with "glhA".
    if text.starts_with("glhA") {
        let token = decode_base64(text).context("not valid base64")?;
        return Ok(vec![token]);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("no token given");
    }
    let container = Container::parse(bytes, &ContainerLimits::default())
        .context("neither a UCAN token (base64) nor a container")?;
    Ok(container.tokens().to_vec())
}

/// All tokens of several arguments, without repeats.
pub fn all_tokens<'a>(args: impl IntoIterator<Item = &'a String>) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for arg in args {
        for token in tokens(arg)? {
            if !out.contains(&token) {
                out.push(token);
            }
        }
    }
    Ok(out)
}

//! Talking to the person at the terminal while waiting: a spinner on standard error and
//! a yes/no question.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::output::clean;

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_TIME: Duration = Duration::from_millis(100);

/// A spinner with a message and the time elapsed, on standard error while it lives. When
/// standard error is not a terminal, the message is printed once instead.
#[derive(Debug)]
pub struct Spinner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    pub fn start(message: &str) -> Spinner {
        let message = clean(message);
        if !std::io::stderr().is_terminal() {
            eprintln!("{message}…");
            return Spinner {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut err = std::io::stderr();
            for frame in FRAMES.iter().cycle() {
                let secs = started.elapsed().as_secs();
                let _ = write!(err, "\r{frame} {message}… {secs}s\x1b[K");
                let _ = err.flush();
                if !matches!(
                    stopped.recv_timeout(FRAME_TIME),
                    Err(mpsc::RecvTimeoutError::Timeout)
                ) {
                    break;
                }
            }
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        });
        Spinner {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        // Closing the channel stops the thread, which then clears its line.
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether a person can be asked a question on standard input.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks a question on the terminal; the answer, trimmed.
pub fn ask(question: &str) -> anyhow::Result<String> {
    if !can_ask() {
        bail!("no terminal to ask on: {question}");
    }
    eprint!("{question} ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(answer.trim().to_owned())
}

/// Asks a yes/no question on the terminal; anything but yes is no.
pub fn ask_yes(question: &str) -> anyhow::Result<bool> {
    let answer = ask(&format!("{question} [y/N]"))?;
    Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
}

//! Every log line of the test binary, captured in memory so tests can search it.

use std::io::Write;
use std::sync::{Arc, Mutex, Once, OnceLock};

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(Default::default)
}

/// Installs the capturing subscriber (debug level, every crate) once.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let capture = Capture(buffer().clone());
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || capture.clone())
            .try_init();
    });
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&buffer().lock().unwrap()).into_owned()
}

//! A real SMTP server on loopback for the email tests: Python's aiosmtpd
//! (`gateway/tests/smtp_server.py`) with AUTH, recording every message it receives as a
//! JSON file. The CLI's end-to-end test includes this file by path.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The SMTP server, stopped when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    mail: PathBuf,
}

impl SmtpServer {
    /// Starts the server, accepting `user` with `password` and writing what it receives
    /// into `mail`; or, when python3 with aiosmtpd is missing, says that `test` is skipped
    /// (`None`) — a failure when `COUNTERSIGN_REQUIRE_SMTP` is set.
    pub fn start(mail: &Path, user: &str, password: &str, test: &str) -> Option<SmtpServer> {
        let required = std::env::var_os("COUNTERSIGN_REQUIRE_SMTP").is_some();
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            assert!(
                !required,
                "COUNTERSIGN_REQUIRE_SMTP is set but python3 with aiosmtpd is missing"
            );
            eprintln!(
                "skipped: {test} needs python3 with aiosmtpd (python3 -m pip install aiosmtpd); \
                 set COUNTERSIGN_REQUIRE_SMTP=1 to make this a failure"
            );
            return None;
        }
        std::fs::create_dir_all(mail).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway/tests/smtp_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(mail)
            .arg(user)
            .env("SMTP_TEST_PASSWORD", password)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        Some(SmtpServer {
            child,
            port,
            mail: mail.to_owned(),
        })
    }

    /// The messages received so far, as the server recorded them.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        std::fs::read_dir(&self.mail)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

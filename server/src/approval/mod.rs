//! The service's rules, free of I/O: what makes a request well-formed, an approval
//! acceptable, and the capability the service issues for it.

mod check;
mod issue;
pub mod matching;
mod request;

pub use check::{ApprovalRefusal, CheckedApproval, Parties, check_approval};
pub use issue::{CO_APPROVALS, chain_container, issue_for_agent};
pub(crate) use request::is_bidi_control;
pub use request::{Diff, FieldChange, NewRequest, RequestRules, exact_policy, prepare_request};

//! One module per subcommand, each with its arguments and its `run`.

pub mod delegate;
pub mod inspect;
pub mod invoke;
pub mod key;
pub mod verify;

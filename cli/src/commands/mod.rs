//! One module per subcommand, each with its arguments and its `run`.

pub mod agent;
pub mod approve;
pub mod audit;
pub mod auto;
pub mod bench;
pub mod config;
pub mod db;
pub mod delegate;
pub mod deny;
pub mod device;
pub mod gateway;
pub mod init;
pub mod inspect;
pub mod invoke;
pub mod key;
pub mod kill;
pub mod quorum;
pub mod request;
pub mod revoke;
pub mod serve;
pub mod show;
pub mod tokens;
pub mod verify;

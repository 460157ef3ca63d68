//! The routes a gateway serves, built from its configuration: each command with its
//! adapter (credentials resolved), its args mapping and its quorum.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use countersign_core::Command;

use crate::adapters::Adapter;
use crate::config::RouteConfig;

/// A route ready to serve.
#[derive(Debug)]
pub struct Route {
    pub command: Command,
    /// Approvals from distinct devices required, if any.
    pub quorum: Option<u32>,
    /// The top-level args keys passed upstream; `None` accepts any (noop only).
    pub mapped: Option<BTreeSet<String>>,
    pub adapter: Adapter,
    /// `http`, `smtp` or `noop`.
    pub adapter_name: &'static str,
}

/// Routes by exact command.
#[derive(Debug, Default)]
pub struct Routes {
    by_command: HashMap<Command, Route>,
}

impl Routes {
    pub fn build(configs: &[RouteConfig]) -> anyhow::Result<Routes> {
        let mut by_command = HashMap::with_capacity(configs.len());
        for config in configs {
            let adapter =
                Adapter::build(config).with_context(|| format!("route {}", config.command))?;
            let route = Route {
                command: config.command.clone(),
                quorum: config.quorum,
                mapped: config.mapped_args(),
                adapter,
                adapter_name: config.adapter_name(),
            };
            by_command.insert(config.command.clone(), route);
        }
        Ok(Routes { by_command })
    }

    /// The route for exactly this command. A route for `/payment` does not serve
    /// `/payment/refund`: what runs upstream is always the action the chain names.
    pub fn get(&self, command: &Command) -> Option<&Route> {
        self.by_command.get(command)
    }

    /// The commands served, sorted.
    pub fn commands(&self) -> Vec<&Command> {
        let mut commands: Vec<&Command> = self.by_command.keys().collect();
        commands.sort();
        commands
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.by_command.values()
    }
}

//! The capability the service issues once an approval is accepted.

use countersign_core::container::Container;
use countersign_core::{Delegation, DelegationBuilder, Did, Keypair, NonceSource, Signed};

use super::check::CheckedApproval;

/// Signs service → agent with the approval's command and policy, expiring no later than
/// the approval, and returns it with the chain the agent receives (root first).
pub fn issue_for_agent(
    service: &Keypair,
    agent: Did,
    approval: &CheckedApproval,
    approval_bytes: &[u8],
    nonces: &mut impl NonceSource,
) -> (Signed<Delegation>, Vec<Vec<u8>>) {
    let d = &approval.delegation;
    let issued = DelegationBuilder::new(agent, d.subject, d.command.clone())
        .policy(d.policy.clone())
        .expiration(Some(approval.expires_at))
        .sign(service, nonces);
    let chain = vec![
        approval.standing.clone(),
        approval_bytes.to_vec(),
        issued.bytes.clone(),
    ];
    (issued, chain)
}

/// The text container an agent receives: its chain, ready to pass to `countersign invoke`.
pub fn chain_container(chain: &[Vec<u8>]) -> String {
    Container::new(chain.iter().cloned()).to_text()
}

// The approval a person signs: a device → service delegation built from the request as
// shown — its command, every requested policy statement, the person's narrowings, the
// expiry they chose, and the number they matched. The screen renders this draft, and the
// same draft is what gets signed.

import { delegationPayload, newNonce, sealDelegation } from './ucan.js'
import { newMap } from './values.js'

export const MATCH_META = 'countersign/match'

/**
 * The draft for `request` (a request view parsed by json.js) as `device` approving for
 * `service`, at `now`:
 *   lifetime — seconds the capability may live (at most the requested lifetime),
 *   added    — stricter statements the person added,
 *   match    — the number picked, when number matching applies.
 */
export function approvalDraft({ request, device, service, now, lifetime, added = [], match }) {
  const seconds = Math.min(lifetime ?? request.lifetime, request.lifetime)
  if (!(seconds > 0)) throw new RangeError('the lifetime must be positive')
  let meta
  if (match !== undefined && match !== null) {
    meta = newMap()
    meta[MATCH_META] = String(match)
  }
  return {
    iss: device,
    aud: service,
    sub: request.subject,
    cmd: request.cmd,
    pol: [...request.policy, ...added],
    meta,
    exp: now + seconds,
    lifetime: seconds,
    added,
  }
}

/** Signs a draft with the device key: the envelope bytes and CID. */
export async function signApproval(draft, signer) {
  const payload = delegationPayload({
    iss: draft.iss,
    aud: draft.aud,
    sub: draft.sub,
    cmd: draft.cmd,
    pol: draft.pol,
    nonce: newNonce(),
    meta: draft.meta,
    exp: draft.exp,
  })
  return sealDelegation(payload, signer)
}

import { randomBytes } from 'node:crypto'
import { Delegation } from 'iso-ucan/delegation'
import * as Envelope from 'iso-ucan/envelope'
import { Invocation } from 'iso-ucan/invocation'
import { verifier } from 'iso-signatures/verifiers/eddsa.js'
import { Resolver } from 'iso-signatures/verifiers/resolver.js'

export const verifierResolver = new Resolver({ ...verifier })

export function nowInSeconds() {
  return Math.floor(Date.now() / 1000)
}

export function decodeEnvelope(bytes) {
  return Envelope.decode({ envelope: bytes })
}

export function delegate(options) {
  return Delegation.create(options)
}

export function invoke(options) {
  return Invocation.create({ ...options, verifierResolver })
}

export function readDelegation(bytes, now) {
  return Delegation.from({ bytes, verifierResolver, now })
}

export async function signInvocationUnchecked({ iss, sub, aud, cmd, args, prf, exp, version }) {
  const payload = {
    iss: iss.toString(),
    aud: aud ?? sub,
    sub,
    cmd,
    nonce: new Uint8Array(randomBytes(12)),
    exp,
    args,
    prf: prf.map((proof) => proof.cid),
  }
  const { signature, signaturePayload } = await Envelope.sign({
    spec: 'inv',
    version,
    signer: iss,
    payload,
  })
  return Envelope.encode({ signature, signaturePayload })
}

export async function signDelegationWithVersion(signer, payload, version) {
  const { signature, signaturePayload } = await Envelope.sign({
    spec: 'dlg',
    version,
    signer,
    payload,
  })
  return Envelope.encode({ signature, signaturePayload })
}

export async function validateTokens(tokens, { now = nowInSeconds(), audience } = {}) {
  const proofs = new Map()
  const invocations = []
  for (const bytes of tokens) {
    const { spec } = decodeEnvelope(bytes)
    if (spec === 'dlg') {
      const delegation = await readDelegation(bytes, now)
      proofs.set(delegation.cid.toString(), delegation)
    } else if (spec === 'inv') {
      invocations.push(bytes)
    } else {
      throw new Error(`unexpected token spec ${spec}`)
    }
  }
  if (invocations.length !== 1) {
    throw new Error(`expected one invocation, found ${invocations.length}`)
  }
  return Invocation.from({
    bytes: invocations[0],
    verifierResolver,
    now,
    audience,
    resolveProof: async (cid) => {
      const proof = proofs.get(cid.toString())
      if (!proof) {
        throw new Error(`proof ${cid} is not in the container`)
      }
      return proof
    },
  })
}

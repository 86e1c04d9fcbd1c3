// IAM policy evaluation sidecar for the test emulator (tests/emu/iam_enforce.py).
//
// Deliberately independent of the project's own evaluator (src/policy_eval.rs): decisions come
// from @cloud-copilot/iam-simulate, a maintained IAM simulator (condition operators,
// ForAllValues/ForAnyValue incl. the empty-set rules, IfExists, Null, policy variables).
//
// Protocol: JSON lines. The first line written is {"ready": true, "simulator": "<version>"}.
// Then one request per line in, one answer per line out, in order:
//   in:  {"id": 1, "principal": "arn:aws:sts::123456789012:assumed-role/R/CognitoIdentityCredentials",
//         "action": "dynamodb:GetItem", "resource": "arn:aws:dynamodb:...:table/T",
//         "account": "123456789012", "context": {"dynamodb:LeadingKeys": ["k"], ...},
//         "policies": [{"name": "p", "policy": {...}}],
//         "boundary": [{"name": "b", "policy": {...}}] (optional: the permissions boundary),
//         "resource_policy": {"name": "r", "policy": {...}} (optional: the resource's own policy,
//         e.g. a DynamoDB table's resource-based policy)}
//   out: {"id": 1, "result": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied"}
//        or {"id": 1, "error": "..."} (the caller must deny).
//
// runUnsafeSimulation, not runSimulation: the validating entry point drops every context key
// that its service data does not list for the action, and the web-identity keys
// (cognito-identity.amazonaws.com:sub/aud/amr) are not listed for DynamoDB actions, so
// `${cognito-identity.amazonaws.com:sub}` would never resolve. The principal tags of identity
// credentials come as aws:PrincipalTag/<key> context keys and resolve `${aws:PrincipalTag/<key>}`
// the same way (checked by iam_enforce.self_check at startup). Policies are still validated
// (validateIdentityPolicy) before evaluation; an invalid one is an error, never a silent allow.
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy
} from '@cloud-copilot/iam-policy'
import { runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const RESULTS = new Set(['Allowed', 'ImplicitlyDenied', 'ExplicitlyDenied'])

function version() {
  const url = new URL('./node_modules/@cloud-copilot/iam-simulate/package.json', import.meta.url)
  return JSON.parse(readFileSync(url, 'utf8')).version
}

function evaluate(req) {
  const boundary = req.boundary?.length ? req.boundary : undefined
  for (const p of [...req.policies, ...(boundary ?? [])]) {
    const errors = validateIdentityPolicy(p.policy)
    if (errors.length > 0) {
      return { error: `policy ${p.name} is invalid: ${errors.map((e) => e.message).join('; ')}` }
    }
  }
  // Validated here, and handed over with its name: the simulator loads a bare resource policy
  // without metadata and then fails reading its name.
  const resource = req.resource_policy
    ? createValidatedPolicy(req.resource_policy.policy, validateResourcePolicy, {
        name: req.resource_policy.name
      })
    : undefined
  if (resource && resource.errors.length > 0) {
    return {
      error: `resource policy ${req.resource_policy.name} is invalid: ${resource.errors.map((e) => e.message).join('; ')}`
    }
  }
  const result = runUnsafeSimulation(
    {
      request: {
        principal: req.principal,
        action: req.action,
        resource: { resource: req.resource, accountId: req.account },
        contextVariables: req.context ?? {}
      },
      identityPolicies: req.policies,
      permissionBoundaryPolicies: boundary,
      resourcePolicy: resource,
      serviceControlPolicies: [],
      resourceControlPolicies: []
    },
    {}
  )
  if (!RESULTS.has(result)) {
    return { error: `unexpected simulator result ${JSON.stringify(result)}` }
  }
  return { result }
}

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
out({ ready: true, simulator: version() })

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (!line.trim()) return
  let req
  try {
    req = JSON.parse(line)
  } catch (e) {
    out({ id: null, error: `unreadable request: ${e.message}` })
    return
  }
  try {
    out({ id: req.id, ...evaluate(req) })
  } catch (e) {
    out({ id: req.id, error: `simulator failed: ${e?.stack ?? e}` })
  }
})
lines.on('close', () => process.exit(0))

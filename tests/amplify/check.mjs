// Loads an amplify_outputs.json into the real aws-amplify v6 library, as an app does, and prints
// what Amplify made of it (tests/e2e/app_clients.rs compares that with the live stack).
//
//   node tests/amplify/check.mjs path/to/amplify_outputs.json [endpoint]
//
// Prints one JSON object:
//   config:   Amplify.getConfig() after Amplify.configure(outputs)
//   regions:  the regions Amplify derives from the pool ids (aws-amplify reads each pool's
//             region from its id, not from auth.aws_region)
//   guest:    with an endpoint (the emulator): fetchAuthSession() without signing in, i.e.
//             Amplify's own GetId + GetCredentialsForIdentity with the file's identity pool:
//             {identityId, hasCredentials} or {error}
//
// aws-amplify is pinned (package-lock.json) at the current 6.x. A few @aws-sdk packages it
// lists for its analytics category declare Node.js 20; this check never loads them, and npm ci
// on Node.js 18 only warns about them.
import { readFileSync } from 'node:fs'
import { Amplify } from 'aws-amplify'
import { fetchAuthSession } from 'aws-amplify/auth'
import {
  getRegionFromIdentityPoolId,
  getRegionFromUserPoolId,
} from './node_modules/@aws-amplify/auth/dist/esm/foundation/parsers/regionParsers.mjs'

const [file, endpoint] = process.argv.slice(2)
const outputs = JSON.parse(readFileSync(file, 'utf8'))
Amplify.configure(outputs)
const config = Amplify.getConfig()
const cognito = config.Auth?.Cognito ?? {}
const region = (parse, id) => {
  try {
    return parse(id)
  } catch (e) {
    return `error: ${e.name}`
  }
}
const result = {
  config,
  regions: {
    userPool: region(getRegionFromUserPoolId, cognito.userPoolId),
    identityPool: region(getRegionFromIdentityPoolId, cognito.identityPoolId),
  },
}
if (endpoint) {
  // The same configuration, pointed at the emulator (Amplify's userPoolEndpoint and
  // identityPoolEndpoint options; an app leaves them out).
  Amplify.configure({
    ...config,
    Auth: { Cognito: { ...cognito, userPoolEndpoint: endpoint, identityPoolEndpoint: endpoint } },
  })
  try {
    const session = await fetchAuthSession()
    result.guest = { identityId: session.identityId ?? null, hasCredentials: !!session.credentials }
  } catch (e) {
    result.guest = { error: `${e.name}: ${e.message}` }
  }
}
console.log(JSON.stringify(result))

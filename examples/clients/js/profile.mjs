#!/usr/bin/env node
// A signed-in user's own profile in DynamoDB, the way a web or React Native app reaches it:
// sign in to the user pool, trade the ID token for the identity pool's temporary AWS
// credentials, and call DynamoDB with them. Everything it needs comes from the
// amplify_outputs.json that `setup outputs --write amplify_outputs.json` writes.
//
//   node profile.mjs                  show my profile (GetItem)
//   node profile.mjs save name=Alice  set attributes on my profile (GetItem, then PutItem)
//   node profile.mjs show USER_ID     try another user's profile: denied with per-user isolation
//
// Settings (environment):
//   PROFILE_USERNAME, PROFILE_PASSWORD  the user to sign in as (an app asks the user)
//   AMPLIFY_OUTPUTS                     the file (default: ./amplify_outputs.json)
//   PROFILE_SORT_KEY                    with a sort key on the table: the profile item's value
//                                       of it (default "profile")
//   AWS_ENDPOINT_URL                    an emulator instead of AWS (the SDK reads it itself;
//                                       leave it unset for real AWS)
//
// Prints one JSON line: {"userId", "identityId", "profile"} or {"error", "message"} (exit 1).
import { readFileSync } from 'node:fs'
import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider'
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers'
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb'

const outputs = JSON.parse(readFileSync(process.env.AMPLIFY_OUTPUTS ?? 'amplify_outputs.json', 'utf8'))
const { auth } = outputs
const table = outputs.custom.user_profile_table

// 1. Sign in to the user pool (USER_PASSWORD_AUTH: the app client must allow it; an app using
//    Amplify's signIn uses SRP instead, the tokens are the same). The user pool lives in
//    auth.aws_region, which may differ from the stack's region.
async function signIn(username, password) {
  const idp = new CognitoIdentityProviderClient({ region: auth.aws_region })
  const out = await idp.send(
    new InitiateAuthCommand({
      ClientId: auth.user_pool_client_id,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: username, PASSWORD: password },
    }),
  )
  if (!out.AuthenticationResult) throw new Error(`sign-in needs a challenge: ${out.ChallengeName}`)
  return out.AuthenticationResult.IdToken
}

// The claims of a JWT (no check needed: Cognito checks the token when we use it).
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())

// 2. The identity pool's credentials for this user. The login key names the user pool:
//    cognito-idp.<user pool region>.amazonaws.com/<user pool id>. The identity pool is in the
//    region its id starts with ("us-east-1:…"), the stack's region.
function credentialsFor(idToken) {
  return fromCognitoIdentityPool({
    clientConfig: { region: auth.identity_pool_id.split(':')[0] },
    identityPoolId: auth.identity_pool_id,
    logins: { [`cognito-idp.${auth.aws_region}.amazonaws.com/${auth.user_pool_id}`]: idToken },
  })
}

// 3. The profile's key. With per-user isolation the access policy only lets each user use
//    items whose partition key is their own id, and isolation_key says which one:
//    "user-pool-sub" (the default) is the ID token's sub, the same userId a backend writes;
//    "identity-id" is the identity pool's id for the user.
function profileKey(userId) {
  const key = { [table.partition_key.name]: { S: userId } }
  if (table.sort_key) {
    const value = process.env.PROFILE_SORT_KEY ?? (table.sort_key.type === 'N' ? '0' : 'profile')
    key[table.sort_key.name] = { [table.sort_key.type]: value }
  }
  return key
}

// DynamoDB's typed values as plain ones (strings and numbers are all a profile holds here).
const plain = (item) =>
  item && Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? v.N ?? v]))

async function main() {
  const [command = 'show', ...args] = process.argv.slice(2)
  const idToken = await signIn(process.env.PROFILE_USERNAME, process.env.PROFILE_PASSWORD)
  const credentials = credentialsFor(idToken)
  const { identityId } = await credentials()
  const own = table.isolation_key === 'identity-id' ? identityId : claims(idToken).sub
  // The table is in the stack's region, with the identity pool's credentials.
  const ddb = new DynamoDBClient({ region: table.aws_region, credentials })

  const userId = command === 'show' && args[0] ? args[0] : own
  const got = await ddb.send(new GetItemCommand({ TableName: table.table_name, Key: profileKey(userId) }))
  let profile = plain(got.Item) ?? null
  if (command === 'save') {
    const item = { ...(got.Item ?? {}), ...profileKey(own) }
    for (const pair of args) {
      const [name, ...value] = pair.split('=')
      item[name] = { S: value.join('=') }
    }
    await ddb.send(new PutItemCommand({ TableName: table.table_name, Item: item }))
    profile = plain(item)
  }
  return { userId, identityId, profile }
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (e) => {
    console.log(JSON.stringify({ error: e.name, message: e.message }))
    process.exitCode = 1
  },
)

// A real Bluesky PDS for Tocsin's tests: @atproto/pds (npm) on loopback, with a local PLC
// directory (@did-plc/server, in memory) in the same Node process. Nothing leaves the machine:
// handles are under `.test`, no email, no crawlers, no app view.
//
// Usage: node pds_server.mjs MODULES_DIR DATA_DIR   (Node 22; MODULES_DIR holds node_modules)
//
// Creates three accounts (the one Tocsin posts as, with an app password; a second one to
// mention; and "expiring", whose sessions' access tokens live two seconds so the test meets
// a real expiry), prints one JSON line saying all of it (and an already expired access token
// of the main account, signed by this PDS), and stops when its standard input closes.

import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

const [modulesDir, dataDir] = process.argv.slice(2)
if (!modulesDir || !dataDir) {
  console.error('usage: node pds_server.mjs MODULES_DIR DATA_DIR')
  process.exit(2)
}
const require = createRequire(path.join(modulesDir, 'package.json'))
const load = async (name) => import(pathToFileURL(require.resolve(name)).href)

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const pds = await load('@atproto/pds')
const plc = require('@did-plc/server')
const { Secp256k1Keypair } = await load('@atproto/crypto')
const jose = await load('jose')

fs.mkdirSync(dataDir, { recursive: true })
// Both servers listen on loopback only (they would take every interface).
const loopbackOnly = (app) => {
  const listen = app.listen.bind(app)
  app.listen = (port, ...rest) => listen(port, '127.0.0.1', ...rest)
}
const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: await freePort() })
loopbackOnly(plcServer.app)
const plcListener = await plcServer.start()
const plcUrl = `http://localhost:${plcListener.address().port}`

const port = await freePort()
const rotationKey = await Secp256k1Keypair.create({ exportable: true })
const rotationKeyHex = Buffer.from(await rotationKey.export()).toString('hex')
const jwtSecret = crypto.randomBytes(16).toString('hex')
const env = {
  devMode: true,
  port,
  hostname: 'localhost',
  serviceDid: 'did:web:localhost',
  dataDirectory: dataDir,
  blobstoreDiskLocation: path.join(dataDir, 'blobs'),
  didPlcUrl: plcUrl,
  serviceHandleDomains: ['.test'],
  recoveryDidKey: rotationKey.did(),
  plcRotationKeyK256PrivateKeyHex: rotationKeyHex,
  jwtSecret,
  adminPassword: crypto.randomBytes(12).toString('hex'),
  inviteRequired: false,
  crawlers: [],
  rateLimitsEnabled: false,
  disableSsrfProtection: true,
  version: '0.0.0',
}
const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env))
loopbackOnly(server.app)

// "tocsinexpiring.test" gets access tokens that expire two seconds after they are issued, so a test
// can wait for a real expiry; its refresh tokens are the PDS's own.
const jwtKey = crypto.createSecretKey(Buffer.from(jwtSecret))
const accountManager = server.ctx.accountManager
const shortLived = new Set()
const original = accountManager.createSession.bind(accountManager)
accountManager.createSession = async (did, ...rest) => {
  const tokens = await original(did, ...rest)
  if (!shortLived.has(did)) return tokens
  return { ...tokens, accessJwt: await accessToken(tokens.accessJwt, 2) }
}
// An access token with the claims of `like`, expiring `seconds` from now (negative: already).
async function accessToken(like, seconds) {
  const claims = jose.decodeJwt(like)
  const now = Math.floor(Date.now() / 1000)
  return new jose.SignJWT({ scope: claims.scope })
    .setProtectedHeader({ typ: 'at+jwt', alg: 'HS256' })
    .setAudience(claims.aud)
    .setSubject(claims.sub)
    .setIssuedAt(now + Math.min(seconds, 0) - 60)
    .setExpirationTime(now + seconds)
    .sign(jwtKey)
}

await server.start()
const base = `http://localhost:${port}`
const xrpc = async (method, body, token) => {
  const res = await fetch(`${base}/xrpc/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  })
  const json = await res.json()
  if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`)
  return json
}
const account = async (handle) => {
  const password = crypto.randomBytes(12).toString('hex')
  const created = await xrpc('com.atproto.server.createAccount', {
    handle,
    email: `${handle}@example.invalid`,
    password,
  })
  const app = await xrpc('com.atproto.server.createAppPassword', { name: 'tocsin' }, created.accessJwt)
  return { handle, did: created.did, appPassword: app.password, accessJwt: created.accessJwt }
}
const main = await account('tocsinhealth.test')
const friend = await account('tocsinfriend.test')
const expiring = await account('tocsinexpiring.test')
shortLived.add(expiring.did)

console.log(
  JSON.stringify({
    base_url: base,
    pds_version: JSON.parse(fs.readFileSync(require.resolve('@atproto/pds/package.json'), 'utf8')).version,
    handle: main.handle,
    did: main.did,
    app_password: main.appPassword,
    expired_access_token: await accessToken(main.accessJwt, -30),
    friend_handle: friend.handle,
    friend_did: friend.did,
    expiring_handle: expiring.handle,
    expiring_app_password: expiring.appPassword,
  }),
)

process.stdin.resume()
process.stdin.on('end', async () => {
  await server.destroy()
  await plcServer.destroy()
  process.exit(0)
})

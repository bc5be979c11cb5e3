// SPDX-License-Identifier: GPL-3.0-or-later
//
// A js-libp2p 3 peer with @libp2p/circuit-relay-v2 for Punchline's relay
// interop tests (test-relay-interop.c). It prints the JSON-lines events of
// `punchline-cli --json` (docs/cli-events.md) where they exist, so that one
// harness reads both.
//
//   node relay-peer.mjs [--identity FILE] [--json] [--security noise|tls|tls,noise|noise,tls] COMMAND
//     relay  [--listen MA] [--limit-data BYTES] [--limit-duration MS] [--no-limit]
//            [--max-reservations N]   (default 1000)
//     listen --relay MA          reserve on the relay at MA (ending in /p2p/<id>)
//     dial MA [--ping N] [--echo N] [--perf BYTES] [--hold S]
//
// `relay` is js's own relay server (circuitRelayServer); js sends
// Limit.duration in milliseconds where the spec says seconds, so
// --limit-duration is in ms as js takes it. `dial` opens its streams with
// runOnLimitedConnection, as an application that opts in does; --echo sends
// N messages on /punchline/echo/1.0.0 (`punchline-cli listen --echo`) and
// checks what comes back; --perf runs /perf/1.0.0 with BYTES each way and
// reports a failure as an "error" event (a peer may refuse it on a limited
// connection); --hold waits up to S seconds for the connection to close (and
// fails when it does not).
//
// Exit status: 0 ok, 1 failed, 2 usage.

import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

import { ByteReader } from './byte-reader.mjs'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PERF_PROTOCOL = '/perf/1.0.0'
const ECHO_PROTOCOL = '/punchline/echo/1.0.0'
const ECHO_SIZE = 64
const PING_SIZE = 32
const DEADLINE_MS = 15000

class UsageError extends Error {}

const SECURITY = { noise: () => noise(), tls: () => tls() }

// Peers whose identify completed.
const identified = new Set()

function emit (event, fields = {}) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n')
}

function errorText (err) {
  if (err == null) return 'unknown error'
  const name = err.name != null && err.name !== 'Error' ? `${err.name}: ` : ''
  return `${name}${err.message ?? String(err)}`
}

function parseArgs (argv) {
  const opts = { listen: [], rest: [], limit: true, security: 'noise' }
  const value = (i, name) => {
    if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`)
    return argv[i + 1]
  }
  const count = (i, name) => {
    const text = value(i, name)
    if (!/^[0-9]+$/.test(text)) throw new UsageError(`${name}: not a number: ${text}`)
    return Number(text)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '--identity': opts.identity = value(i, a); i++; break
      case '--json': break
      case '--security': opts.security = value(i, a); i++; break
      case '--listen': opts.listen.push(value(i, a)); i++; break
      case '--relay': opts.relay = value(i, a); i++; break
      case '--limit-data': opts.limitData = BigInt(count(i, a)); i++; break
      case '--limit-duration': opts.limitDuration = count(i, a); i++; break
      case '--no-limit': opts.limit = false; break
      case '--max-reservations': opts.maxReservations = count(i, a); i++; break
      case '--ping': opts.ping = count(i, a); i++; break
      case '--perf': opts.perf = BigInt(count(i, a)); i++; break
      case '--echo': opts.echo = count(i, a); i++; break
      case '--hold': opts.hold = count(i, a); i++; break
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`)
        opts.rest.push(a)
    }
  }
  // A comma-separated list, in the order js offers them.
  opts.security = opts.security.split(',')
  for (const name of opts.security) {
    if (SECURITY[name] == null) throw new UsageError(`unknown security ${name}`)
  }
  opts.command = opts.rest.shift()
  if (opts.command === 'dial') {
    if (opts.rest.length !== 1) throw new UsageError('dial needs one multiaddr')
    opts.addr = multiaddr(opts.rest[0])
  } else if (opts.command === 'listen') {
    if (opts.relay == null) throw new UsageError('listen needs --relay')
  } else if (opts.command !== 'relay') {
    throw new UsageError(`unknown command ${opts.command}`)
  }
  return opts
}

async function loadIdentity (path) {
  if (path == null) return generateKeyPair('Ed25519')
  if (existsSync(path)) return privateKeyFromProtobuf(readFileSync(path))
  const key = await generateKeyPair('Ed25519')
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

function emitConnection (conn, state) {
  emit('connection', {
    state,
    direction: conn.direction,
    remote: conn.remoteAddr.toString(),
    peer_id: conn.remotePeer.toString(),
    security: conn.encryption ?? null,
    muxer: conn.multiplexer ?? null,
    relayed: conn.remoteAddr.toString().includes('/p2p-circuit'),
    limited: conn.limits != null
  })
}

async function makeNode (privateKey, opts) {
  const services = { identify: identify(), ping: ping({ maxOutboundStreams: 4 }) }
  const transports = [tcp()]
  let listen = []

  if (opts.command === 'relay') {
    const reservations = { maxReservations: opts.maxReservations ?? 1000, applyDefaultLimit: opts.limit }
    if (opts.limitData != null) reservations.defaultDataLimit = opts.limitData
    if (opts.limitDuration != null) reservations.defaultDurationLimit = opts.limitDuration
    services.relay = circuitRelayServer({ reservations })
    listen = opts.listen.length > 0 ? opts.listen : ['/ip4/127.0.0.1/tcp/0']
  } else {
    transports.push(circuitRelayTransport())
    if (opts.command === 'listen') listen = [`${opts.relay}/p2p-circuit`]
  }

  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports,
    connectionEncrypters: opts.security.map((name) => SECURITY[name]()),
    streamMuxers: [yamux()],
    // A relay holds a connection per reservation: lift js's connection caps
    // (300 connections, 5 a second from one address, 10 pending) past them.
    connectionManager: opts.command === 'relay'
      ? {
          maxConnections: (opts.maxReservations ?? 1000) + 100,
          inboundConnectionThreshold: 1000000,
          maxIncomingPendingConnections: 1000
        }
      : { inboundConnectionThreshold: 1000 },
    services,
    start: false
  })
  node.addEventListener('connection:open', (evt) => emitConnection(evt.detail, 'open'))
  node.addEventListener('connection:close', (evt) => emitConnection(evt.detail, 'closed'))
  node.addEventListener('peer:identify', (evt) => {
    identified.add(evt.detail.peerId.toString())
    emit('identify', {
      peer_id: evt.detail.peerId.toString(),
      agent_version: evt.detail.agentVersion ?? null,
      protocols: [...evt.detail.protocols].sort(),
      listen_addrs: evt.detail.listenAddrs.map((a) => a.toString()),
      observed_addr: evt.detail.observedAddr?.toString() ?? null
    })
  })
  return node
}

const STREAM_OPTS = { runOnLimitedConnection: true }

async function pingStream (connection, count) {
  const stream = await connection.newStream(PING_PROTOCOL, STREAM_OPTS)
  const reader = new ByteReader(stream)
  for (let seq = 1; seq <= count; seq++) {
    const data = crypto.getRandomValues(new Uint8Array(PING_SIZE))
    const t0 = performance.now()
    stream.send(data)
    const echo = await reader.read(PING_SIZE)
    if (!echo.every((b, i) => b === data[i])) throw new Error(`ping ${seq}: wrong echo`)
    emit('ping', { peer_id: connection.remotePeer.toString(), seq, rtt_ms: performance.now() - t0 })
  }
  await stream.close()
}

async function echoStream (connection, count) {
  const stream = await connection.newStream(ECHO_PROTOCOL, STREAM_OPTS)
  const reader = new ByteReader(stream)
  for (let seq = 1; seq <= count; seq++) {
    const data = crypto.getRandomValues(new Uint8Array(ECHO_SIZE))
    stream.send(data)
    const echo = await reader.read(ECHO_SIZE)
    if (!echo.every((b, i) => b === data[i])) throw new Error(`echo ${seq}: wrong bytes`)
  }
  await stream.close()
  emit('echo', { peer_id: connection.remotePeer.toString(), messages: count, bytes: count * ECHO_SIZE })
}

async function perfStream (connection, bytes) {
  const stream = await connection.newStream(PERF_PROTOCOL, STREAM_OPTS)
  const reader = new ByteReader(stream)
  const t0 = performance.now()
  const downloading = reader.drain()
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, bytes, false)
  stream.send(header)
  const chunk = new Uint8Array(16384)
  let left = bytes
  while (left > 0n) {
    const n = left < 16384n ? Number(left) : 16384
    if (!stream.send(chunk.subarray(0, n))) await stream.onDrain()
    left -= BigInt(n)
  }
  await stream.close()
  const downloaded = await downloading
  if (BigInt(downloaded) !== bytes) throw new Error(`perf: downloaded ${downloaded} bytes, asked for ${bytes}`)
  const seconds = (performance.now() - t0) / 1000
  emit('perf', { peer_id: connection.remotePeer.toString(), role: 'client', uploaded: Number(bytes), downloaded, seconds })
}

function waitFor (what, ms, check) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const tick = () => {
      const value = check()
      if (value != null) return resolve(value)
      if (Date.now() - t0 > ms) return reject(new Error(`no ${what} within ${ms} ms`))
      setTimeout(tick, 50)
    }
    tick()
  })
}

function waitForSignal () {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}

async function cmdRelay (node) {
  node.services.relay.addEventListener('relay:reservation', (evt) => {
    emit('reservation', {
      role: 'relay',
      state: 'opened',
      addr: evt.detail.addr.toString(),
      expire: Math.round(evt.detail.expiry.getTime() / 1000),
      limit: evt.detail.limit != null
        ? { duration: evt.detail.limit.duration ?? 0, data: Number(evt.detail.limit.data ?? 0n) }
        : null
    })
  })
  emit('listening', { peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })
  await waitForSignal()
}

async function cmdListen (node) {
  const circuitAddrs = () => {
    const addrs = node.getMultiaddrs().map((a) => a.toString()).filter((a) => a.includes('/p2p-circuit'))
    return addrs.length > 0 ? addrs : null
  }
  const addrs = await waitFor('relayed address', DEADLINE_MS, circuitAddrs)
  emit('listening', { peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })
  emit('reserved', { relay: node.getMultiaddrs().length > 0 ? addrs[0].split('/p2p-circuit')[0] : null, addr: addrs[0], addrs })
  await waitForSignal()
}

async function cmdDial (node, opts) {
  const connection = await node.dial(opts.addr, { signal: AbortSignal.timeout(DEADLINE_MS) })
  const extra = { relayed: connection.remoteAddr.toString().includes('/p2p-circuit'), limited: connection.limits != null }
  // identify runs by itself on every new connection, limited ones included
  await waitFor('identify', DEADLINE_MS, () => identified.has(connection.remotePeer.toString()) ? true : null)
  if ((opts.ping ?? 0) > 0) await pingStream(connection, opts.ping)
  if ((opts.echo ?? 0) > 0) await echoStream(connection, opts.echo)
  if (opts.perf != null) {
    const t0 = performance.now()
    try {
      await perfStream(connection, opts.perf)
    } catch (err) {
      emit('error', { message: `perf: ${errorText(err)}`, domain: 'js', code: 0, after_ms: performance.now() - t0 })
    }
  }
  if (opts.hold != null) {
    const closed = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), opts.hold * 1000)
      node.addEventListener('connection:close', (evt) => {
        if (evt.detail.id === connection.id) {
          clearTimeout(timer)
          resolve(true)
        }
      })
    })
    if (!closed) throw new Error(`the connection was still open after ${opts.hold} s`)
    extra.closed = true
  }
  return extra
}

async function main () {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`relay-peer.mjs: ${err.message}\n`)
    return 2
  }
  let node = null
  try {
    node = await makeNode(await loadIdentity(opts.identity), opts)
    await node.start()
    let extra = {}
    switch (opts.command) {
      case 'relay': await cmdRelay(node); break
      case 'listen': await cmdListen(node); break
      case 'dial': extra = await cmdDial(node, opts); break
    }
    await node.stop()
    node = null
    if (opts.command === 'dial') emit('result', { ok: true, ...extra })
    return 0
  } catch (err) {
    emit('result', { ok: false, error: errorText(err) })
    if (process.env.PUNCH_INTEROP_DEBUG) process.stderr.write(`${err.stack}\n`)
    return 1
  } finally {
    if (node != null) await node.stop().catch(() => {})
  }
}

process.exitCode = await main()
setTimeout(() => process.exit(process.exitCode), 500).unref()

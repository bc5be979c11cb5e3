// SPDX-License-Identifier: GPL-3.0-or-later
//
// A js-libp2p 3 peer driven by arguments, for Punchline's interop tests and
// benchmarks. It prints the same JSON-lines events as `punchline-cli --json`
// (docs/cli-events.md) so that one harness reads both.
//
//   node peer.mjs [--identity FILE] [--key-type ed25519|secp256k1|rsa|ecdsa]
//                 [--json] [--security noise|tls|tls,noise|noise,tls] COMMAND
//     id
//     listen [--listen MA]... [--perf]
//     dial MA [--ping N] [--interval MS]
//     ping MA [-c N]                  (js's own ping service: a stream per ping)
//     identify MA
//     perf MA --upload BYTES --download BYTES [--parallel N]
//     bench-setup MA [-n N]           (N fresh connections, dial → first pong)
//
// Exit status: 0 ok, 1 failed, 2 usage.

import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

import { ByteReader } from './byte-reader.mjs'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_SIZE = 32
const PERF_PROTOCOL = '/perf/1.0.0'
const PERF_CHUNK = 64 * 1024
const IDENTIFY_DEADLINE_MS = 10000

class UsageError extends Error {}

function emit (event, fields = {}) {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }) + '\n')
}

function errorText (err) {
  if (err == null) return 'unknown error'
  const name = err.name != null && err.name !== 'Error' ? `${err.name}: ` : ''
  return `${name}${err.message ?? String(err)}`
}

// --- arguments ------------------------------------------------------------

function parseArgs (argv) {
  const opts = { listen: [], perf: false, security: 'noise', keyType: 'Ed25519', rest: [] }
  const takeValue = (i, name) => {
    if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`)
    return argv[i + 1]
  }
  const takeCount = (i, name) => {
    const text = takeValue(i, name)
    if (!/^[0-9]+$/.test(text)) throw new UsageError(`${name}: not a number: ${text}`)
    return BigInt(text)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '--identity': opts.identity = takeValue(i, a); i++; break
      case '--json': break
      case '--security': opts.security = takeValue(i, a); i++; break
      case '--key-type':
        opts.keyType = KEY_TYPES[takeValue(i, a).toLowerCase()]
        if (opts.keyType == null) throw new UsageError(`unknown key type ${argv[i + 1]}`)
        i++
        break
      case '--listen': opts.listen.push(takeValue(i, a)); i++; break
      case '--perf': opts.perf = true; break
      case '--ping': opts.ping = Number(takeCount(i, a)); i++; break
      case '-c': opts.count = Number(takeCount(i, a)); i++; break
      case '-n': opts.count = Number(takeCount(i, a)); i++; break
      case '--parallel': opts.parallel = Number(takeCount(i, a)); i++; break
      case '--interval': opts.interval = Number(takeCount(i, a)); i++; break
      case '--upload': opts.upload = takeCount(i, a); i++; break
      case '--download': opts.download = takeCount(i, a); i++; break
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
  if (opts.command == null) throw new UsageError('no command')
  const needsAddr = ['dial', 'ping', 'identify', 'perf', 'bench-setup']
  if (needsAddr.includes(opts.command)) {
    if (opts.rest.length !== 1) throw new UsageError(`${opts.command} needs one multiaddr`)
    try {
      opts.addr = multiaddr(opts.rest[0])
    } catch (err) {
      throw new UsageError(`bad multiaddr ${opts.rest[0]}: ${errorText(err)}`)
    }
  } else if (['id', 'listen'].includes(opts.command)) {
    if (opts.rest.length !== 0) throw new UsageError(`${opts.command} takes no argument`)
  } else {
    throw new UsageError(`unknown command ${opts.command}`)
  }
  if (opts.command === 'perf' && (opts.upload == null || opts.download == null)) {
    throw new UsageError('perf needs --upload and --download')
  }
  return opts
}

// --- identity: a libp2p PrivateKey protobuf, like punchline-cli's ----------

const SECURITY = { noise: () => noise(), tls: () => tls() }

const KEY_TYPES = { ed25519: 'Ed25519', secp256k1: 'secp256k1', rsa: 'RSA', ecdsa: 'ECDSA' }

async function loadIdentity (path, keyType) {
  const generate = () => keyType === 'RSA' ? generateKeyPair('RSA', 2048) : generateKeyPair(keyType)
  if (path == null) return generate()
  if (existsSync(path)) return privateKeyFromProtobuf(readFileSync(path))
  const key = await generate()
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

// --- the node ---------------------------------------------------------------

async function makeNode (privateKey, opts, listen) {
  const node = await createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: opts.security.map((name) => SECURITY[name]()),
    streamMuxers: [yamux()],
    // The default (5 a second from one host) would refuse the back-to-back
    // connections of the tests and the set-up benchmark.
    connectionManager: { inboundConnectionThreshold: 1000 },
    // Our own ping stream (dial --ping) must leave room for the connection
    // monitor's, which aborts the connection when it cannot open one.
    services: { identify: identify(), ping: ping({ maxOutboundStreams: 4 }) }
  })
  node.addEventListener('connection:open', (evt) => emitConnection(evt.detail, 'open'))
  node.addEventListener('connection:close', (evt) => emitConnection(evt.detail, 'closed'))
  if (opts.perf) {
    await node.handle(PERF_PROTOCOL, (stream, connection) => {
      perfServe(stream, connection).catch((err) => {
        emit('error', { message: `perf server: ${errorText(err)}`, domain: 'js', code: 0 })
        stream.abort(err)
      })
    }, { runOnLimitedConnection: false, maxInboundStreams: 32 })
  }
  return node
}

function emitConnection (conn, state) {
  const fields = {
    state,
    direction: conn.direction,
    remote: conn.remoteAddr.toString(),
    peer_id: conn.remotePeer.toString(),
    security: conn.encryption ?? null,
    muxer: conn.multiplexer ?? null,
    relayed: conn.limits != null || conn.remoteAddr.toString().includes('/p2p-circuit')
  }
  emit('connection', fields)
}

function identifyFields (result, peer) {
  const agent = peer?.metadata?.get('AgentVersion')
  const protocolVersion = peer?.metadata?.get('ProtocolVersion')
  return {
    peer_id: result.peerId.toString(),
    agent_version: agent != null ? new TextDecoder().decode(agent) : (result.agentVersion ?? null),
    protocol_version: protocolVersion != null ? new TextDecoder().decode(protocolVersion) : (result.protocolVersion ?? null),
    protocols: peer != null ? [...peer.protocols].sort() : [...result.protocols].sort(),
    listen_addrs: peer != null
      ? peer.addresses.map((a) => a.multiaddr.toString())
      : result.listenAddrs.map((a) => a.toString()),
    observed_addr: result.observedAddr?.toString() ?? null
  }
}

// --- streams ----------------------------------------------------------------

async function sendAll (stream, bytes) {
  const chunk = new Uint8Array(PERF_CHUNK)
  let remaining = bytes
  while (remaining > 0n) {
    const n = remaining < BigInt(PERF_CHUNK) ? Number(remaining) : PERF_CHUNK
    if (!stream.send(n === PERF_CHUNK ? chunk : chunk.subarray(0, n))) {
      await stream.onDrain()
    }
    remaining -= BigInt(n)
  }
}

// The server side of /perf/1.0.0: a BE u64 with the size to send back, then
// the upload up to the client's close of its write side; then the download.
async function perfServe (stream, connection) {
  const t0 = performance.now()
  const reader = new ByteReader(stream)
  const header = await reader.read(8)
  const download = new DataView(header.buffer, header.byteOffset, 8).getBigUint64(0, false)
  const uploaded = await reader.drain()
  const t1 = performance.now()
  await sendAll(stream, download)
  await stream.close()
  const t2 = performance.now()
  emit('perf', perfFields(connection.remotePeer.toString(), BigInt(uploaded), download, t0, t1, t2, 'server'))
}

function perfFields (peerId, uploaded, downloaded, t0, t1, t2, role) {
  const up = (t1 - t0) / 1000
  const down = (t2 - t1) / 1000
  return {
    peer_id: peerId,
    role,
    uploaded: Number(uploaded),
    downloaded: Number(downloaded),
    upload_seconds: up,
    download_seconds: down,
    seconds: (t2 - t0) / 1000,
    upload_bytes_per_second: up > 0 ? Number(uploaded) / up : 0,
    download_bytes_per_second: down > 0 ? Number(downloaded) / down : 0
  }
}

async function perfClient (connection, upload, download) {
  const stream = await connection.newStream(PERF_PROTOCOL)
  const reader = new ByteReader(stream)
  const t0 = performance.now()
  let tFirst = null
  // The server sends only after our upload ended, so its first byte marks
  // the end of the upload as seen by the server.
  const downloading = reader.drain(() => { tFirst = performance.now() })
  const header = new Uint8Array(8)
  new DataView(header.buffer).setBigUint64(0, download, false)
  stream.send(header)
  await sendAll(stream, upload)
  await stream.close()
  const tClosed = performance.now()
  const downloaded = await downloading
  const tEnd = performance.now()
  if (tFirst == null) tFirst = download === 0n ? tEnd : tClosed
  if (BigInt(downloaded) !== download) {
    throw new Error(`perf: downloaded ${downloaded} bytes, asked for ${download}`)
  }
  return perfFields(connection.remotePeer.toString(), upload, BigInt(downloaded), t0, tFirst, tEnd, 'client')
}

// Pings back to back on one stream, as go and rust do (js's own service
// opens a stream per ping; `ping` uses that one).
async function pingStream (connection, count, interval, onPong) {
  const stream = await connection.newStream(PING_PROTOCOL)
  const reader = new ByteReader(stream)
  try {
    for (let seq = 1; seq <= count; seq++) {
      const data = crypto.getRandomValues(new Uint8Array(PING_SIZE))
      const t0 = performance.now()
      stream.send(data)
      const echo = await reader.read(PING_SIZE)
      const rtt = performance.now() - t0
      if (!echo.every((b, i) => b === data[i])) throw new Error(`ping ${seq}: wrong echo`)
      onPong(seq, rtt)
      if (interval > 0 && seq < count) await new Promise((resolve) => setTimeout(resolve, interval))
    }
    await stream.close()
  } catch (err) {
    stream.abort(err)
    throw err
  }
}

function waitForIdentify (node, predicate, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      node.removeEventListener('peer:identify', onIdentify)
      reject(new Error(`no identify within ${ms} ms`))
    }, ms)
    const onIdentify = (evt) => {
      if (!predicate(evt.detail)) return
      clearTimeout(timer)
      node.removeEventListener('peer:identify', onIdentify)
      resolve(evt.detail)
    }
    node.addEventListener('peer:identify', onIdentify)
  })
}

// --- commands ---------------------------------------------------------------

async function cmdListen (node) {
  node.addEventListener('peer:identify', (evt) => {
    node.peerStore.get(evt.detail.peerId)
      .catch(() => null)
      .then((peer) => emit('identify', identifyFields(evt.detail, peer)))
  })
  emit('listening', {
    peer_id: node.peerId.toString(),
    addrs: node.getMultiaddrs().map((a) => a.toString())
  })
  await new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}

async function cmdDial (node, opts) {
  const t0 = performance.now()
  const connection = await node.dial(opts.addr)
  let setupMs = null
  const rtts = []
  const count = opts.ping ?? 0
  if (count > 0) {
    await pingStream(connection, count, opts.interval ?? 0, (seq, rtt) => {
      if (setupMs == null) setupMs = performance.now() - t0
      rtts.push(rtt)
      emit('ping', { peer_id: connection.remotePeer.toString(), seq, rtt_ms: rtt })
    })
  }
  return { setup_ms: setupMs, pings: rtts.length }
}

async function cmdPing (node, opts) {
  const count = opts.count ?? 1
  const connection = await node.dial(opts.addr)
  let failed = 0
  for (let seq = 1; seq <= count; seq++) {
    try {
      const rtt = await node.services.ping.ping(connection.remoteAddr.toString().includes('/p2p/') ? connection.remoteAddr : opts.addr)
      emit('ping', { peer_id: connection.remotePeer.toString(), seq, rtt_ms: rtt })
    } catch (err) {
      failed++
      emit('error', { message: `ping ${seq}: ${errorText(err)}`, domain: 'js', code: 0 })
    }
  }
  if (failed === count) throw new Error(`all ${count} pings failed`)
  return {}
}

async function cmdIdentify (node, opts) {
  let connection = null
  const identified = waitForIdentify(node, (r) => connection == null || r.connection.id === connection.id ||
    r.peerId.equals(connection.remotePeer), IDENTIFY_DEADLINE_MS)
  connection = await node.dial(opts.addr)
  const result = await identified
  const peer = await node.peerStore.get(result.peerId)
  emit('identify', identifyFields(result, peer))
  return {}
}

async function cmdPerf (node, opts) {
  const connection = await node.dial(opts.addr)
  const parallel = opts.parallel ?? 1
  if (parallel === 1) {
    emit('perf', await perfClient(connection, opts.upload, opts.download))
    return {}
  }
  // Several perf streams at once on one connection: exercises the muxer's
  // per-stream flow control; one perf event per stream.
  const runs = await Promise.all(Array.from({ length: parallel },
    () => perfClient(connection, opts.upload, opts.download)))
  runs.forEach((fields) => emit('perf', fields))
  return { streams: parallel }
}

async function cmdBenchSetup (node, opts) {
  const n = opts.count ?? 20
  const warmup = 3
  const samples = []
  for (let i = 0; i < n + warmup; i++) {
    const t0 = performance.now()
    const connection = await node.dial(opts.addr, { force: true })
    await pingStream(connection, 1, 0, () => {
      if (i >= warmup) samples.push(performance.now() - t0)
    })
    await connection.close()
    // Let both sides forget the connection before the next dial.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const sorted = [...samples].sort((a, b) => a - b)
  return { samples_ms: samples, median_ms: sorted[Math.floor(sorted.length / 2)] }
}

async function main () {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`peer.mjs: ${err.message}\n` +
      'usage: peer.mjs [--identity FILE] [--json] [--security noise|tls|tls,noise|noise,tls] ' +
      'id | listen [--listen MA]... [--perf] | dial MA [--ping N] | ping MA [-c N] | ' +
      'identify MA | perf MA --upload B --download B [--parallel N] | bench-setup MA [-n N]\n')
    return 2
  }

  let node = null
  try {
    const privateKey = await loadIdentity(opts.identity, opts.keyType)
    if (opts.command === 'id') {
      emit('id', { peer_id: peerIdFromPrivateKey(privateKey).toString(), key_type: privateKey.type })
      emit('result', { ok: true })
      return 0
    }
    const listen = opts.command === 'listen'
      ? (opts.listen.length > 0 ? opts.listen : ['/ip4/127.0.0.1/tcp/0'])
      : []
    node = await makeNode(privateKey, opts, listen)
    let extra = {}
    switch (opts.command) {
      case 'listen': await cmdListen(node); break
      case 'dial': extra = await cmdDial(node, opts); break
      case 'ping': extra = await cmdPing(node, opts); break
      case 'identify': extra = await cmdIdentify(node, opts); break
      case 'perf': extra = await cmdPerf(node, opts); break
      case 'bench-setup': extra = await cmdBenchSetup(node, opts); break
    }
    await node.stop()
    node = null
    if (opts.command !== 'listen') emit('result', { ok: true, ...extra })
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
// Sockets or timers left behind by a failed run must not keep us alive.
setTimeout(() => process.exit(process.exitCode), 500).unref()

// SPDX-License-Identifier: GPL-3.0-or-later
//
// A js-libp2p 3 peer with @libp2p/dcutr for the NAT lab, printing the JSON
// events of punch-lab-peer (tests/lab/punch-lab-peer.c) so that one harness
// reads both. Run it with the lab's hook, which makes 198.18.0.0/15 public:
//
//   node --import ./lab-public-hook.mjs lab-peer.mjs listen --listen MA --relay RELAY_MA [--announce MA]
//   node --import ./lab-public-hook.mjs lab-peer.mjs dial --listen MA [--announce MA] [--wait S] TARGET
//
// js-libp2p 3 advertises an address only once AutoNAT confirmed it, and the
// lab has no AutoNAT server: --announce adds one (addresses.appendAnnounce)
// unconfirmed, e.g. the router's WAN address with our listen port.
// `dial` ends with a "result": path "direct" once a direct connection to
// the peer exists, else "relayed" after --wait seconds (default 30).

import { performance } from 'node:perf_hooks'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

import { ByteReader } from '../interop/byte-reader.mjs'

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_SIZE = 32
const STREAM_OPTS = { runOnLimitedConnection: true }
const t0 = performance.now()

function emit (event, fields = {}) {
  process.stdout.write(JSON.stringify({
    t: Math.round(performance.now() - t0),
    mono: Number(process.hrtime.bigint() / 1000000n), // CLOCK_MONOTONIC, as punch-lab-peer
    event,
    ...fields
  }) + '\n')
}

const isRelayed = (conn) => conn.remoteAddr.toString().includes('/p2p-circuit')

function parseArgs (argv) {
  const opts = { listen: [], announce: [], wait: 30, rest: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--listen') opts.listen.push(argv[++i])
    else if (a === '--announce') opts.announce.push(argv[++i])
    else if (a === '--relay') opts.relay = argv[++i]
    else if (a === '--wait') opts.wait = Number(argv[++i])
    else opts.rest.push(a)
  }
  opts.command = opts.rest[0]
  opts.target = opts.rest[1]
  // The relay's peer, whose direct connection is not the one we wait for.
  const relayOf = opts.relay ?? (opts.target?.includes('/p2p-circuit') ? opts.target.split('/p2p-circuit')[0] : null)
  opts.relayPeer = relayOf?.split('/p2p/').pop() ?? null
  if (!['listen', 'dial'].includes(opts.command) || (opts.command === 'dial' && opts.target == null)) {
    process.stderr.write('usage: lab-peer.mjs listen --listen MA --relay MA [--announce MA] | dial --listen MA [--announce MA] [--wait S] TARGET\n')
    process.exit(2)
  }
  return opts
}

// The lowest of @count pings on @connection, in ms (null when none came back).
async function pingConnection (connection, count) {
  let best = null
  try {
    const stream = await connection.newStream(PING_PROTOCOL, STREAM_OPTS)
    const reader = new ByteReader(stream)
    for (let seq = 1; seq <= count; seq++) {
      const data = crypto.getRandomValues(new Uint8Array(PING_SIZE))
      const start = performance.now()
      stream.send(data)
      await reader.read(PING_SIZE)
      const rtt = performance.now() - start
      emit('ping', { relayed: isRelayed(connection), rtt_ms: Math.round(rtt * 10) / 10, error: null })
      best = best == null || rtt < best ? rtt : best
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    await stream.close()
  } catch (err) {
    emit('ping', { relayed: isRelayed(connection), rtt_ms: null, error: err.message })
  }
  return best == null ? null : Math.round(best * 10) / 10
}

function waitForSignal () {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
}

const opts = parseArgs(process.argv.slice(2))
const listen = [...opts.listen]
if (opts.relay != null) listen.push(`${opts.relay}/p2p-circuit`)

const node = await createLibp2p({
  privateKey: await generateKeyPair('Ed25519'),
  addresses: { listen, appendAnnounce: opts.announce },
  transports: [tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping(), dcutr: dcutr() }
})

let tFirstDirect = null
node.addEventListener('connection:open', (evt) => {
  const c = evt.detail
  if (!isRelayed(c) && tFirstDirect == null && c.remotePeer.toString() !== opts.relayPeer) tFirstDirect = performance.now()
  emit('connection', { state: 'open', direction: c.direction, remote: c.remoteAddr.toString(), peer_id: c.remotePeer.toString(), relayed: isRelayed(c) })
})
node.addEventListener('connection:close', (evt) => {
  const c = evt.detail
  emit('connection', { state: 'closed', direction: c.direction, remote: c.remoteAddr.toString(), peer_id: c.remotePeer.toString(), relayed: isRelayed(c) })
})

emit('listening', { peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })

if (opts.command === 'listen') {
  const timer = setInterval(() => {
    const addrs = node.getMultiaddrs().map((a) => a.toString()).filter((a) => a.includes('/p2p-circuit'))
    if (addrs.length > 0) {
      clearInterval(timer)
      emit('reserved', { addrs })
    }
  }, 50)
  await waitForSignal()
  await node.stop()
  process.exit(0)
}

// dial
const result = { path: 'failed', ms_to_direct: null, rtt_relayed_ms: null, rtt_direct_ms: null, attempts: null, outcome: null, remote: null, reason: null }
try {
  const relayed = await node.dial(multiaddr(opts.target), { signal: AbortSignal.timeout(15000) })
  const tRelayed = performance.now()
  const peer = relayed.remotePeer.toString()
  result.path = 'relayed'
  result.remote = relayed.remoteAddr.toString()
  const directNow = () => node.getConnections().find((c) => c.remotePeer.toString() === peer && !isRelayed(c) && c.status === 'open')
  const relayedPings = pingConnection(relayed, 3)
  let direct = directNow()
  while (direct == null && performance.now() - tRelayed < opts.wait * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    direct = directNow()
  }
  result.rtt_relayed_ms = await relayedPings
  if (direct != null) {
    result.path = 'direct'
    result.ms_to_direct = Math.round((tFirstDirect ?? performance.now()) - tRelayed)
    result.remote = direct.remoteAddr.toString()
    result.rtt_direct_ms = await pingConnection(direct, 3)
  } else {
    result.reason = 'no direct connection before the deadline'
  }
} catch (err) {
  result.reason = err.message
}
emit('result', result)
await node.stop()
process.exit(result.path === 'failed' ? 1 : 0)

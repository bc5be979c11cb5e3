// SPDX-License-Identifier: GPL-3.0-or-later
//
// A js-libp2p 3 peer running @libp2p/autonat (AutoNAT v1, both roles) for
// the AutoNAT interop tests in the NAT lab (tests/autonat/test-autonat-lab.c).
// Run it with the lab's hook, which makes 198.18.0.0/15 public for js:
//
//   node --import ../lab/lab-public-hook.mjs autonat-peer.mjs --listen MA
//        [--map INTERNAL_IP,PORT,EXTERNAL_IP]… [--dial MA]…
//
// js-libp2p ignores observed TCP addresses (js-libp2p issue 2620: Node.js
// dials from ephemeral ports), so a js peer behind a NAT has no public
// address to ask AutoNAT about. --map adds what @libp2p/upnp-nat would
// after mapping a port on the router (addressManager.addPublicAddressMapping):
// an "ip-mapping" address that js then asks AutoNAT servers to verify (PORT
// 0: the port js listens on). The lab's routers forward no port, so the
// honest answer is a failed dial-back.
//
// It prints JSON lines:
// - "listening" {peer_id, addrs}
// - "connection" {state, direction, remote, peer_id}
// - "autonat" {role, what, …}: what js's AutoNAT service itself says (its
//   log lines, read through a logger of ours): as a server "request",
//   "dialing", "reused" (it answered over the connection the request came
//   on instead of dialling: connection-manager's "had an existing
//   connection"), "dialed", "dial-failed", "unexpected-remote", "refused";
//   as a client "asking", "response" (status: the ResponseStatus number),
//   "tally" (success, failure), "confirmed", "unconfirmed"
// - "addrs" {addrs, verified}: node.getMultiaddrs() (js advertises a
//   public address only once AutoNAT confirmed it) and the addresses the
//   address manager holds as verified, after every self:peer:update
// Ends on SIGTERM.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNAT } from '@libp2p/autonat'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { defaultLogger } from '@libp2p/logger'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

// The reader may go first (a test ending): no crash on a closed pipe.
process.stdout.on('error', () => {})

function emit (event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

function parseArgs (argv) {
  const opts = { listen: [], map: [], dial: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--listen') opts.listen.push(argv[++i])
    else if (a === '--map') opts.map.push(argv[++i].split(','))
    else if (a === '--dial') opts.dial.push(argv[++i])
    else {
      process.stderr.write('usage: autonat-peer.mjs --listen MA [--map INTERNAL_IP,PORT,EXTERNAL_IP]… [--dial MA]…\n')
      process.exit(2)
    }
  }
  return opts
}

// printf-like arguments of js-libp2p's loggers, as plain text.
function render (arg) {
  if (arg instanceof Error) return arg.message
  if (arg == null) return String(arg)
  if (typeof arg === 'object' && typeof arg.toString === 'function') return arg.toString()
  return String(arg)
}

// The log lines we turn into events: format string → event fields.
const AUTONAT_LINES = [
  [/^incoming request from %p$/, (a) => ({ role: 'server', what: 'request', peer_id: a[0] })],
  [/^dial multiaddrs %s for peer %p$/, (a) => ({ role: 'server', what: 'dialing', addrs: a[0].split(', '), peer_id: a[1] })],
  [/^successfully dialed %p via %a$/, (a) => ({ role: 'server', what: 'dialed', peer_id: a[0], addr: a[1] })],
  [/^could not dial %p - %e$/, (a) => ({ role: 'server', what: 'dial-failed', peer_id: a[0], error: a[1] })],
  [/^tried to dial %a but dialed %a$/, (a) => ({ role: 'server', what: 'unexpected-remote', addr: a[0], remote: a[1] })],
  [/^refused to dial all multiaddrs/, (a) => ({ role: 'server', what: 'refused', peer_id: a[0] })],
  [/^asking %a to verify multiaddr %s$/, (a) => ({ role: 'client', what: 'asking', server: a[0], addr: a[1] })],
  [/^autonat response from %p for %a is %s$/, (a) => ({ role: 'client', what: 'response', peer_id: a[0], addr: a[1], status: a[2] })],
  [/^%a success %d failure %d$/, (a) => ({ role: 'client', what: 'tally', addr: a[0], success: Number(a[1]), failure: Number(a[2]) })],
  [/^%s address %a is externally dialable$/, (a) => ({ role: 'client', what: 'confirmed', type: a[0], addr: a[1] })],
  [/^%s address %a is not externally dialable$/, (a) => ({ role: 'client', what: 'unconfirmed', type: a[0], addr: a[1] })]
]
const CONNECTION_LINES = [
  [/^had an existing connection to %p as %a$/, (a) => ({ role: 'server', what: 'reused', peer_id: a[0], remote: a[1] })]
]

// A logger that reports the lines above as events and forwards everything
// to js-libp2p's own (silent unless DEBUG is set).
function watchingLogger (base) {
  const wrap = (inner, lines) => {
    const check = (format, args) => {
      if (typeof format !== 'string') return
      for (const [pattern, make] of lines) {
        if (pattern.test(format)) {
          emit('autonat', make(args.map(render)))
          return
        }
      }
    }
    const log = (format, ...args) => { check(format, args); inner(format, ...args) }
    log.error = (format, ...args) => { check(format, args); inner.error(format, ...args) }
    log.trace = (format, ...args) => { check(format, args); inner.trace(format, ...args) }
    log.enabled = true
    log.newScope = (name) => wrap(inner.newScope(name), lines)
    return log
  }
  return {
    forComponent (name) {
      const inner = base.forComponent(name)
      if (name === 'libp2p:auto-nat') return wrap(inner, AUTONAT_LINES)
      if (name === 'libp2p:connection-manager') return wrap(inner, CONNECTION_LINES)
      return inner
    }
  }
}

const opts = parseArgs(process.argv.slice(2))
const node = await createLibp2p({
  privateKey: await generateKeyPair('Ed25519'),
  logger: watchingLogger(defaultLogger()),
  addresses: { listen: opts.listen },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // No startup delay: the tests dial at once and want the answer soon.
  services: { identify: identify(), ping: ping(), autoNAT: autoNAT({ startupDelay: 0 }) }
})

node.addEventListener('connection:open', (evt) => {
  const c = evt.detail
  emit('connection', { state: 'open', direction: c.direction, remote: c.remoteAddr.toString(), peer_id: c.remotePeer.toString() })
})
node.addEventListener('connection:close', (evt) => {
  const c = evt.detail
  emit('connection', { state: 'closed', direction: c.direction, remote: c.remoteAddr.toString(), peer_id: c.remotePeer.toString() })
})

function reportAddrs () {
  let verified = null
  try {
    // Not public API: the address manager's metadata says which addresses
    // AutoNAT verified; null when this js-libp2p has no such accessor.
    verified = node.components.addressManager.getAddressesWithMetadata()
      .filter((a) => a.verified).map((a) => a.multiaddr.toString())
  } catch {}
  emit('addrs', { addrs: node.getMultiaddrs().map((a) => a.toString()), verified })
}
node.addEventListener('self:peer:update', reportAddrs)

// Port 0 in --map: the port we listen on at that IP.
function listenPort (ip) {
  const addr = node.components.transportManager.getAddrs().map((a) => a.toString())
    .find((a) => a.startsWith(`/ip4/${ip}/tcp/`))
  return addr == null ? 0 : Number(addr.split('/')[4])
}
for (const [internalIp, port, externalIp] of opts.map) {
  const p = Number(port) === 0 ? listenPort(internalIp) : Number(port)
  node.components.addressManager.addPublicAddressMapping(internalIp, p, externalIp, p, 'tcp')
}
emit('listening', { peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map((a) => a.toString()) })
for (const target of opts.dial) {
  try {
    await node.dial(multiaddr(target), { signal: AbortSignal.timeout(15000) })
  } catch (err) {
    emit('error', { context: `dial ${target}`, message: err.message })
  }
}
reportAddrs()

await new Promise((resolve) => {
  process.once('SIGINT', resolve)
  process.once('SIGTERM', resolve)
})
await node.stop()
process.exit(0)

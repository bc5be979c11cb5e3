// SPDX-License-Identifier: GPL-3.0-or-later
//
// NAT lab only: makes js-libp2p count the lab's internet (198.18.0.0/15, the
// benchmarking range) as public, as Punchline does, without touching
// node_modules. Load with `node --import ./lab-public-hook.mjs …`: on the
// main thread this module registers itself as a module hook; on the hooks
// thread its `load` drops that one range from @libp2p/utils' private-ip.js
// as it loads, and its `resolve` finds the packages of tests/lab/*.mjs in
// tests/interop/node_modules (where the interop tests install them).

import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

const TARGET = '/@libp2p/utils/dist/src/private-ip.js'
const RANGE = "'198.18.0.0/15',"

if (isMainThread) register(import.meta.url)

const INTEROP = new URL('../interop/package.json', import.meta.url).href

export async function resolve (specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (err) {
    const bare = !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.includes(':')
    if (!bare || err.code !== 'ERR_MODULE_NOT_FOUND' || context.parentURL === INTEROP) throw err
    return nextResolve(specifier, { ...context, parentURL: INTEROP })
  }
}

export async function load (url, context, nextLoad) {
  const result = await nextLoad(url, context)
  if (!url.endsWith(TARGET)) return result
  const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source).toString('utf8')
  if (!source.includes(RANGE)) throw new Error(`lab-public-hook: ${RANGE} not found in ${url}`)
  return { ...result, source: source.replace(RANGE, '') }
}

// SPDX-License-Identifier: GPL-3.0-or-later
//
// Reads exact byte counts from a js-libp2p 3 stream (an async iterable of
// Uint8Array or Uint8ArrayList chunks). Shared by the js test peers.

export class ByteReader {
  constructor (stream) {
    this.iterator = stream[Symbol.asyncIterator]()
    this.chunks = []
    this.buffered = 0
  }

  async read (n) {
    while (this.buffered < n) {
      const { value, done } = await this.iterator.next()
      if (done) throw new Error(`stream ended after ${this.buffered} of ${n} bytes`)
      const chunk = value.subarray()
      this.chunks.push(chunk)
      this.buffered += chunk.byteLength
    }
    const out = new Uint8Array(n)
    let off = 0
    while (off < n) {
      const head = this.chunks[0]
      const take = Math.min(head.byteLength, n - off)
      out.set(head.subarray(0, take), off)
      off += take
      if (take === head.byteLength) this.chunks.shift()
      else this.chunks[0] = head.subarray(take)
    }
    this.buffered -= n
    return out
  }

  // Counts and discards everything up to the end of the stream; calls
  // @onFirst (optional) when the first byte arrives.
  async drain (onFirst) {
    let total = this.buffered
    if (total > 0 && onFirst != null) { onFirst(); onFirst = null }
    this.chunks = []
    this.buffered = 0
    for (;;) {
      const { value, done } = await this.iterator.next()
      if (done) return total
      if (value.byteLength > 0 && onFirst != null) { onFirst(); onFirst = null }
      total += value.byteLength
    }
  }
}

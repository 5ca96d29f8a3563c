/**
 * Top self-time functions of a V8 .cpuprofile (node --cpu-prof).
 *   node bin/run-ts.js bench/profile-top.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, from: { type: 'string', default: '0' }, to: { type: 'string', default: '1e9' } } })
const prof = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
// --from/--to: seconds since the profile started, to look at one phase only.
const self = new Map<number, number>()
let t = 0
let total = 0
const from = Number(values.from) * 1e6
const to = Number(values.to) * 1e6
const idlePerSec: number[] = []
prof.samples.forEach((id, i) => {
  const d = prof.timeDeltas[i] ?? 0
  t += d
  if (byId.get(id)!.callFrame.functionName === '(idle)') idlePerSec[Math.floor(t / 1e6)] = (idlePerSec[Math.floor(t / 1e6)] ?? 0) + d
  if (t < from || t > to) return
  total += d
  self.set(id, (self.get(id) ?? 0) + d)
})
console.log(`idle % per second: ${idlePerSec.map((x) => Math.round((x ?? 0) / 1e4)).join(' ')}`)
const agg = new Map<string, number>()
const byFile = new Map<string, number>()
for (const [id, us] of self) {
  const f = byId.get(id)!.callFrame
  const file = f.url.replace(/^file:\/\//, '').replace(/.*node_modules\//, 'nm:').replace(/.*\/main\//, '')
  const key = `${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`
  agg.set(key, (agg.get(key) ?? 0) + us)
  const pkg = file.startsWith('nm:') ? file.split('/').slice(0, file.startsWith('nm:@') ? 2 : 1).join('/') : file.startsWith('node:') || !file ? (f.functionName.startsWith('(') ? f.functionName : 'node internals') : file
  byFile.set(pkg, (byFile.get(pkg) ?? 0) + us)
}
const print = (m: Map<string, number>, n: number): void => {
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
}
console.log(`total ${(total / 1e6).toFixed(1)} s sampled\n-- by function (self time)`)
print(agg, Number(values.top))
console.log('\n-- by package / file')
print(byFile, 25)

/**
 * The longest busy stretches of the event loop in a V8 .cpuprofile (node
 * --cpu-prof), with what ran in each: finds what makes a latency tail.
 *   node bin/run-ts.js bench/long-tasks.ts FILE.cpuprofile [count=8] [from-seconds=0]
 */
import { readFileSync } from 'node:fs'
interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[]; parent?: number }
const prof = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number }
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
for (const n of prof.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id
const name = (n: Node) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(node_modules\/)?/, '')}:${n.callFrame.lineNumber}`
function stack(id: number): string[] { const out: string[] = []; let n: Node | undefined = byId.get(id); while (n) { out.push(name(n)); n = n.parent ? byId.get(n.parent) : undefined } return out }
let t = 0; let runStart = -1; let runSamples: Array<[number, number]> = []
const runs: Array<{ start: number; dur: number; samples: Array<[number, number]> }> = []
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i]!
  const n = byId.get(prof.samples[i]!)!
  const idle = n.callFrame.functionName === '(idle)'
  if (!idle) { if (runStart < 0) { runStart = t; runSamples = [] } runSamples.push([prof.samples[i]!, prof.timeDeltas[i + 1] ?? 0]) }
  else if (runStart >= 0) { runs.push({ start: runStart, dur: t - runStart, samples: runSamples }); runStart = -1 }
}
runs.sort((a, b) => b.dur - a.dur)
const from = Number(process.argv[4] ?? 0) * 1e6
for (const r of runs.filter((x) => x.start >= from).slice(0, Number(process.argv[3] ?? 8))) {
  const agg = new Map<string, number>()
  for (const [id, dt] of r.samples) { const s = stack(id); const key = s.slice(0, 1)[0] + '  <=  ' + s.slice(1, 6).filter(x => !x.startsWith('(root')).join(' < '); agg.set(key, (agg.get(key) ?? 0) + dt) }
  console.log(`\n=== busy run at ${(r.start / 1e6).toFixed(2)} s, ${(r.dur / 1000).toFixed(0)} ms`)
  for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${(v / 1000).toFixed(1).padStart(7)} ms  ${k.slice(0, 230)}`)
}

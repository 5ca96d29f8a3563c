import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DASHBOARDS } from './index.ts'

/**
 * Renders the dashboards to the JSON checked in under grafana/dashboards/.
 * Keys are sorted and the output is pretty-printed so a change to a factory
 * shows up as a small, reviewable diff; tests/dashboards checks the files
 * are up to date.
 */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../grafana/dashboards/', import.meta.url))

export interface RenderedDashboard {
  uid: string
  title: string
  file: string
  /** The dashboard model as plain JSON (what Grafana stores). */
  model: Record<string, unknown>
  json: string
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

export function renderDashboards(): RenderedDashboard[] {
  return DASHBOARDS.map((make) => {
    // The JSON round trip drops the SDK's marker methods (_implementsDataqueryVariant).
    const model = sortKeys(JSON.parse(JSON.stringify(make()))) as Record<string, unknown>
    const uid = String(model.uid)
    return { uid, title: String(model.title), file: `${uid}.json`, model, json: `${JSON.stringify(model, null, 2)}\n` }
  })
}

/** Writes every dashboard to `outDir` and removes tidewatch files no factory produces any more. */
export async function writeDashboards(outDir = DEFAULT_OUT_DIR): Promise<string[]> {
  await mkdir(outDir, { recursive: true })
  const rendered = renderDashboards()
  const keep = new Set(rendered.map((d) => d.file))
  for (const name of await readdir(outDir)) {
    if (name.startsWith('tidewatch-') && name.endsWith('.json') && !keep.has(name)) await unlink(join(outDir, name))
  }
  const written: string[] = []
  for (const d of rendered) {
    const file = join(outDir, d.file)
    await writeFile(file, d.json)
    written.push(file)
  }
  return written
}

// `npx tsx dashboards/build.ts` regenerates the checked-in JSON.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of await writeDashboards()) console.log(file)
}

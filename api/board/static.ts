import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/**
 * The board's static files, served by this server: a station's 4G link or an
 * office without internet must get the map's code from us, never a CDN.
 * Read once at start-up and kept in memory (about 160 KB).
 */
export interface StaticAsset {
  type: string
  body: Buffer
}

/**
 * OpenStreetMap's standard tiles. Their use is subject to the OSMF Tile
 * Usage Policy (https://operations.osmfoundation.org/policies/tiles/):
 * visible attribution, a valid Referer, no bulk downloads. A province board
 * with a few hundred visitors a day is within it; a heavier deployment should
 * point this at its own tile server.
 */
export const OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'
export const OSM_ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  geojson: 'application/geo+json; charset=utf-8',
}

export function staticAssets(): ReadonlyMap<string, StaticAsset> {
  const leaflet = dirname(createRequire(import.meta.url).resolve('leaflet/dist/leaflet.js'))
  const own = join(import.meta.dirname, 'static')
  const files: Array<[string, string]> = [
    ['leaflet.js', join(leaflet, 'leaflet.js')],
    ['leaflet.css', join(leaflet, 'leaflet.css')],
    ['board.js', join(own, 'board.js')],
    ['board-map.js', join(own, 'board-map.js')],
    ['ca-mau.geojson', join(own, 'ca-mau.geojson')],
  ]
  return new Map(files.map(([name, path]) => [name, { type: TYPES[name.split('.').pop()!]!, body: readFileSync(path) }]))
}

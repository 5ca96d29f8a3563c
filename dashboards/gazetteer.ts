import { z } from 'zod'

/**
 * The station gazetteer for the overview map. Grafana's Geomap "lookup"
 * location mode resolves the `station` column through a gazetteer file; this
 * writes the legacy worldmap format it accepts (`[{key, latitude,
 * longitude}]`, public/app/plugins/panel/geomap/gazetteer/worldmap.ts).
 * Coordinates come from the station registry, never from InfluxDB.
 */
export const StationLocationSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
})
export type StationLocation = z.infer<typeof StationLocationSchema>

/** Accepts a bare array or `{ stations: [...] }` (the shape of a registry export). */
export const StationListSchema = z.union([
  z.array(StationLocationSchema.loose()),
  z.object({ stations: z.array(StationLocationSchema.loose()) }).transform((o) => o.stations),
])

export interface GazetteerEntry {
  key: string
  latitude: number
  longitude: number
}

export function stationsGazetteer(stations: readonly StationLocation[]): GazetteerEntry[] {
  return [...stations]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((s) => ({ key: s.id, latitude: s.lat, longitude: s.lon }))
}

export function renderGazetteer(stations: readonly StationLocation[]): string {
  return `${JSON.stringify(stationsGazetteer(stations), null, 2)}\n`
}

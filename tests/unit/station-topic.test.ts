import { describe, expect, it } from 'vitest'
import { parseStationTopic, STATION_ID_PATTERN } from '../../core/protocol.ts'

/** The topic rule of docs/PROTOCOL.md, written the plain way, to hold the broker's fast parser to. */
function byTheBook(topic: string): { stationId: string; kind: string } | undefined {
  const parts = topic.split('/')
  if (parts.length !== 3 || parts[0] !== 'stations') return undefined
  const [, stationId, kind] = parts as [string, string, string]
  if (!STATION_ID_PATTERN.test(stationId)) return undefined
  if (!['readings', 'status', 'config', 'feedback'].includes(kind)) return undefined
  return { stationId, kind }
}

describe('station topics', () => {
  const topics = [
    'stations/cm-songdoc-01/readings', 'stations/cm_01/status', 'stations/X/config', 'stations/x/feedback',
    '', 'stations', 'stations/', 'stations//readings', 'stations/a/readings/', '/stations/a/readings', 'stations/a',
    'stations/a/b/c', 'stations/ä/readings', 'stations/a+/readings', 'stations/#', 'stations/+/readings', 'Stations/a/readings',
    'stations/a/Readings', 'stations/a/readingsx', `stations/${'a'.repeat(64)}/readings`, `stations/${'a'.repeat(65)}/readings`,
    '$SYS/stations/a/readings', 'stations/a b/readings', 'stations/a\u0000/readings',
  ]
  it.each(topics)('%j is parsed as the protocol says', (topic) => {
    expect(parseStationTopic(topic)).toEqual(byTheBook(topic))
  })
})

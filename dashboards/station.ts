import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { SENSORS } from '../core/sensors.ts'
import { alertAnnotations } from './annotations.ts'
import { LEVELS_MEASUREMENT, LEVELS_SPAN_MS } from '../levels/influx-levels.ts'
import { Layout, UNITS, baseDashboard, neutralThresholds, rssiThresholds, stationVariable, target, type Placeable } from './common.ts'
import { statPanel } from './panels/stat.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { READING, STATION, sensorWhere } from './queries.ts'

export const STATION_UID = 'tidewatch-station'

type CoreSensor = 'salinity' | 'water_level' | 'ph' | 'no2'

// No fixed bands here: each station has its own levels (station override, zone,
// BĐ1–3 per gauge; levels/book.ts), drawn as dashed series from the `levels`
// measurement that the platform keeps up to date (levels/influx-levels.ts).
const CORE: Record<CoreSensor, { unit: string; decimals: number; why: string }> = {
  salinity: { unit: UNITS.salinity, decimals: 1, why: 'dashed lines: the levels in force for the station' },
  water_level: { unit: UNITS.water_level, decimals: 0, why: 'relative to the Hon Dau datum; dashed lines: the gauge alarm levels BD1-BD3' },
  ph: { unit: UNITS.ph, decimals: 2, why: 'dashed lines: the levels in force for the station' },
  no2: { unit: UNITS.no2, decimals: 2, why: 'mg/L as the ion NO2-, not as N; dashed lines: the levels in force for the station' },
}

/**
 * The station's levels in force as series (refId L): one per level and edge
 * (an outside band has a low and a high edge), named "danger: bd3 (limit)".
 * fill(none) plus spanNulls of a little more than the writer's refresh: a
 * removed level's line ends at its last point instead of running on.
 */
function levelsTarget(sensor: CoreSensor) {
  return target(
    'L',
    `SELECT last("value") FROM "${LEVELS_MEASUREMENT}" WHERE ${sensorWhere(sensor)} AND $timeFilter GROUP BY time($__interval), "level", "edge", "severity" fill(none)`,
    { alias: '$tag_severity: $tag_level ($tag_edge)' },
  )
}

const LEVEL_LINE_STYLE = [
  {
    byQuery: 'L',
    properties: [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.lineWidth', value: 1 },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'custom.spanNulls', value: LEVELS_SPAN_MS },
      { id: 'custom.hideFrom', value: { legend: true, tooltip: false, viz: false } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } },
    ],
  },
  { byRegexp: '^danger: .*', properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'red' } }] },
]

function latest(sensor: CoreSensor): Placeable {
  const c = CORE[sensor]
  return statPanel({
    title: `${SENSORS[sensor].label} mới nhất`,
    description: `Latest ${sensor} value of the station (${c.why}).`,
    unit: c.unit,
    decimals: c.decimals,
    thresholds: neutralThresholds(),
    targets: [target('A', `SELECT last("${sensor}") FROM ${READING} WHERE ${STATION} AND $timeFilter`)],
  })
}

function history(sensor: CoreSensor): Placeable {
  const c = CORE[sensor]
  return timeseriesPanel({
    title: SENSORS[sensor].label,
    description: `${sensor} of the station, mean per interval (${c.why}).`,
    unit: c.unit,
    decimals: c.decimals,
    interval: '15m',
    overrides: LEVEL_LINE_STYLE,
    targets: [
      target(
        'A',
        `SELECT mean("${sensor}") FROM ${READING} WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`,
        { alias: '$tag_station' },
      ),
      levelsTarget(sensor),
    ],
  })
}

export function stationDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      5,
      [latest('salinity'), 4],
      [latest('water_level'), 4],
      [latest('ph'), 4],
      [latest('no2'), 4],
      [
        statPanel({
          title: 'Lần cuối gửi dữ liệu',
          description: 'Time of the latest housekeeping point (station_health) of the station.',
          unit: UNITS.fromNow,
          showTime: true,
          noValue: 'Không có dữ liệu',
          targets: [target('A', `SELECT last("battery") FROM "station_health" WHERE ${STATION} AND $timeFilter`)],
        }),
        4,
      ],
      [
        statPanel({
          title: 'Pin',
          description: 'Latest supply voltage of the station.',
          unit: UNITS.volt,
          decimals: 2,
          targets: [target('A', `SELECT last("battery") FROM "station_health" WHERE ${STATION} AND $timeFilter`)],
        }),
        4,
      ],
    )
    .row(9, [history('salinity'), 12], [history('water_level'), 12])
    .row(9, [history('ph'), 12], [history('no2'), 12])
    .row(
      8,
      [
        timeseriesPanel({
          title: 'Điện áp pin',
          description: 'Supply voltage; a steady fall means the solar panel or battery needs service.',
          unit: UNITS.volt,
          interval: '15m',
          decimals: 2,
          targets: [
            target('A', `SELECT mean("battery") FROM "station_health" WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`, {
              alias: '$tag_station',
            }),
          ],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Tín hiệu di động (RSSI)',
          description: 'Cellular signal strength; below about -105 dBm uploads start failing.',
          unit: UNITS.dBm,
          bands: rssiThresholds(),
          interval: '15m',
          targets: [
            target('A', `SELECT mean("rssi") FROM "station_health" WHERE ${STATION} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`, {
              alias: '$tag_station',
            }),
          ],
        }),
        12,
      ],
    )

  return layout
    .addTo(
      baseDashboard({
        uid: STATION_UID,
        title: 'Chi tiết trạm',
        description: 'One station: salinity, water level, pH and nitrite with the levels in force for it (dashed), battery, signal and alert annotations.',
        from: 'now-24h',
      }),
    )
    .withVariable(stationVariable({ multi: false }))
    .annotation(alertAnnotations())
    .build()
}

import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { SENSORS } from '../core/sensors.ts'
import { alertAnnotations } from './annotations.ts'
import {
  Layout,
  UNITS,
  baseDashboard,
  neutralThresholds,
  no2Thresholds,
  phThresholds,
  rssiThresholds,
  salinityThresholds,
  stationVariable,
  target,
  type Placeable,
} from './common.ts'
import { statPanel } from './panels/stat.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { STATION, sensorWhere } from './queries.ts'

export const STATION_UID = 'tidewatch-station'

type CoreSensor = 'salinity' | 'water_level' | 'ph' | 'no2'

// Water level has no fixed bands: its alarm levels (BĐ1–3) differ per gauge
// and live in the alerter's rules; crossings show up as annotations instead.
const CORE: Record<CoreSensor, { unit: string; bands: () => ReturnType<typeof neutralThresholds>; decimals: number; why: string }> = {
  salinity: { unit: UNITS.salinity, bands: salinityThresholds, decimals: 1, why: 'bands at the 2 ‰ and 4 ‰ alert levels' },
  water_level: { unit: UNITS.water_level, bands: neutralThresholds, decimals: 0, why: 'relative to the Hòn Dấu datum; alarm-level crossings are annotated' },
  ph: { unit: UNITS.ph, bands: phThresholds, decimals: 2, why: 'red outside 6.5–8.5' },
  no2: { unit: UNITS.no2, bands: no2Thresholds, decimals: 2, why: 'red from 1 mg/L' },
}

function latest(sensor: CoreSensor): Placeable {
  const c = CORE[sensor]
  return statPanel({
    title: `${SENSORS[sensor].label} mới nhất`,
    description: `Latest ${sensor} value of the station (${c.why}).`,
    unit: c.unit,
    decimals: c.decimals,
    thresholds: c.bands(),
    targets: [target('A', `SELECT last("value") FROM "reading" WHERE ${sensorWhere(sensor)} AND $timeFilter`)],
  })
}

function history(sensor: CoreSensor): Placeable {
  const c = CORE[sensor]
  return timeseriesPanel({
    title: SENSORS[sensor].label,
    description: `${sensor} of the station, mean per interval (${c.why}).`,
    unit: c.unit,
    decimals: c.decimals,
    bands: sensor === 'water_level' ? undefined : c.bands(),
    interval: '15m',
    targets: [
      target(
        'A',
        `SELECT mean("value") FROM "reading" WHERE ${sensorWhere(sensor)} AND $timeFilter GROUP BY time($__interval), "station" fill(none)`,
        { alias: '$tag_station' },
      ),
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
        description: 'One station: salinity, water level, pH and nitrite with alert levels, battery, signal and alert annotations.',
        from: 'now-24h',
      }),
    )
    .withVariable(stationVariable({ multi: false }))
    .annotation(alertAnnotations())
    .build()
}

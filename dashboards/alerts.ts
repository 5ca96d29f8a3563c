import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { alertAnnotations } from './annotations.ts'
import { Layout, UNITS, baseDashboard, stationVariable, target, thresholds } from './common.ts'
import { statPanel } from './panels/stat.ts'
import { tablePanel } from './panels/table.ts'
import { timeseriesPanel } from './panels/timeseries.ts'
import { FIRING_ALERTS, STATION } from './queries.ts'

export const ALERTS_UID = 'tidewatch-alerts'

const anyIsBad = () =>
  thresholds([
    { value: null, color: 'green' },
    { value: 1, color: 'red' },
  ])

export function alertsDashboard(): Dashboard {
  const layout = new Layout()
    .row(
      5,
      [
        statPanel({
          title: 'Cảnh báo đang hoạt động',
          description: 'Alerts whose latest state change is "firing", one per station, sensor and level (all stations).',
          unit: UNITS.count,
          noValue: '0',
          thresholds: anyIsBad(),
          targets: [target('A', `SELECT count("state") FROM (${FIRING_ALERTS}) WHERE "state" = 'firing'`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Sự cố mới',
          description: 'Transitions to "firing" in the selected range for the selected stations.',
          unit: UNITS.count,
          noValue: '0',
          targets: [target('A', `SELECT count("value") FROM "alert_event" WHERE "state" = 'firing' AND ${STATION} AND $timeFilter`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Tin nhắn đã gửi',
          description: 'Notifications submitted or delivered in the selected range, all channels.',
          unit: UNITS.count,
          noValue: '0',
          targets: [target('A', `SELECT sum("count") FROM "notification" WHERE "status" != 'failed' AND $timeFilter`)],
        }),
        6,
      ],
      [
        statPanel({
          title: 'Tin nhắn gửi lỗi',
          description: 'Notifications that failed in the selected range, all channels.',
          unit: UNITS.count,
          noValue: '0',
          thresholds: anyIsBad(),
          targets: [target('A', `SELECT sum("count") FROM "notification" WHERE "status" = 'failed' AND $timeFilter`)],
        }),
        6,
      ],
    )
    .row(
      9,
      [
        timeseriesPanel({
          title: 'Sự cố theo mức',
          description: 'Transitions to "firing" per interval by alert level.',
          unit: UNITS.count,
          interval: '1h',
          bars: true,
          stacked: true,
          targets: [
            target(
              'A',
              `SELECT count("value") FROM "alert_event" WHERE "state" = 'firing' AND ${STATION} AND $timeFilter GROUP BY time($__interval), "level" fill(none)`,
              { alias: '$tag_level' },
            ),
          ],
        }),
        12,
      ],
      [
        timeseriesPanel({
          title: 'Tin nhắn theo kênh và trạng thái',
          description: 'Notifications per interval by channel and delivery status.',
          unit: UNITS.count,
          interval: '1h',
          bars: true,
          stacked: true,
          targets: [
            target(
              'A',
              `SELECT sum("count") FROM "notification" WHERE $timeFilter GROUP BY time($__interval), "channel", "status" fill(none)`,
              { alias: '$tag_channel $tag_status' },
            ),
          ],
        }),
        12,
      ],
    )
    .row(11, [
      tablePanel({
        title: 'Lịch sử cảnh báo',
        description: 'Alert state changes (alert_event), newest first.',
        unit: UNITS.count,
        targets: [
          target(
            'A',
            `SELECT "station", "sensor", "level", "state", "value", "threshold", "incident", "text" FROM "alert_event" WHERE ${STATION} AND $timeFilter ORDER BY time DESC LIMIT 500`,
            { format: 'table' },
          ),
        ],
        columns: [
          { field: 'Time', header: 'Thời điểm' },
          { field: 'station', header: 'Trạm' },
          { field: 'sensor', header: 'Cảm biến' },
          { field: 'level', header: 'Mức' },
          { field: 'state', header: 'Trạng thái' },
          { field: 'value', header: 'Giá trị', unit: UNITS.count },
          { field: 'threshold', header: 'Ngưỡng', unit: UNITS.count },
          { field: 'incident', header: 'Sự cố' },
          { field: 'text', header: 'Nội dung' },
        ],
      }),
      24,
    ])
    .row(9, [
      tablePanel({
        title: 'Tin nhắn đã gửi',
        description: 'Notifications sent by the alerter, newest first.',
        unit: UNITS.count,
        targets: [
          target(
            'A',
            `SELECT "channel", "status", "station", "incident", "segments" FROM "notification" WHERE $timeFilter ORDER BY time DESC LIMIT 500`,
            { format: 'table' },
          ),
        ],
        columns: [
          { field: 'Time', header: 'Thời điểm' },
          { field: 'channel', header: 'Kênh' },
          { field: 'status', header: 'Trạng thái' },
          { field: 'station', header: 'Trạm' },
          { field: 'incident', header: 'Sự cố' },
          { field: 'segments', header: 'Số phần tin', unit: UNITS.count },
        ],
      }),
      24,
    ])

  return layout
    .addTo(
      baseDashboard({
        uid: ALERTS_UID,
        title: 'Cảnh báo',
        description: 'Alert history (alert_event) and notifications sent (notification).',
        from: 'now-7d',
      }),
    )
    .withVariable(stationVariable({ multi: true }))
    .annotation(alertAnnotations())
    .build()
}

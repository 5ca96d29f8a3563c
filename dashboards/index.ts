import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard'
import { alertsDashboard } from './alerts.ts'
import { dataQualityDashboard } from './data-quality.ts'
import { deviceHealthDashboard } from './device-health.ts'
import { overviewDashboard } from './overview.ts'
import { salinityDashboard } from './salinity.ts'
import { stationDashboard } from './station.ts'

/** Every tidewatch dashboard, in the order staff meet them. */
export const DASHBOARDS: ReadonlyArray<() => Dashboard> = Object.freeze([
  overviewDashboard,
  stationDashboard,
  salinityDashboard,
  deviceHealthDashboard,
  dataQualityDashboard,
  alertsDashboard,
])

/**
 * The sensor catalog: every kind a station may report, its unit and the range
 * we accept as physically plausible. Values outside are quarantined as
 * VALUE_OUT_OF_RANGE rather than stored, because a stored outlier would drive
 * farmer SMS and dashboards. Ranges are documented in docs/PROTOCOL.md.
 */
export interface SensorSpec {
  readonly kind: SensorKind
  readonly unit: string
  readonly label: string
  readonly min: number
  readonly max: number
  /** Whether a farmer-facing station must carry it (the four core parameters). */
  readonly core: boolean
  /** What a concentration is expressed as, where that is ambiguous: nitrite as the NO2⁻ ion, not as N. */
  readonly basis?: string
}

export const SENSOR_KINDS = ['salinity', 'water_level', 'ph', 'no2', 'temperature', 'conductivity'] as const
export type SensorKind = (typeof SENSOR_KINDS)[number]
export const CORE_SENSORS = ['salinity', 'water_level', 'ph', 'no2'] as const satisfies readonly SensorKind[]

export const SENSORS: Readonly<Record<SensorKind, SensorSpec>> = Object.freeze({
  // Seawater is ~35 ‰; enclosed shrimp ponds in the dry season reach low 40s.
  salinity: { kind: 'salinity', unit: '‰', label: 'Độ mặn', min: 0, max: 50, core: true },
  // Relative to the national height datum (Hòn Dấu). Cà Mau tides stay within
  // ±3 m; ±10 m leaves room for badly installed gauges without accepting garbage.
  water_level: { kind: 'water_level', unit: 'cm', label: 'Mực nước', min: -1000, max: 1000, core: true },
  // Acid-sulfate soils in the delta push pH to ~3; below 2 or above 12 is a
  // failed electrode, not water.
  ph: { kind: 'ph', unit: 'pH', label: 'pH', min: 2, max: 12, core: true },
  // Nitrite in mg/L as the NO2⁻ ion (not as N: 1 mg/L NO2⁻ = 0.304 mg/L N;
  // limits written as N are converted in levels/zones.ts). 50 is far past any real pond.
  no2: { kind: 'no2', unit: 'mg/L', label: 'Nitrit (NO2⁻)', min: 0, max: 50, core: true, basis: 'NO2⁻' },
  temperature: { kind: 'temperature', unit: '°C', label: 'Nhiệt độ nước', min: 0, max: 45, core: false },
  conductivity: { kind: 'conductivity', unit: 'mS/cm', label: 'Độ dẫn điện', min: 0, max: 80, core: false },
})

/** Station housekeeping values, stored in the station_health measurement. */
export const HEALTH_RANGES = Object.freeze({
  battery: { unit: 'V', min: 0, max: 30 },
  rssi: { unit: 'dBm', min: -150, max: 0 },
})

export function isSensorKind(value: string): value is SensorKind {
  return (SENSOR_KINDS as readonly string[]).includes(value)
}

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
  /**
   * Decimals a value is published with, in every API, CSV and page: the
   * resolution the probes actually deliver, so no reader sees
   * 16.863999999999997. Salinity needs two below 1 ‰ (drinking-water intake
   * limits are 0.25 / 0.45 ‰, levels/zones.ts); pH and nitrite two (pH
   * electrodes resolve 0.01; the QCVN 08:2023 nitrite limit is 0.164 mg/L
   * as NO2⁻); water level whole cm, as Cà Mau's bulletins state BĐ levels.
   */
  readonly decimals: number
}

export const SENSOR_KINDS = ['salinity', 'water_level', 'ph', 'no2', 'temperature', 'conductivity'] as const
export type SensorKind = (typeof SENSOR_KINDS)[number]
export const CORE_SENSORS = ['salinity', 'water_level', 'ph', 'no2'] as const satisfies readonly SensorKind[]

export const SENSORS: Readonly<Record<SensorKind, SensorSpec>> = Object.freeze({
  // Seawater is ~35 ‰; enclosed shrimp ponds in the dry season reach low 40s.
  salinity: { kind: 'salinity', unit: '‰', label: 'Độ mặn', min: 0, max: 50, core: true, decimals: 2 },
  // Relative to the national height datum (Hòn Dấu). Cà Mau tides stay within
  // ±3 m; ±10 m leaves room for badly installed gauges without accepting garbage.
  water_level: { kind: 'water_level', unit: 'cm', label: 'Mực nước', min: -1000, max: 1000, core: true, decimals: 0 },
  // Acid-sulfate soils in the delta push pH to ~3; below 2 or above 12 is a
  // failed electrode, not water.
  ph: { kind: 'ph', unit: 'pH', label: 'pH', min: 2, max: 12, core: true, decimals: 2 },
  // Nitrite in mg/L as the NO2⁻ ion (not as N: 1 mg/L NO2⁻ = 0.304 mg/L N;
  // limits written as N are converted in levels/zones.ts). 50 is far past any real pond.
  no2: { kind: 'no2', unit: 'mg/L', label: 'Nitrit (NO2⁻)', min: 0, max: 50, core: true, basis: 'NO2⁻', decimals: 2 },
  temperature: { kind: 'temperature', unit: '°C', label: 'Nhiệt độ nước', min: 0, max: 45, core: false, decimals: 1 },
  conductivity: { kind: 'conductivity', unit: 'mS/cm', label: 'Độ dẫn điện', min: 0, max: 80, core: false, decimals: 2 },
})

/** Station housekeeping values, stored in the station_health measurement. */
export const HEALTH_RANGES = Object.freeze({
  battery: { unit: 'V', min: 0, max: 30 },
  rssi: { unit: 'dBm', min: -150, max: 0 },
})

/** A value rounded to its sensor's published precision (SensorSpec.decimals); unknown kinds keep 3 decimals. */
export function roundValue(kind: string, value: number): number {
  const d = isSensorKind(kind) ? SENSORS[kind].decimals : 3
  const f = 10 ** d
  return Math.round(value * f) / f
}

/**
 * Decimals worth reading on a phone or in an SMS: salinity at or above 1 ‰
 * with one (a farmer decides at 2–4 ‰; 3,47 reads as noise), below 1 ‰ with
 * two; every other sensor at its published precision.
 */
export function shownDecimals(kind: string, value: number): number {
  if (kind === 'salinity' && Math.abs(value) >= 1) return 1
  return isSensorKind(kind) ? SENSORS[kind].decimals : 1
}

export function isSensorKind(value: string): value is SensorKind {
  return (SENSOR_KINDS as readonly string[]).includes(value)
}

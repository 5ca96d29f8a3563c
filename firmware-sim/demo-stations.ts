/**
 * Five demo stations in Cà Mau province, one per kind of site the network
 * has: both sea coasts, the Năm Căn mangrove estuary, the cape and the
 * provincial capital inland. Coordinates are approximate site locations
 * (WGS84), good enough for a map; names are in Vietnamese as farmers know
 * them. Administrative units are the pre-2025 ones (huyện / thành phố) that
 * local agencies still use in their bulletins.
 */
import type { SensorKind } from '../core/sensors.ts'
import type { AlarmLevels, Zone } from '../levels/zones.ts'
import { CONDUCTIVITY_SENSORS, SALINITY_SENSORS, type Coast, type StationProfile } from './signals.ts'

export interface DemoStation {
  readonly id: string
  readonly name: string
  /** xã / phường / thị trấn */
  readonly commune: string
  /** huyện / thành phố */
  readonly district: string
  readonly lat: number
  readonly lon: number
  readonly coast: Coast
  readonly sensors: readonly SensorKind[]
  /** What the water around the station is used for (levels/zones.ts). */
  readonly zone: Zone
  /** Short code farmers text to subscribe: DK SD01. */
  readonly code: string
  /**
   * Official alarm levels BĐ1–BĐ3 (cm) where the station stands at a gauge
   * the provincial bulletins publish them for: "Tin cảnh báo ngập lụt do
   * triều cường trên tỉnh Cà Mau", 16/12/2024 (Ban chỉ huy PCTT tỉnh Cà Mau,
   * phongchongthientaicamau.vn, column "Mức báo động (cm)").
   */
  readonly alarmLevels?: AlarmLevels
}

const STATIONS: DemoStation[] = [
  {
    id: 'cm-songdoc-01',
    name: 'Cửa sông Ông Đốc',
    commune: 'Thị trấn Sông Đốc',
    district: 'Huyện Trần Văn Thời',
    lat: 9.0408,
    lon: 104.8297,
    coast: 'west',
    sensors: SALINITY_SENSORS,
    // Shrimp and fishing port at the Ông Đốc river mouth: brackish water is the norm.
    zone: 'brackish_aquaculture',
    code: 'SD01',
    alarmLevels: { bd1: 75, bd2: 85, bd3: 95 },
  },
  {
    id: 'cm-tanthuan-01',
    name: 'Vàm Hố Gùi',
    commune: 'Xã Tân Thuận',
    district: 'Huyện Đầm Dơi',
    lat: 8.9356,
    lon: 105.3402,
    coast: 'east',
    sensors: SALINITY_SENSORS,
    // Đầm Dơi is the province's shrimp district.
    zone: 'brackish_aquaculture',
    code: 'TT01',
  },
  {
    // The conductivity station: a CTD-style probe; the ingest derives
    // salinity with PSS-78. Năm Căn water (15–30 ‰) sits well inside the
    // scale's valid 2–42 range.
    id: 'cm-namcan-01',
    name: 'Sông Cửa Lớn - Năm Căn',
    commune: 'Thị trấn Năm Căn',
    district: 'Huyện Năm Căn',
    lat: 8.7612,
    lon: 104.9935,
    coast: 'east',
    sensors: CONDUCTIVITY_SENSORS,
    // Mangrove–shrimp farming around Năm Căn.
    zone: 'brackish_aquaculture',
    code: 'NC01',
    alarmLevels: { bd1: 140, bd2: 150, bd3: 160 },
  },
  {
    id: 'cm-camau-01',
    name: 'Sông Gành Hào - Phường 8',
    commune: 'Phường 8',
    district: 'Thành phố Cà Mau',
    lat: 9.1769,
    lon: 105.1622,
    coast: 'inland',
    sensors: SALINITY_SENSORS,
    // The city canal is fresh to slightly brackish (about 1–6 ‰ over the dry
    // season): the rice fields it feeds are what salt intrusion threatens here.
    zone: 'rice',
    code: 'CM01',
    // The bulletin's "TP. Cà Mau (s. Gành Hào)" gauge.
    alarmLevels: { bd1: 65, bd2: 75, bd3: 85 },
  },
  {
    id: 'cm-datmui-01',
    name: 'Mũi Cà Mau',
    commune: 'Xã Đất Mũi',
    district: 'Huyện Ngọc Hiển',
    lat: 8.6162,
    lon: 104.7248,
    coast: 'west',
    sensors: SALINITY_SENSORS,
    // Sea water at the cape: the intrusion front is watched here, no farmer is advised from it.
    zone: 'monitoring',
    code: 'DM01',
  },
]

export const DEMO_STATIONS: readonly DemoStation[] = Object.freeze(STATIONS.map((s) => Object.freeze(s)))

export function demoStation(id: string): DemoStation | undefined {
  return DEMO_STATIONS.find((s) => s.id === id)
}

/** The signal profile of a demo station. */
export function demoProfile(station: DemoStation): StationProfile {
  return { id: station.id, coast: station.coast, sensors: station.sensors }
}

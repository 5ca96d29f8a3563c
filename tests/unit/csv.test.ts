import { describe, expect, it } from 'vitest'
import { detectDelimiter, parseCsvRows } from '../../core/csv.ts'

describe('core/csv', () => {
  it('reads comma and semicolon files the same way: quotes, doubled quotes, CRLF, BOM, blank lines', () => {
    const comma = '\uFEFFid,name,lat\r\ncm-01,"Kênh ""Xáng"", Cà Mau",9.18\r\n\r\ncm-02,Năm Căn,8.76\n'
    const semi = '\uFEFFid;name;lat\r\ncm-01;"Kênh ""Xáng""; Cà Mau";9,18\r\n\r\ncm-02;Năm Căn;8,76\n'
    expect(parseCsvRows(comma, detectDelimiter(comma)).rows).toEqual([['id', 'name', 'lat'], ['cm-01', 'Kênh "Xáng", Cà Mau', '9.18'], ['cm-02', 'Năm Căn', '8.76']])
    expect(parseCsvRows(semi, detectDelimiter(semi)).rows).toEqual([['id', 'name', 'lat'], ['cm-01', 'Kênh "Xáng"; Cà Mau', '9,18'], ['cm-02', 'Năm Căn', '8,76']])
  })
  it('says when a quoted field is left open, and stops reading past the row cap', () => {
    expect(parseCsvRows('a,b\n"open,1', ',').unclosedQuote).toBe(true)
    expect(parseCsvRows('a\n1\n2\n3\n4\n', ',', 2).rows).toHaveLength(3)
  })
})

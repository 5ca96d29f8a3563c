/*
 * The board's map (progressive enhancement: without this script the list
 * is the board). Leaflet 1.9 with OpenStreetMap tiles; the stations come from
 * the list itself (data-lat/lon/level on each row), so the page carries them
 * once. Under the markers lies an approximate outline of the province
 * (ca-mau.geojson), so when tiles cannot load (a station's 4G link, an office
 * offline, a blocked host) every station is still placed and coloured.
 */
;(function () {
  'use strict'
  var box = document.getElementById('map')
  var board = document.getElementById('board')
  if (!box || !board || !window.L) return
  var L = window.L
  // Marker fills, the badge colours of the list (html.ts); the list's text labels say the same in words.
  var COLORS = { danger: '#b3261e', warning: '#d4a72c', ok: '#1a7f37', unrated: '#0b57a8', none: '#8c959f' }
  var css = document.createElement('link')
  css.rel = 'stylesheet'
  css.href = '/static/leaflet.css'
  document.head.appendChild(css)
  box.hidden = false
  board.classList.add('has-map')

  // On a phone one finger scrolls the page, not the map (two fingers zoom); the zoom buttons speak the page's language.
  var map = L.map(box, { zoomSnap: 0.25, dragging: !L.Browser.mobile, tap: false, scrollWheelZoom: false, zoomControl: false })
  var zoom = (box.getAttribute('data-zoom') || 'Zoom in|Zoom out').split('|')
  L.control.zoom({ zoomInTitle: zoom[0], zoomOutTitle: zoom[1] }).addTo(map)
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>')
  // The outline is approximate (static/ca-mau.geojson): said where the map's sources are.
  map.attributionControl.addAttribution(box.getAttribute('data-note') || '')
  map.createPane('outline').style.zIndex = 350
  var tiles = L.tileLayer(box.getAttribute('data-tiles'), { maxZoom: 17, attribution: box.getAttribute('data-attribution') })
  var failed = 0
  tiles.on('tileerror', function () {
    if (++failed === 1) box.classList.add('no-tiles')
    if (outline) outline.setStyle({ fillOpacity: 1 })
  })
  tiles.addTo(map)

  var outline = null
  var markers = {}
  var bounds = L.latLngBounds([[8.55, 104.7], [9.65, 105.86]])
  map.fitBounds(bounds)

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('#stations tbody tr[data-lat]'))
  }

  function popup(row) {
    var div = document.createElement('div')
    var a = row.querySelector('a').cloneNode(true)
    var b = document.createElement('b')
    b.appendChild(a)
    div.appendChild(b)
    var cell = row.querySelector('td.num')
    if (cell) {
      var p = document.createElement('div')
      p.textContent = cell.innerText.replace(/\s+/g, ' ').trim()
      div.appendChild(p)
    }
    return div
  }

  function draw() {
    var list = rows()
    // Least severe first, so dangerous stations are drawn on top.
    for (var i = list.length - 1; i >= 0; i--) {
      var row = list[i]
      var id = row.getAttribute('data-station')
      var level = row.getAttribute('data-level') || 'none'
      var m = markers[id]
      if (!m) {
        var ll = L.latLng(Number(row.getAttribute('data-lat')), Number(row.getAttribute('data-lon')))
        m = markers[id] = L.circleMarker(ll, { radius: 9, color: '#fff', weight: 2, fillOpacity: 1 }).addTo(map)
        m.bindTooltip(row.querySelector('a').textContent)
        bounds.extend(ll)
      }
      m.setStyle({ fillColor: COLORS[level] || COLORS.none })
      m.bindPopup(popup(row))
      m.bringToFront()
      var el = m.getElement()
      if (el) {
        el.setAttribute('data-station', id)
        el.setAttribute('data-level', level)
      }
    }
  }

  // A one-line legend at the top, out of the way of the markers; the words are the list's (data-legend).
  var legend = L.control({ position: 'topright' })
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'legend')
    var names = JSON.parse(box.getAttribute('data-legend') || '{}')
    Object.keys(names).forEach(function (k) {
      var item = document.createElement('span')
      var dot = document.createElement('span')
      dot.className = 'dot'
      dot.style.background = COLORS[k]
      item.appendChild(dot)
      item.appendChild(document.createTextNode(' ' + names[k]))
      div.appendChild(item)
    })
    return div
  }
  legend.addTo(map)

  draw()
  map.fitBounds(bounds, { padding: [8, 8] })
  fetch('/static/ca-mau.geojson')
    .then(function (r) {
      return r.json()
    })
    .then(function (geo) {
      outline = L.geoJSON(geo, { pane: 'outline', interactive: false, style: { color: '#57606a', weight: 1.5, fillColor: '#fdfcf7', fillOpacity: failed ? 1 : 0.15 } }).addTo(map)
    })
    .catch(function () {})
  document.addEventListener('board:updated', draw)
  window.addEventListener('resize', function () {
    map.invalidateSize()
  })
})()

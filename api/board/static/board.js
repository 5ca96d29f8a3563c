/*
 * The board's small script (progressive enhancement; every page works
 * without it):
 *  - the list refreshes itself once a minute with one small request
 *    (/board.json, answered 304 while nothing changed), without reloading;
 *  - a tap or hover on a chart shows the value of the nearest point (each
 *    point's <title> already shows it on hover without any script).
 */
;(function () {
  'use strict'
  var REFRESH_MS = 60000 // stations report every 5–15 min (shared FIELD-NOTES); a minute is news enough.
  var board = document.getElementById('board')
  if (board && window.fetch) {
    var url = board.getAttribute('data-json')
    var busy = false
    var refresh = function () {
      if (busy || document.hidden) return
      busy = true
      fetch(url, { cache: 'no-cache', headers: { accept: 'application/json' } })
        .then(function (r) {
          return r.ok ? r.json() : null
        })
        .then(function (data) {
          if (!data) return
          var body = document.querySelector('#stations tbody')
          data.stations.forEach(function (s) {
            var row = body.querySelector('tr[data-station="' + CSS.escape(s.id) + '"]')
            if (!row) return
            row.className = 'row-' + s.level
            row.setAttribute('data-level', s.level)
            var cell = row.querySelector('td.num')
            if (cell.innerHTML !== s.cell) cell.innerHTML = s.cell
            body.appendChild(row) // in the server's order: dangerous first
          })
          var summary = document.getElementById('summary')
          if (summary && data.summary) summary.textContent = data.summary
          board.setAttribute('data-updated', data.now)
          document.dispatchEvent(new CustomEvent('board:updated'))
        })
        .catch(function () {})
        .then(function () {
          busy = false
        })
    }
    setInterval(refresh, REFRESH_MS)
    document.addEventListener('visibilitychange', refresh)
    window.tidewatchRefresh = refresh
  }

  var tip = null
  function show(rect) {
    var section = rect.closest('.param')
    var title = rect.querySelector('title')
    if (!section || !title) return
    if (!tip) {
      tip = document.createElement('div')
      tip.className = 'tip'
      tip.setAttribute('role', 'status')
    }
    var prev = document.querySelector('.hit rect.on')
    if (prev) prev.classList.remove('on')
    rect.classList.add('on')
    tip.textContent = title.textContent
    section.appendChild(tip)
    var r = rect.getBoundingClientRect()
    var s = section.getBoundingClientRect()
    var x = r.left + r.width / 2 - s.left
    tip.style.top = r.top - s.top - 4 + 'px'
    tip.style.left = Math.max(0, Math.min(x - tip.offsetWidth / 2, s.width - tip.offsetWidth)) + 'px'
  }
  document.addEventListener('pointerover', function (e) {
    if (e.target.closest && e.target.closest('.hit rect')) show(e.target.closest('.hit rect'))
  })
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('.hit rect')) show(e.target.closest('.hit rect'))
  })
})()

// ecsd console: what a little script adds to pages that work without it. Times in the
// browser's time zone (UTC stays on hover), date-time inputs read in that zone, select all,
// a countdown to each scheduled release, the release form showing only what applies, and
// menus that close with Escape or a click elsewhere.
(function () {
  'use strict';

  var pad = function (n) { return String(n).padStart(2, '0'); };

  function zoneName(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === 'timeZoneName') return parts[i].value;
      }
    } catch (e) { /* an old browser: no zone name */ }
    return '';
  }

  function localText(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ' ' + zoneName(d);
  }

  function localInput(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  // Times: shown in the browser's zone; the UTC text the page came with stays as the title.
  document.querySelectorAll('time.t[datetime]').forEach(function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (isNaN(d.getTime())) return;
    el.title = el.textContent.trim();
    el.textContent = localText(d).trim();
  });

  // Date-time inputs arrive in UTC; show them in the browser's zone, and tell the server the
  // zone's offset for the value sent (the offset of that date, daylight saving included).
  document.querySelectorAll('input[type="datetime-local"][data-utc]').forEach(function (input) {
    var iso = input.getAttribute('data-utc');
    if (!iso) return;
    var d = new Date(iso);
    if (!isNaN(d.getTime())) input.value = localInput(d);
  });
  document.querySelectorAll('[data-tz]').forEach(function (el) {
    el.textContent = '(' + (zoneName(new Date()) || 'your time zone') + ')';
  });
  document.querySelectorAll('form').forEach(function (form) {
    var offset = form.querySelector('input[data-tz-offset]');
    if (!offset) return;
    form.addEventListener('submit', function () {
      var input = form.querySelector('input[type="datetime-local"]');
      // A date-time without an offset is local time (ECMAScript).
      var d = input && input.value ? new Date(input.value) : new Date();
      offset.value = isNaN(d.getTime()) ? '' : String(-d.getTimezoneOffset());
    });
  });

  // Select all, with a live count of the selection.
  var all = document.getElementById('select-all');
  var selection = document.getElementById('selection');
  if (all && selection) {
    var count = document.getElementById('selected-count');
    var boxes = function () {
      return Array.prototype.slice.call(selection.querySelectorAll('tbody input[name="id"]'));
    };
    var update = function () {
      var b = boxes();
      var n = b.filter(function (x) { return x.checked; }).length;
      all.checked = n > 0 && n === b.length;
      all.indeterminate = n > 0 && n < b.length;
      if (count) count.textContent = n ? n + ' selected' : '';
    };
    all.hidden = boxes().length === 0;
    all.addEventListener('change', function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      update();
    });
    selection.addEventListener('change', function (e) {
      if (e.target && e.target.name === 'id') update();
    });
    update();
  }

  // Countdown to each scheduled release, from the cloud's time (a virtual clock stands still
  // until it is advanced; a real one runs).
  var body = document.body;
  var cloudIso = body.getAttribute('data-now');
  var realClock = body.getAttribute('data-clock') === 'real';
  var base = cloudIso ? new Date(cloudIso).getTime() : Date.now();
  var loaded = Date.now();
  var cloudNow = function () { return realClock ? base + (Date.now() - loaded) : base; };
  var span = function (ms) {
    if (ms <= 0) return 'due now';
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return 'in ' + d + ' d ' + h + ' h';
    if (h > 0) return 'in ' + h + ' h ' + m + ' min';
    if (m > 0) return 'in ' + m + ' min' + (realClock ? ' ' + sec + ' s' : '');
    return 'in ' + sec + ' s';
  };
  var countdowns = document.querySelectorAll('[data-countdown]');
  var tick = function () {
    countdowns.forEach(function (el) {
      el.textContent = span(new Date(el.getAttribute('data-countdown')).getTime() - cloudNow());
    });
  };
  if (countdowns.length) {
    tick();
    if (realClock) setInterval(tick, 1000);
  }

  // Release form: the scheduled part applies to scheduled release only; the time, to the
  // switch being on.
  var release = document.querySelector('form.release-form');
  if (release) {
    var scheduled = release.querySelector('#scheduled');
    var auto = release.querySelector('#auto');
    var at = release.querySelector('#at');
    var sync = function () {
      var now = release.querySelector('input[name="mode"][value="now"]').checked;
      scheduled.disabled = now;
      var nowHint = document.getElementById('now-hint');
      if (nowHint) nowHint.hidden = !now;
      at.disabled = now || !auto.checked;
      at.required = !now && auto.checked;
    };
    release.addEventListener('change', sync);
    sync();
  }

  // Menus: one open at a time; Escape or a click elsewhere closes them.
  var menus = function () { return document.querySelectorAll('details.menu[open]'); };
  document.addEventListener('click', function (e) {
    menus().forEach(function (d) { if (!d.contains(e.target)) d.open = false; });
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Escape') return;
    menus().forEach(function (d) {
      d.open = false;
      var summary = d.querySelector('summary');
      if (summary && d.contains(document.activeElement)) summary.focus();
    });
  });
  document.querySelectorAll('details.menu').forEach(function (d) {
    d.addEventListener('toggle', function () {
      if (!d.open) return;
      document.querySelectorAll('details.menu[open]').forEach(function (o) { if (o !== d) o.open = false; });
    });
  });
})();

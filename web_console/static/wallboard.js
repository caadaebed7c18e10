// The wallboard refreshes itself: counts from /wallboard/data every few seconds, waits
// ticking every second in between. The TV's token (if any) goes with each request.
(function () {
  "use strict";
  var REFRESH_MS = 3000;
  var token = new URLSearchParams(window.location.search).get("token");
  var url = "/wallboard/data" + (token ? "?token=" + encodeURIComponent(token) : "");
  var fetchedAt = Date.now();

  function wait(seconds) {
    var s = Math.max(0, Math.round(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  function percent(value) { return value === null ? "\u2014" : Math.round(value) + "%"; }
  function text(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }

  function queueRow(q) {
    var tr = document.createElement("tr");
    tr.dataset.queue = q.name;
    var cells = [q.description, String(q.waiting), "", percent(q.service_level)];
    cells.forEach(function (value, i) {
      var cell = document.createElement(i === 0 ? "th" : "td");
      cell.textContent = value;
      if (i === 0) cell.scope = "row";
      if (i === 1) cell.className = "waiting";
      if (i === 2) { cell.className = "longest"; cell.dataset.seconds = q.waiting ? q.longest_wait_seconds : ""; }
      if (i === 3) cell.className = "sl";
      tr.appendChild(cell);
    });
    return tr;
  }

  function show(board) {
    fetchedAt = Date.now();
    text("wb-waiting", String(board.waiting));
    document.getElementById("tile-waiting").classList.toggle("alert", board.waiting > 0);
    document.getElementById("wb-longest").dataset.seconds = board.longest_wait_seconds;
    text("wb-sl", percent(board.service_level));
    text("wb-answered", String(board.answered));
    text("wb-abandoned", String(board.abandoned));
    text("wb-tasks-open", String(board.tasks.open));
    var overdue = document.getElementById("wb-tasks-overdue");
    overdue.textContent = String(board.tasks.overdue);
    overdue.classList.toggle("late", board.tasks.overdue > 0);
    var agents = document.getElementById("wb-agents");
    board.agents.forEach(function (a) {
      var li = agents.querySelector('[data-state="' + a.state + '"] .count');
      if (li) li.textContent = String(a.count);
    });
    var body = document.querySelector("#wb-queues tbody");
    body.replaceChildren.apply(body, board.queues.map(queueRow));
    tick();
    var status = document.getElementById("wb-status");
    status.classList.remove("stale");
    status.textContent = "Live \u00b7 updated " + new Date().toLocaleTimeString("en-GB", {
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: document.body.dataset.tz
    });
  }

  function tick() {
    var gone = (Date.now() - fetchedAt) / 1000;
    document.querySelectorAll("[data-seconds]").forEach(function (el) {
      if (el.dataset.seconds === "") { el.textContent = "\u2014"; return; }
      var base = Number(el.dataset.seconds);
      el.textContent = el.id === "wb-longest" && base === 0 ? wait(0) : wait(base + gone);
    });
  }

  function refresh() {
    fetch(url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(show)
      .catch(function () {
        var status = document.getElementById("wb-status");
        status.classList.add("stale");
        status.textContent = "Not updating: the server does not answer";
      });
  }
  setInterval(refresh, REFRESH_MS);
  setInterval(tick, 1000);
})();

// The supervisor board: live queues, agents and today's chart over the /ws websocket.
// Plain JavaScript, no build step. The server sends the whole board ({type: "board"}) on every
// (re)connect and after each change, so reconnecting is the whole resync.
"use strict";

(() => {
  const root = document.getElementById("board");
  if (!root) {
    return;
  }
  const link = document.getElementById("board-link");
  // Only set for roles the monitor endpoint accepts (supervisor, admin).
  const monitorUrl = root.dataset.monitor || "";
  const MONITOR_MODES = [
    ["listen", "Listen", "Hear the call; neither side hears you"],
    ["whisper", "Whisper", "Speak to the agent only; the caller does not hear you"],
    ["barge", "Barge", "Join the call; both sides hear you"],
  ];
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_BACKOFF_MS = 15000;
  let board = null;
  let shownAgents = []; // the agents' rows as drawn (sorted)
  let skewMs = 0; // server clock minus this browser's clock
  let socket = null;
  let backoffMs = 500;
  let retry = null;

  const nowS = () => (Date.now() + skewMs) / 1000;
  const T = window.consoleTime; // the console's one time format, in the hospital's zone
  const label = window.consoleLabel; // readable labels for codes

  const duration = (sinceS) => {
    if (sinceS === null || sinceS === undefined) {
      return "–";
    }
    const total = Math.max(0, Math.floor(nowS() - sinceS));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  };

  // A number of seconds as "m:ss" (or "h:mm:ss").
  const clock = (seconds) => {
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  };

  // -- thresholds: what needs the supervisor's attention ----------------------------------------

  // [level, column, words] for each threshold a queue is past (levels: "warn", "alert").
  const troubles = (q) => {
    const a = q.alerts || {};
    const found = [];
    const wait = q.longest_wait_since === null || q.longest_wait_since === undefined ? 0 : nowS() - q.longest_wait_since;
    if (q.waiting && wait >= a.longest_wait_alert_seconds) {
      found.push(["alert", "longest", `a caller has waited ${clock(wait)}`]);
    } else if (q.waiting && wait >= a.longest_wait_warn_seconds) {
      found.push(["warn", "longest", `a caller has waited ${clock(wait)}`]);
    }
    if (q.service_level !== null && q.service_level < a.service_level_alert_percent) {
      found.push(["alert", "sl", `service level ${q.service_level}% (target ${a.service_level_warn_percent}%)`]);
    } else if (q.service_level !== null && q.service_level < a.service_level_warn_percent) {
      found.push(["warn", "sl", `service level ${q.service_level}% (target ${a.service_level_warn_percent}%)`]);
    }
    if (a.nobody_ready && q.available === 0) {
      const waiting = q.waiting === 1 ? "1 caller waits" : `${q.waiting} callers wait`;
      found.push(q.waiting ? ["alert", "members", `nobody ready while ${waiting}`] : ["warn", "members", "nobody ready"]);
    }
    return found;
  };

  // Announced once when a queue crosses a threshold (or gets worse), not every second.
  const announced = new Map();
  const announce = () => {
    const fresh = [];
    const seen = new Set();
    board.queues.forEach((q) => {
      troubles(q).forEach(([level, column, words]) => {
        const key = `${q.name}:${column}`;
        seen.add(key);
        if (announced.get(key) !== level && !(announced.get(key) === "alert" && level === "warn")) {
          fresh.push(`${label(q.name)}: ${words}${level === "alert" ? " (urgent)" : ""}.`);
        }
        announced.set(key, level === "warn" && announced.get(key) === "alert" ? "alert" : level);
      });
    });
    [...announced.keys()].filter((key) => !seen.has(key)).forEach((key) => announced.delete(key));
    if (fresh.length) {
      document.getElementById("board-alerts").textContent = fresh.join(" ");
    }
  };

  // -- sorting ----------------------------------------------------------------------------------

  const sorting = { "board-queues": { key: "name", dir: 1 }, "board-agents": { key: "name", dir: 1 } };
  const since = (at) => (at === null || at === undefined ? -1 : nowS() - at);
  const SORT_KEYS = {
    "board-queues": {
      name: (q) => label(q.name).toLowerCase(),
      waiting: (q) => q.waiting,
      longest: (q) => since(q.longest_wait_since),
      answered: (q) => q.answered,
      abandoned: (q) => q.abandoned,
      sl: (q) => (q.service_level === null ? 101 : q.service_level),
      available: (q) => q.available,
    },
    "board-agents": {
      name: (a) => a.name.toLowerCase(),
      state: (a) => label(a.state),
      for: (a) => since(a.since),
      queues: (a) => a.queues.map(label).join(", "),
      call: (a) => callText(a),
      handled: (a) => a.handled || 0,
      aht: (a) => (a.average_handle_seconds === null || a.average_handle_seconds === undefined ? -1 : a.average_handle_seconds),
    },
  };
  const sorted = (tableId, rows) => {
    const { key, dir } = sorting[tableId];
    const of = SORT_KEYS[tableId][key];
    return [...rows].sort((x, y) => {
      const a = of(x);
      const b = of(y);
      return (a < b ? -1 : a > b ? 1 : 0) * dir;
    });
  };
  // Each sortable heading becomes a button; aria-sort says the order to screen readers.
  const wireSorting = () => {
    Object.keys(sorting).forEach((tableId) => {
      document.querySelectorAll(`#${tableId} th[data-sort]`).forEach((th) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.append(...th.childNodes);
        th.append(button);
        button.addEventListener("click", () => {
          const now = sorting[tableId];
          sorting[tableId] = { key: th.dataset.sort, dir: now.key === th.dataset.sort ? -now.dir : 1 };
          showSorting(tableId);
          render();
        });
      });
      showSorting(tableId);
    });
  };
  const showSorting = (tableId) => {
    const { key, dir } = sorting[tableId];
    document.querySelectorAll(`#${tableId} th[data-sort]`).forEach((th) => {
      if (th.dataset.sort === key) {
        th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
  };

  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    return td;
  };

  const renderQueues = () => {
    const body = document.querySelector("#board-queues tbody");
    body.replaceChildren(
      ...sorted("board-queues", board.queues).map((q) => {
        const tr = document.createElement("tr");
        tr.dataset.queue = q.name;
        const name = cell(label(q.name));
        name.title = q.description;
        const sl = q.service_level === null ? "–" : `${q.service_level}%`;
        const found = troubles(q);
        const trouble = cell(found.map(([, , words]) => words).join("; ") || "–", "trouble");
        tr.append(
          name,
          cell(String(q.waiting), "waiting"),
          cell(duration(q.longest_wait_since), "longest"),
          cell(String(q.answered), "answered"),
          cell(String(q.abandoned), "abandoned"),
          cell(`${sl} in ${q.service_level_seconds}s`, "sl"),
          cell(`${q.members} (${q.available})`, "members"),
          trouble,
        );
        // Colour, and words in the last column: the flag is never the colour alone.
        found.forEach(([level, column]) => tr.querySelector(`td.${column}`).classList.add(`level-${level}`));
        const worst = found.some(([level]) => level === "alert") ? "alert" : found.length ? "warn" : "ok";
        tr.dataset.level = worst;
        trouble.classList.add(`level-${worst}`);
        return tr;
      }),
    );
    announce();
  };

  // What the last monitor request of each agent's row said, by interface. Kept apart from the
  // rows (which every board push redraws) and dropped once that call is no longer on the row.
  const monitorNotes = new Map();

  // What the agent's call is, beyond the state column: the queue, how long it has gone on, how
  // long the caller waited first; in wrap-up, the call it is about.
  const callText = (agent) => {
    const call = agent.call;
    const queueOf = (name) => (name ? `${label(name)} queue` : "direct call");
    if (call && call.state === "ringing") {
      return `${queueOf(call.queue)} call ringing for ${duration(call.since)}`;
    }
    if (call) {
      const waited = call.waited_seconds === null || call.waited_seconds === undefined ? "" : `caller waited ${clock(call.waited_seconds)}`;
      return [queueOf(call.queue), `talking ${duration(call.since)}`, waited].filter(Boolean).join(" · ");
    }
    if (agent.state === "wrap_up" && agent.last_call) {
      return `after a ${clock(agent.last_call.talk_seconds)} ${queueOf(agent.last_call.queue)} call · disposition not saved yet`;
    }
    return "–";
  };

  // Past the configured wrap-up limit: flagged in the state cell.
  const overdue = (a) => a.state === "wrap_up" && board.wrapup_max_seconds && nowS() - a.since > board.wrapup_max_seconds;
  const stateText = (a) => {
    const base = a.paused_reason ? `${label(a.state)}: ${label(a.paused_reason)}` : label(a.state);
    return overdue(a) ? `${base} (over ${clock(board.wrapup_max_seconds)})` : base;
  };

  const csrfToken = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // The API's error body is {error, message, field}; a field error's message starts with the
  // field's name ("extension: your user has no ..."), which says nothing to a supervisor.
  const serverMessage = (data, status) => {
    const message = typeof data.message === "string" ? data.message : "";
    if (!message) {
      return `Monitoring failed (HTTP ${status}).`;
    }
    const prefix = data.field ? `${data.field}: ` : "";
    return prefix && message.startsWith(prefix) ? message.slice(prefix.length) : message;
  };

  // Asks the server to ring the supervisor's own phone into ChanSpy on the agent's call.
  const startMonitor = async (agent, mode) => {
    const linkedid = agent.call.linkedid;
    monitorNotes.set(agent.interface, { linkedid, state: "pending", text: "Calling…" });
    renderAgents();
    let note;
    try {
      const response = await fetch(monitorUrl, {
        method: "POST",
        body: new URLSearchParams({ linkedid, mode }),
        headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
        credentials: "same-origin",
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        const where = data.extension ? ` (extension ${data.extension})` : "";
        note = { state: "ok", text: `Ringing your phone${where}…` };
      } else {
        note = { state: "error", text: serverMessage(data, response.status) };
      }
    } catch (error) {
      note = { state: "error", text: "Monitoring failed: the server could not be reached." };
    }
    monitorNotes.set(agent.interface, { linkedid, mode, ...note });
    const status = document.getElementById("board-monitor-status");
    status.dataset.state = note.state;
    status.textContent = `${agent.name}: ${note.text}`;
    renderAgents();
  };

  const monitorCell = (agent) => {
    const td = document.createElement("td");
    td.className = "monitor";
    const note = monitorNotes.get(agent.interface);
    // Only a call the agent has answered can be spied on; a ringing phone has nothing to hear.
    if (monitorUrl && agent.call && agent.call.state === "on_call") {
      for (const [mode, label, title] of MONITOR_MODES) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = `monitor-${mode}`;
        button.dataset.mode = mode;
        button.textContent = label;
        button.title = title;
        button.disabled = Boolean(note && note.state === "pending");
        button.addEventListener("click", () => startMonitor(agent, mode));
        td.append(button);
      }
    }
    if (note) {
      const result = document.createElement("span");
      result.className = `monitor-result ${note.state}`;
      result.setAttribute("role", "status");
      result.textContent = note.text;
      td.append(result);
    }
    return td;
  };

  const renderAgents = () => {
    const body = document.querySelector("#board-agents tbody");
    // A row's note lasts as long as its call (the status line below keeps the last one).
    for (const [where, note] of monitorNotes) {
      const agent = board.agents.find((a) => a.interface === where);
      if (!agent || !agent.call || agent.call.linkedid !== note.linkedid) {
        monitorNotes.delete(where);
      }
    }
    shownAgents = sorted("board-agents", board.agents);
    body.replaceChildren(
      ...shownAgents.map((a) => {
        const tr = document.createElement("tr");
        tr.dataset.interface = a.interface;
        if (a.call) {
          tr.dataset.linkedid = a.call.linkedid;
        }
        const state = document.createElement("span");
        state.className = `state ${a.state}`;
        state.classList.toggle("overdue", Boolean(overdue(a)));
        state.textContent = stateText(a);
        const stateCell = document.createElement("td");
        stateCell.append(state);
        // Agents by name and login (the login only when the desk knows it and it differs).
        const who = cell(a.name);
        if (a.username && a.username !== a.name) {
          const login = document.createElement("span");
          login.className = "login";
          login.textContent = ` (${a.username})`;
          who.append(login);
        }
        tr.append(
          who,
          stateCell,
          cell(duration(a.since), "for"),
          cell(a.queues.map(label).join(", ")),
          cell(callText(a), "call"),
          cell(String(a.handled || 0), "handled"),
          cell(a.average_handle_seconds === null || a.average_handle_seconds === undefined ? "–" : clock(a.average_handle_seconds), "aht"),
          monitorCell(a),
        );
        return tr;
      }),
    );
    document.getElementById("board-agents-empty").hidden = board.agents.length > 0;
  };

  // The clock only moves the durations: the rows (and the buttons in them) stay, so a click is
  // not lost to a once-a-second redraw between the press and the release.
  const tickAgents = () => {
    const rows = document.querySelectorAll("#board-agents tbody tr");
    shownAgents.forEach((a, i) => {
      const row = rows[i];
      if (row && row.dataset.interface === a.interface) {
        row.querySelector("td.for").textContent = duration(a.since);
        row.querySelector("td.call").textContent = callText(a);
        const state = row.querySelector(".state");
        state.classList.toggle("overdue", Boolean(overdue(a)));
        state.textContent = stateText(a);
      }
    });
  };

  const svg = (name, attrs, text) => {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs)) {
      node.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  };

  // 24 hourly bars: calls, with the abandoned part drawn over them in red.
  const renderChart = () => {
    const chart = document.getElementById("board-chart");
    const hours = new Map(board.hours.map((h) => [h.hour, h]));
    const peak = Math.max(1, ...board.hours.map((h) => h.calls));
    const width = 480 / 24;
    const top = 14;
    const height = 160 - top - 14;
    const zone = T.abbreviation();
    const nodes = [svg("text", { x: 2, y: 10 }, `max ${peak} calls/hour · hours in ${zone}`)];
    for (let hour = 0; hour < 24; hour += 1) {
      const h = hours.get(hour) || { calls: 0, abandoned: 0 };
      const x = hour * width + 2;
      const callsH = (h.calls / peak) * height;
      const lostH = (h.abandoned / peak) * height;
      const bar = svg("rect", {
        class: "bar-calls", x, y: top + height - callsH, width: width - 4, height: callsH,
        "data-hour": hour, "data-calls": h.calls, "data-abandoned": h.abandoned,
      });
      const from = `${String(hour).padStart(2, "0")}:00`;
      const to = `${String((hour + 1) % 24).padStart(2, "0")}:00`;
      bar.append(svg("title", {}, `${from}–${to} ${zone}: ${h.calls} calls, ${h.abandoned} abandoned`));
      nodes.push(bar);
      if (lostH > 0) {
        nodes.push(svg("rect", {
          class: "bar-abandoned", x, y: top + height - lostH, width: width - 4, height: lostH,
        }));
      }
      if (hour % 3 === 0) {
        nodes.push(svg("text", { x, y: 158 }, `${String(hour).padStart(2, "0")}:00`));
      }
    }
    chart.replaceChildren(...nodes);
  };

  // Each cell carries its column's heading: on a phone the rows stack as labelled cards.
  const labelCells = () => {
    ["board-queues", "board-agents"].forEach((tableId) => {
      const headings = [...document.querySelectorAll(`#${tableId} thead th`)].map((th) => th.textContent.trim());
      document.querySelectorAll(`#${tableId} tbody tr`).forEach((tr) => {
        [...tr.children].forEach((td, i) => {
          td.dataset.label = headings[i] || "";
        });
      });
    });
  };

  const render = () => {
    if (!board) {
      return;
    }
    document.getElementById("board-day").textContent = T.date(board.day);
    renderQueues();
    renderAgents();
    renderChart();
    labelCells();
  };

  const setLink = (state, text) => {
    link.dataset.state = state;
    link.textContent = text;
  };

  const schedule = () => {
    if (retry !== null) {
      return;
    }
    // Exponential backoff with jitter, so a restarted server is not hit by every board at once.
    const wait = backoffMs * (0.5 + Math.random());
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
    setLink("closed", `reconnecting in ${Math.round(wait / 1000)} s`);
    retry = setTimeout(() => {
      retry = null;
      connect();
    }, wait);
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.ws}`);
    setLink("connecting", "connecting…");
    socket.addEventListener("open", () => {
      backoffMs = 500;
      setLink("open", "live");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "board") {
        board = message.board;
        skewMs = board.at * 1000 - Date.now();
        root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
        render();
      }
    });
    socket.addEventListener("close", () => {
      socket = null;
      schedule();
    });
  };

  wireSorting();
  // A tab brought back to the front reconnects at once instead of waiting out the backoff.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && socket === null) {
      clearTimeout(retry);
      retry = null;
      backoffMs = 500;
      connect();
    }
  });
  // Only the displayed durations tick here; the figures come from the server.
  setInterval(() => {
    if (board) {
      renderQueues();
      tickAgents();
      labelCells();
    }
  }, 1000);
  connect();
})();

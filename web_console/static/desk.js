// The agent desk: live state and screen pops over /ws, actions over /api/v1.
// Everything shown comes from the server: the websocket's first message on every (re)connect
// is the whole desk, so a dropped network or a sleeping tab loses nothing. Page timers only
// redraw the "time in state" clock. Text is always set with textContent (never innerHTML).
"use strict";

(() => {
  const api = (path, options) => window.consoleApi(path, options);
  const $ = (selector, root = document) => root.querySelector(selector);
  const desk = {
    agent: null,
    pops: new Map(),
    config: { pause_reasons: [], dispositions: [], complaint_categories: [] },
    clockOffset: 0, // server time minus browser time, seconds
    departments: null,
  };

  // -- small DOM helpers ----------------------------------------------------------------------

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function fillSelect(select, values, labels) {
    select.replaceChildren(
      ...values.map((value, i) => {
        const option = el("option", labels ? labels[i] : value);
        option.value = String(value);
        return option;
      }),
    );
  }

  function showError(message) {
    const box = $("#desk-error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function say(article, message, isError) {
    const line = $(".pop-message", article);
    line.textContent = message;
    line.classList.toggle("error", Boolean(isError));
  }

  function describe(error) {
    return error && error.message ? error.message : "something went wrong; try again";
  }

  // -- the websocket --------------------------------------------------------------------------

  let socket = null;
  let retries = 0;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws`);
    setLink("connecting");
    socket.addEventListener("open", () => {
      retries = 0;
      setLink("open");
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handle(message);
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) {
        location.assign("/login?next=%2Fdesk"); // the session ended: log in again
        return;
      }
      setLink("closed");
      // Back off 0.5 s, 1 s, 2 s ... up to 15 s, with jitter so a restarted server is not
      // hit by every desk in the same instant.
      const delay = Math.min(15000, 500 * 2 ** retries) * (0.75 + Math.random() / 2);
      retries += 1;
      setTimeout(connect, delay);
    });
  }

  function setLink(state) {
    const link = $("#desk-link");
    link.dataset.state = state;
    link.textContent = { open: "live", closed: "reconnecting…", connecting: "connecting…" }[state];
  }

  function handle(message) {
    switch (message.type) {
      case "desk":
        desk.clockOffset = message.server_time - Date.now() / 1000;
        desk.config = message;
        desk.agent = message.agent;
        desk.pops = new Map(message.pops.map((pop) => [pop.linkedid, pop]));
        setTelephony(message.telephony.connected, message.telephony.ready);
        renderAgent();
        pops.renderAllPops();
        break;
      case "agent":
        desk.agent = message.agent.state === "signed_out" ? null : message.agent;
        renderAgent();
        break;
      case "pop":
        pops.onPop(message.pop);
        break;
      case "telephony":
        setTelephony(message.connected, message.ready);
        break;
      default:
        break; // other consoles' messages (the board) share the socket
    }
  }

  function setTelephony(connected, ready) {
    const node = $("#telephony-state");
    node.dataset.state = connected && ready ? "open" : "closed";
    node.textContent = connected && ready ? "phones ok" : "phone system unavailable";
  }

  // -- agent state ----------------------------------------------------------------------------

  function renderAgent() {
    const agent = desk.agent;
    $("#sign-in-form").hidden = Boolean(agent);
    $("#agent-panel").hidden = !agent;
    if (!agent) {
      return;
    }
    const badge = $("#agent-state");
    badge.dataset.state = agent.state;
    badge.textContent = agent.state.replace("_", " ");
    $("#agent-reason").textContent = agent.pause_reason ? `(${agent.pause_reason})` : "";
    $("#agent-queues").textContent = `ext ${agent.extension} · ${agent.queues.join(", ")}`;
    const paused = agent.state === "paused" || Boolean(agent.pause_reason);
    $("#pause-form").hidden = paused;
    $("#resume").hidden = !paused;
    tick();
  }

  function tick() {
    if (!desk.agent) {
      return;
    }
    const now = Date.now() / 1000 + desk.clockOffset;
    const seconds = Math.max(0, Math.floor(now - desk.agent.since));
    const minutes = Math.floor(seconds / 60);
    const text = `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
    $("#agent-since").textContent = text;
  }

  async function deskAction(path, body) {
    showError("");
    try {
      const state = await api(path, { method: "POST", body: body || {} });
      desk.agent = state.agent;
      renderAgent();
    } catch (error) {
      showError(describe(error));
    }
  }

  const pops = window.deskPops(desk, { api, $, el, fillSelect, say, describe });

  // -- start ----------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("#sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if ("Notification" in window && Notification.permission === "default") {
        Notification.requestPermission(); // asked on a click: browsers refuse it otherwise
      }
      deskAction("/api/v1/desk/sign-in", { extension: $("#extension").value.trim() });
    });
    $("#pause-form").addEventListener("submit", (event) => {
      event.preventDefault();
      deskAction("/api/v1/desk/pause", { reason: $("#pause-reason").value });
    });
    $("#resume").addEventListener("click", () => deskAction("/api/v1/desk/resume"));
    $("#sign-out").addEventListener("click", () => deskAction("/api/v1/desk/sign-out"));
    $("#dial-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      try {
        const placed = await api("/api/v1/desk/dial", { method: "POST", body: { number: $("#dial-number").value } });
        showError(`Calling ${placed.number}: your phone rings first`);
      } catch (error) {
        showError(describe(error));
      }
    });
    setInterval(tick, 1000);
    connect();
  });
})();
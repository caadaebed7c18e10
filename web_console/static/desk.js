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
        clearStaleWarning();
        break;
      case "telephony":
        setTelephony(message.connected, message.ready);
        break;
      default:
        break; // other consoles' messages (the board) share the socket
    }
    document.dispatchEvent(new CustomEvent("desk:message", { detail: message })); // desk_call.js
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
    badge.textContent = window.consoleLabel(agent.state);
    $("#agent-reason").textContent = agent.pause_reason ? `(${window.consoleLabel(agent.pause_reason)})` : "";
    const queues = agent.queues.map(window.consoleLabel).join(", ");
    $("#agent-queues").textContent = `extension ${agent.extension} · queues: ${queues || "none"}`;
    const paused = agent.state === "paused" || Boolean(agent.pause_reason);
    $("#pause-form").hidden = paused;
    $("#resume").hidden = !paused;
    // Wrap-up ends with the call's disposition; a wrap-up with no pop left can be finished.
    const wrapUp = agent.state === "wrap_up";
    $("#finish-wrap-up").hidden = !(wrapUp && agent.linkedid && !desk.pops.has(agent.linkedid));
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
    // Past the wrap-up limit the supervisor's board flags it: the agent is told so too.
    const limit = desk.config.wrapup_max_seconds;
    const over = desk.agent.state === "wrap_up" && limit && seconds > limit;
    const note = $("#wrapup-over");
    note.hidden = !over;
    note.textContent = over ? `over the ${Math.round(limit / 60)}-minute wrap-up limit: your supervisor sees this` : "";
  }

  async function deskAction(path, body) {
    showError("");
    try {
      const state = await api(path, { method: "POST", body: body || {} });
      desk.agent = state.agent;
      renderAgent();
      return true;
    } catch (error) {
      showError(describe(error));
      return false;
    }
  }

  // -- keyboard shortcuts ---------------------------------------------------------------------

  // Alt+letter on the desk; buttons added by other parts of the page (call controls) take part
  // through their data-shortcut attribute ("Alt+H") and are listed under "Keyboard shortcuts".
  const OWN_KEYS = { r: "#resume", p: "#pause" };

  function visible(node) {
    return Boolean(node) && !node.disabled && node.getClientRects().length > 0;
  }

  function onShortcut(event) {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.repeat || document.querySelector("dialog[open]")) {
      return;
    }
    const key = event.key.toLowerCase();
    const current = pops.shownPop();
    let target = null;
    if (OWN_KEYS[key]) {
      target = $(OWN_KEYS[key]);
    } else if (key === "w" && current) {
      target = $(".save-disposition", current);
    } else if (key === "n" && current) {
      event.preventDefault();
      $(".closing-note", current).focus();
      return;
    } else {
      const wanted = `alt+${key}`;
      target = [...document.querySelectorAll("[data-shortcut]")].find(
        (node) => node.dataset.shortcut.toLowerCase() === wanted && visible(node),
      );
    }
    if (visible(target)) {
      event.preventDefault();
      if (target.id === "pause") {
        $("#pause-form").requestSubmit();
      } else {
        target.click();
      }
    }
  }

  // Shortcuts other parts of the page declare (data-shortcut + aria-label or text) join the list.
  const listedKeys = new Set(["alt+r", "alt+p", "alt+w", "alt+n"]); // listed in the template

  function listShortcuts() {
    const list = $("#shortcut-list");
    document.querySelectorAll("[data-shortcut]").forEach((node) => {
      const key = node.dataset.shortcut.toLowerCase();
      if (listedKeys.has(key)) {
        return;
      }
      listedKeys.add(key);
      const [mod, letter] = node.dataset.shortcut.split("+");
      const term = el("dt");
      term.append(el("kbd", mod), "+", el("kbd", (letter || "").toUpperCase()));
      list.append(term, el("dd", node.dataset.shortcutLabel || node.getAttribute("aria-label") || node.textContent.trim()));
    });
  }

  const pops = window.deskPops(desk, { api, $, el, fillSelect, say, describe });

  // -- signing out during a call --------------------------------------------------------------

  const LIVE_STATES = new Set(["ringing", "on_call"]);
  const LIVE_PHASES = new Set(["ringing", "answered"]);
  const ON_A_CALL = "You are on a call: sign out once it has ended and its disposition is saved.";

  function onLiveCall() {
    const livePop = [...desk.pops.values()].some((pop) => LIVE_PHASES.has(pop.phase));
    return livePop || Boolean(desk.agent && LIVE_STATES.has(desk.agent.state));
  }

  // The call the sign-out warning spoke of has ended: the warning goes.
  function clearStaleWarning() {
    if (!onLiveCall() && $("#desk-error").textContent === ON_A_CALL) {
      showError("");
    }
  }

  function waitingDispositions() {
    return [...desk.pops.values()].filter((pop) => pop.phase === "ended").length;
  }

  // Resolves true when the agent may sign out: never during a live call; after a warning when
  // ended calls still wait for their disposition.
  function maySignOut() {
    if (onLiveCall()) {
      showError(ON_A_CALL);
      return Promise.resolve(false);
    }
    const waiting = waitingDispositions();
    if (!waiting) {
      return Promise.resolve(true);
    }
    const dialog = $("#signout-dialog");
    $("#signout-dialog-what").textContent =
      waiting === 1 ? "One call still waits for its disposition." : `${waiting} calls still wait for their disposition.`;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $(".signout-stay", dialog).focus();
    });
  }

  // -- start ----------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("#sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if ("Notification" in window && Notification.permission === "default") {
        Notification.requestPermission(); // asked on a click: browsers refuse it otherwise
      }
      deskAction("/api/v1/desk/sign-in", { extension: $("#extension").value.trim() }).then((ok) => {
        if (ok) {
          $("#agent-state").focus(); // the extension box is gone: focus goes to the new state
        }
      });
    });
    $("#finish-wrap-up").addEventListener("click", () => deskAction("/api/v1/desk/wrap-up/finish"));
    document.addEventListener("keydown", onShortcut);
    listShortcuts();
    new MutationObserver(listShortcuts).observe($("#desk"), { childList: true, subtree: true });
    $("#pause-form").addEventListener("submit", (event) => {
      event.preventDefault();
      // The button pressed goes away: focus moves to the one that undoes it.
      deskAction("/api/v1/desk/pause", { reason: $("#pause-reason").value }).then((ok) => ok && $("#resume").focus());
    });
    $("#resume").addEventListener("click", () =>
      deskAction("/api/v1/desk/resume").then((ok) => ok && $("#pause").focus()),
    );
    $("#sign-out").addEventListener("click", async () => {
      if (await maySignOut()) {
        deskAction("/api/v1/desk/sign-out");
      }
    });
    $(".signout-stay").addEventListener("click", () => $("#signout-dialog").close(""));
    // Logging out of the console signs the agent out too: the same rule.
    const logout = document.querySelector("form.logout");
    if (logout) {
      logout.addEventListener("submit", async (event) => {
        if (logout.dataset.confirmed === "yes") {
          return;
        }
        event.preventDefault();
        if (await maySignOut()) {
          logout.dataset.confirmed = "yes";
          logout.requestSubmit();
        }
      });
    }
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
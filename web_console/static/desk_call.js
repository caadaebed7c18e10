// Call control on the desk: hang up, hold and resume, blind transfer, recording pause and
// resume, and the call timer (talk time, hold time while held; the queue wait shown once).
// Fed by desk.js's websocket messages ("desk:message" events); acts over /api/v1/desk/call.
// Text is always set with textContent.
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);
  const api = (path, body) => window.consoleApi(path, { method: "POST", body: body || {} });
  // recording: null (not recorded), "on" or "paused"; read once per call from the server.
const state = { agent: null, pops: new Map(), offset: 0, recording: null, recordingOf: null, toldHungUp: new Set() };

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  function currentPop() {
    const linkedid = state.agent && state.agent.linkedid;
    return linkedid ? state.pops.get(linkedid) || null : null;
  }

  function say(message, isError) {
    const line = $("#call-message");
    line.textContent = message || "";
    line.classList.toggle("error", Boolean(isError));
  }

  function render() {
    const box = $("#call-control");
    // A call transferred away is no longer this agent's, whatever the phone says for a moment.
    const shown = currentPop();
    const onCall = Boolean(state.agent && state.agent.state === "on_call") && !(shown && shown.phase === "transferred");
    box.hidden = !onCall;
    if (!onCall) {
      return;
    }
    const pop = currentPop();
    const held = Boolean(pop && pop.held_at);
    $("#call-hold").textContent = held ? "Resume call" : "Hold";
    $("#call-phase").textContent = held ? "On hold" : "Talking";
    box.dataset.held = held ? "yes" : "no";
    const waited = pop && typeof pop.waited_seconds === "number" ? pop.waited_seconds : null;
    // The queue wait, once, beside the running clock (not a second clock that looks frozen).
    $("#call-waited").textContent = waited === null || waited < 1 ? "" : `(waited ${clock(waited)} in the queue)`;
    const queues = (state.agent.queues || []).slice();
    const select = $("#call-transfer-queue");
    if (select.options.length !== queues.length) {
      select.replaceChildren(
        ...queues.map((queue) => {
          const option = document.createElement("option");
          option.value = queue;
          option.textContent = window.consoleLabel ? window.consoleLabel(queue) : queue;
          return option;
        }),
      );
    }
    renderConsult(pop);
    $("#call-record").hidden = !state.recording;
    $("#call-record").textContent = state.recording === "paused" ? "Resume recording" : "Pause recording";
    if (state.recordingOf !== state.agent.linkedid) {
      state.recordingOf = state.agent.linkedid;
      readRecording();
    }
    tick();
  }

  const CONSULT_SAYS = {
    calling: (who) => `Calling ${who}… the caller hears music.`,
    talking: (who) => `Talking to ${who}; the caller hears music.`,
  };

  function renderConference(consult) {
    const inConference = Boolean(consult && consult.state === "conference");
    $("#call-conference-what").hidden = !inConference;
    $("#call-conference-what").textContent = inConference ? `Conference: you, the caller and ${consult.target}. Hang up to leave it.` : "";
    $("#call-hold").hidden = inConference;
    $("#call-transfer-form").hidden = inConference || $("#call-transfer-form").hidden;
  }

  function renderConsult(pop) {
    const consult = pop && pop.consult;
    const going = Boolean(consult && (consult.state === "calling" || consult.state === "talking"));
    $("#call-consult-bar").hidden = !going;
    $("#call-transfer-form").hidden = going;
    renderConference(consult);
    if (going) {
      $("#call-consult-what").textContent = CONSULT_SAYS[consult.state](consult.target);
    } else if (consult && consult.state === "hung_up" && !state.toldHungUp.has(pop.linkedid)) {
      state.toldHungUp.add(pop.linkedid);
      say(`${consult.target} hung up: you are back with the caller.`, true);
    }
  }

  async function readRecording() {
    try {
      const answer = await window.consoleApi("/api/v1/desk/call/recording");
      const recording = answer.recording;
      state.recording = recording ? (recording.paused ? "paused" : "on") : null;
      render();
    } catch (_) {
      state.recording = null; // not on a call any more: nothing to show
    }
  }

  function tick() {
    const pop = currentPop();
    if ($("#call-control").hidden || !pop) {
      return;
    }
    const now = Date.now() / 1000 + state.offset;
    const since = pop.held_at || pop.phase_at || state.agent.since;
    $("#call-clock").textContent = clock(now - since);
  }

  function onMessage(event) {
    const message = event.detail;
    if (message.type === "desk") {
      state.offset = message.server_time - Date.now() / 1000;
      state.agent = message.agent;
      state.pops = new Map(message.pops.map((pop) => [pop.linkedid, pop]));
    } else if (message.type === "agent") {
      state.agent = message.agent.state === "signed_out" ? null : message.agent;
      if (!state.agent || state.agent.state !== "on_call") {
        state.recording = null;
        state.recordingOf = null;
      }
    } else if (message.type === "pop") {
      state.pops.set(message.pop.linkedid, message.pop);
    } else {
      return;
    }
    render();
  }

  async function act(path, body, done) {
    say("");
    try {
      const answer = await api(`/api/v1/desk/call/${path}`, body);
      if (done) {
        done(answer);
      }
    } catch (error) {
      // "target: carol is paused..." reads better without the field's name in front.
      const field = error && error.data && error.data.field;
      const message = error && error.message ? error.message : "something went wrong; try again";
      say(field && message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message, true);
    }
  }

  function onHold() {
    const pop = currentPop();
    if (pop && pop.held_at) {
      act("resume", {}, () => say("Back with the caller."));
    } else {
      act("hold", {}, () => say("The caller hears music on hold."));
    }
  }

  function onKind() {
    const kind = $("#call-transfer-kind").value;
    $("#call-transfer-queue-label").hidden = kind !== "queue";
    $("#call-transfer-target-label").hidden = kind === "queue";
    $("#call-transfer-target-name").textContent = kind === "agent" ? "Agent's login" : "Number";
    $("#call-consult").hidden = kind === "queue";
    $("#call-conference").hidden = kind === "queue";
  }

  function onTransfer(event) {
    event.preventDefault();
    const kind = $("#call-transfer-kind").value;
    const target = kind === "queue" ? $("#call-transfer-queue").value : $("#call-transfer-target").value.trim();
    if (!target) {
      say(kind === "agent" ? "Type the agent's login to transfer to." : "Type the number to transfer to.", true);
      $("#call-transfer-target").focus();
      return;
    }
    act("transfer", { kind, target }, (answer) => say(`Transferred to ${answer.target}.`));
  }

  function withTarget(path) {
    const kind = $("#call-transfer-kind").value;
    const target = $("#call-transfer-target").value.trim();
    if (!target) {
      say(kind === "agent" ? "Type the agent's login first." : "Type the number first.", true);
      $("#call-transfer-target").focus();
      return;
    }
    act(path, { kind, target });
  }

  function onRecord() {
    const pausing = state.recording !== "paused";
    act(pausing ? "recording/pause" : "recording/resume", {}, (answer) => {
      state.recording = answer.recording;
      render();
      say(pausing ? "Recording paused." : "Recording on.");
    });
  }

  document.addEventListener("desk:message", onMessage);
  document.addEventListener("DOMContentLoaded", () => {
    $("#call-hold").addEventListener("click", onHold);
    $("#call-hangup").addEventListener("click", () => act("hangup", {}, () => say("Call ended.")));
    $("#call-record").addEventListener("click", onRecord);
    $("#call-transfer-kind").addEventListener("change", onKind);
    $("#call-transfer-form").addEventListener("submit", onTransfer);
    $("#call-consult").addEventListener("click", () => withTarget("consult"));
    $("#call-conference").addEventListener("click", () => withTarget("conference"));
    $("#call-consult-complete").addEventListener("click", () =>
      act("consult/complete", {}, () => say("Transferred: the caller is with them now.")),
    );
    $("#call-consult-cancel").addEventListener("click", () =>
      act("consult/cancel", {}, () => say("Back with the caller.")),
    );
    onKind();
    setInterval(tick, 1000);
  });
})();

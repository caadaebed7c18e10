// Screen pops on the agent desk: the caller's card and the actions taken from it.
// Loaded before desk.js, which owns the socket and hands each pop message to onPop. Text is
// always set with textContent (never innerHTML): a patient's name is shown as written.
"use strict";

window.deskPops = (desk, { api, $, el, fillSelect, say, describe }) => {
  const T = window.consoleTime; // the console's one time format (static/timefmt.js)
  const label = window.consoleLabel; // readable labels for codes (static/labels.js)
  const GONE = new Set(["closed", "missed", "answered_elsewhere", "caller_left"]);
  // The call is still going on: its disposition waits for the end (a note does not).
  const LIVE = new Set(["ringing", "answered"]);
  const WAIT_HINT = "Save and close once the call has ended; a note can be saved now.";
  const NOT_SAVED = "Not saved: see the marked fields.";
  // The API refuses a nameless patient as "name": both name fields are marked.
  const NEW_PATIENT_ALIASES = { name: ["given_name", "family_name"] };
  const PHASE_TEXT = {
    ringing: "Ringing",
    answered: "On the call",
    ended: "Call ended: save a disposition",
  };

  // -- pops -----------------------------------------------------------------------------------

  function onPop(pop) {
    const known = desk.pops.has(pop.linkedid);
    if (GONE.has(pop.phase)) {
      desk.pops.delete(pop.linkedid);
      const article = findPop(pop.linkedid);
      const hadFocus = Boolean(article && article.contains(document.activeElement));
      if (article) {
        article.remove();
      }
      updateEmpty();
      arrange(null);
      if (hadFocus) {
        // Focus goes on to the next call waiting, else to the "no call" line (never the body).
        const next = shownPop();
        (next || $("#no-pops")).focus();
      }
      return;
    }
    desk.pops.set(pop.linkedid, pop);
    renderPop(pop);
    if (!known && pop.phase === "ringing") {
      notify(pop);
    }
  }

  function notify(pop) {
    if (!document.hidden || !("Notification" in window)) {
      return;
    }
    if (Notification.permission === "granted") {
      const who = pop.caller_name || pop.caller_number || "a caller";
      new Notification("Incoming call", { body: `${who} (${pop.queue})`, tag: pop.linkedid });
    }
  }

  function findPop(linkedid) {
    return [...document.querySelectorAll("#pops .pop")].find(
      (node) => node.dataset.linkedid === linkedid,
    );
  }

  function renderAllPops() {
    document.querySelectorAll("#pops .pop").forEach((node) => {
      if (!desk.pops.has(node.dataset.linkedid)) {
        node.remove();
      }
    });
    desk.pops.forEach(renderPop);
    updateEmpty();
    arrange(null);
  }

  function updateEmpty() {
    $("#no-pops").hidden = desk.pops.size > 0;
  }

  function renderPop(pop) {
    let article = findPop(pop.linkedid);
    const fresh = !article;
    if (fresh) {
      article = $("#pop-template").content.firstElementChild.cloneNode(true);
      article.dataset.linkedid = pop.linkedid;
      wirePop(article);
      $("#pops").prepend(article);
    }
    article.dataset.phase = pop.phase;
    article.dataset.patientId = pop.patient ? String(pop.patient.id) : "";
    const who = pop.patient ? pop.patient.name : pop.caller_name || pop.caller_number || "Unknown caller";
    $(".pop-title", article).textContent = who;
    $(".pop-phase", article).textContent = PHASE_TEXT[pop.phase] || label(pop.phase);
    // A callback the patient asked for while waiting: this call rings them (their wait in the
    // queue was the placeholder's, so it is not shown).
    const waited = pop.waited_seconds === null || pop.callback ? "" : ` · waited ${Math.round(pop.waited_seconds)} s`;
    const mark = pop.callback ? [el("span", "Callback the patient asked for in the queue: their phone rings on this call", "pop-callback"), " "] : [];
    $(".pop-meta", article).replaceChildren(...mark, `${pop.caller_number || "no caller ID"} · ${label(pop.queue)} queue${waited}`);
    const live = LIVE.has(pop.phase);
    $(".save-disposition", article).disabled = live;
    $(".disposition-hint", article).textContent = live ? WAIT_HINT : "";
    $(".pop-identity", article).replaceChildren(identity(pop));
    $(".pop-ids", article).replaceChildren(...idLine(pop.patient));
    $(".pop-alerts", article).replaceChildren(...alerts(pop.patient));
    $(".pop-ivr", article).replaceChildren(...ivrLine(pop));
    $(".pop-actions", article).hidden = !pop.patient;
    updateEmpty();
    arrange(fresh && LIVE.has(pop.phase) ? pop.linkedid : null);
    if (fresh && !article.hidden && !(document.activeElement && document.activeElement.closest("form"))) {
      article.focus();
    }
  }

  // -- one pop at a time ----------------------------------------------------------------------

  // The pop shown: the live call first, then the one the agent chose, then the oldest call
  // still waiting for its disposition. The others wait in a one-line list above it.
  function currentLinkedid(preferred) {
    const all = [...desk.pops.values()];
    const live = all.find((p) => LIVE.has(p.phase));
    if (live) {
      return live.linkedid;
    }
    for (const id of [preferred, desk.shown]) {
      if (id && desk.pops.has(id)) {
        return id;
      }
    }
    return all.length ? all[0].linkedid : null;
  }

  function arrange(preferred) {
    const shown = currentLinkedid(preferred);
    desk.shown = shown;
    const others = [];
    document.querySelectorAll("#pops .pop").forEach((node) => {
      node.hidden = node.dataset.linkedid !== shown;
      if (node.hidden) {
        others.push(node);
      }
    });
    const list = $("#pop-queue-list");
    list.replaceChildren(
      ...others.map((node) => {
        const pop = desk.pops.get(node.dataset.linkedid);
        const item = el("li");
        const who = pop && pop.patient ? pop.patient.name : (pop && (pop.caller_name || pop.caller_number)) || "Unknown caller";
        const open = el("button", `${who} · ${PHASE_TEXT[pop && pop.phase] || ""}`, "show-pop");
        open.type = "button";
        open.dataset.linkedid = node.dataset.linkedid;
        item.append(open);
        return item;
      }),
    );
    $("#pop-queue").hidden = others.length === 0;
  }

  function show(linkedid) {
    arrange(linkedid);
    const article = findPop(linkedid);
    if (article && !article.hidden) {
      article.focus();
    }
  }

  // The pop on screen (for the keyboard shortcuts).
  function shownPop() {
    return desk.shown ? findPop(desk.shown) : null;
  }

  function identity(pop) {
    if (pop.patient) {
      return card(pop.patient);
    }
    if (pop.match === "several") {
      return pickList(pop);
    }
    if (pop.match === "unknown") {
      return newPatientForm(pop);
    }
    if (pop.match === "error") {
      return el("p", "The patient record could not be read; use Patients to search.", "error");
    }
    return el("p", "Looking up the caller…", "muted");
  }

  // Identity in the header: record number, age, sex, language (each findable by its class).
  function idLine(patient) {
    if (!patient) {
      return [];
    }
    const parts = [
      el("span", patient.mrn, "pop-record"),
      el("span", `${patient.age} years (born ${T.date(patient.date_of_birth)})`, "pop-age"),
      el("span", label(patient.sex), "pop-sex"),
      el("span", label(patient.language), "pop-language"),
    ];
    return parts.flatMap((part, i) => (i ? [" · ", part] : [part]));
  }

  // Alerts as chips, all in one style: VIP, allergies, chronic care, open complaints.
  function alerts(patient) {
    if (!patient) {
      return [];
    }
    const chips = [];
    const chip = (text, kind) => chips.push(el("span", text, `flag ${kind}`), " ");
    if (patient.vip) {
      chip("VIP", "vip");
    }
    if (patient.do_not_call) {
      chip("Do not call", "warn");
    }
    patient.allergies.forEach((a) => chip(`Allergy: ${a.substance}${a.severity ? ` (${a.severity})` : ""}`, "warn allergy"));
    patient.chronic.forEach((c) => chip(c.name, "chronic"));
    if (patient.complaints.length) {
      chip(patient.complaints.length === 1 ? "Open complaint" : `${patient.complaints.length} open complaints`, "complaint");
    }
    if (!chips.length) {
      chips.push(el("span", "No alerts: no allergies recorded, no chronic care, no open complaint.", "muted"));
    }
    return chips;
  }

  function card(patient) {
    const box = el("div", null, "pop-card");
    const contact = el("p", null, "pop-contact");
    contact.append(el("span", "Phone "), el("span", patient.phone || "none", "pop-phone"));
    if (patient.phone && !patient.do_not_call) {
      const call = el("button", "Call back", "call-patient");
      call.type = "button";
      call.dataset.number = patient.phone;
      contact.append(" ", call);
    }
    box.append(contact, panels(patient));
    return box;
  }

  // History in panels; the empty ones collapse into one line.
  function panels(patient) {
    const grid = el("div", null, "pop-panels");
    const empty = [];
    const appointments = appointmentList(patient);
    if (appointments) {
      grid.append(appointments);
    } else {
      empty.push("no upcoming appointments");
    }
    history(patient, grid, empty);
    if (empty.length) {
      const line = empty.join(", ");
      grid.append(el("p", `${line[0].toUpperCase()}${line.slice(1)}.`, "pop-empty muted"));
    }
    return grid;
  }

  function appointmentList(patient) {
    if (!patient.appointments.length) {
      return null;
    }
    const section = el("section", null, "pop-appointments pop-panel");
    section.append(el("h3", `Upcoming appointments (${patient.appointments.length})`));
    const list = el("ul");
    patient.appointments.forEach((a) => {
      const summary = `${T.dateTime(a.starts_at, { zone: true })} · ${a.department} · ${a.doctor}`;
      const item = el("li", `${summary} `);
      item.dataset.appointmentId = String(a.id);
      item.dataset.summary = summary;
      const cancel = el("button", "Cancel", "cancel-appointment");
      cancel.type = "button";
      const move = el("button", "Reschedule", "reschedule-appointment");
      move.type = "button";
      item.append(cancel, " ", move);
      list.append(item);
    });
    section.append(list);
    return section;
  }

  function history(patient, grid, empty) {
    const joined = (...parts) => parts.filter(Boolean).join(" · ");
    const lines = [
      [
        "Last calls",
        "no previous calls",
        "pop-calls",
        patient.last_calls.map((c) =>
          joined(T.relative(c.started_at, { zone: true }), label(c.queue || c.direction), label(c.disposition || c.end_reason)),
        ),
      ],
      [
        "Open complaints",
        "no open complaints",
        "pop-complaints",
        patient.complaints.map((c) => `${joined(T.date(c.opened_at), label(c.category))}: ${c.description}`),
      ],
      [
        "Follow-up tasks",
        "no follow-up tasks",
        "pop-followups",
        patient.followups.map((t) => `Priority ${t.priority}: ${t.reason}${t.due ? ` (due ${T.date(t.due)})` : ""}`),
      ],
    ];
    lines.forEach(([title, none, className, items]) => {
      if (!items.length) {
        empty.push(none);
        return;
      }
      const section = el("section", null, `${className} pop-panel`);
      section.append(el("h3", `${title} (${items.length})`));
      const list = el("ul");
      items.forEach((text) => list.append(el("li", text)));
      section.append(list);
      grid.append(section);
    });
  }

  function ivrLine(pop) {
    const context = (pop.ivr && pop.ivr.context) || {};
    const parts = [];
    if (pop.ivr && pop.ivr.last_step) {
      parts.push(`Phone menu: ${label(pop.ivr.last_step)}`);
    }
    if (context.reason) {
      parts.push(`sent to an agent: ${context.reason}`);
    }
    if (context.failed_at) {
      parts.push(`left the menu at: ${label(context.failed_at)}`);
    }
    if (context.tried && context.tried.length) {
      parts.push(`tried: ${context.tried.map((step) => label(step).toLowerCase()).join(", ")}`);
    }
    const nodes = [];
    if (pop.match === "ivr") {
      nodes.push(el("span", "Verified: identity confirmed in the phone menu", "verified ok"), " ");
    } else if (pop.match === "caller_id") {
      nodes.push(el("span", "Not verified: matched by caller ID only: confirm the date of birth", "verified check"), " ");
    } else if (pop.match === "agent") {
      nodes.push(el("span", "Identified by you", "verified ok"), " ");
    }
    if (parts.length) {
      nodes.push(el("span", parts.join(" · "), "ivr-path"));
    }
    return nodes;
  }

  function pickList(pop) {
    const box = el("div", null, "pick-list");
    box.append(el("p", "Several patients have this number. Who is calling?"));
    pop.candidates.forEach((c) => {
      const button = el("button", `${c.name} · ${c.mrn} · born ${c.date_of_birth}`, "pick-patient");
      button.type = "button";
      button.dataset.patientId = String(c.id);
      box.append(button, " ");
    });
    return box;
  }

  function newPatientForm(pop) {
    const form = el("form", null, "new-patient-form");
    form.append(el("p", "No patient has this number. Register the caller:"));
    const field = (label, name, value, type) => {
      const wrap = el("label", `${label} `);
      const input = el("input");
      input.name = name;
      input.type = type || "text";
      input.value = value || "";
      wrap.append(input);
      form.append(wrap, " ");
    };
    field("Given name", "given_name");
    field("Family name", "family_name");
    field("Born", "date_of_birth", "", "date");
    field("Phone", "phone", pop.prefill ? pop.prefill.phone : "");
    const submit = el("button", "Register");
    submit.type = "submit";
    form.append(submit);
    return form;
  }

  // -- pop actions ----------------------------------------------------------------------------

  function wirePop(article) {
    // Nothing preselected: the agent chooses (the select is required).
    const dispositions = desk.config.dispositions;
    fillSelect($(".disposition", article), ["", ...dispositions], ["Choose…", ...dispositions.map(label)]);
    const categories = desk.config.complaint_categories;
    fillSelect($(".complaint-category", article), categories, categories.map(label));
    const hint = $(".disposition-hint", article);
    hint.id = `disposition-hint-${article.dataset.linkedid}`;
    $(".save-disposition", article).setAttribute("aria-describedby", hint.id);
    const linkedid = () => article.dataset.linkedid;
    const patientId = () => Number(article.dataset.patientId);
    // With a `form`, a refusal naming its fields is shown beside them (static/field_errors.js).
    const run = async (work, done, form, aliases) => {
      say(article, "Working…");
      if (form) {
        window.fieldErrors.clear(form);
      }
      try {
        const result = await work();
        say(article, typeof done === "function" ? done(result) : done);
      } catch (error) {
        const placed = form && window.fieldErrors.fromApi(form, error, aliases);
        say(article, placed ? NOT_SAVED : describe(error), true);
      }
    };

    $(".find-slots", article).addEventListener("click", () =>
      run(async () => {
        const department = $(".book-department", article).value;
        const data = await api(`/api/v1/slots?department_id=${encodeURIComponent(department)}&limit=10`);
        fillSelect(
          $(".book-slot", article),
          data.slots.map((s) => s.slot_id),
          data.slots.map((s) => `${T.dateTime(s.starts_at, { zone: true })} · ${s.doctor}`),
        );
        return data.slots.length;
      }, (count) => (count ? `${count} times found` : "No free time in this department")),
    );
    $(".action-book", article).addEventListener("toggle", () => loadDepartments(article));
    $(".book-form", article).addEventListener("submit", (event) => {
      event.preventDefault();
      if (!$(".book-slot", article).value) {
        window.fieldErrors.show(event.target, { slot_id: "Find times first, then choose one" });
        say(article, NOT_SAVED, true);
        return;
      }
      run(async () => {
        const booked = await api("/api/v1/appointments", {
          method: "POST",
          body: {
            patient_id: patientId(),
            slot_id: Number($(".book-slot", article).value),
            linkedid: linkedid(),
          },
        });
        await refreshCard(article);
        return booked;
      }, (booked) => `Booked ${T.dateTime(booked.starts_at, { zone: true })} with ${booked.doctor} (confirmation ${booked.confirmation_code})`, event.target);
    });
    $(".reschedule-to", article).addEventListener("click", () =>
      run(async () => {
        const moved = await api(`/api/v1/appointments/${article.dataset.moving}/reschedule`, {
          method: "POST",
          body: { slot_id: Number($(".book-slot", article).value) },
        });
        delete article.dataset.moving;
        $(".reschedule-to", article).hidden = true;
        await refreshCard(article);
        return moved;
      }, (moved) => `Moved to ${T.dateTime(moved.starts_at, { zone: true })}`),
    );
    article.addEventListener("click", (event) => onCardClick(event, article, run));
    article.addEventListener("submit", (event) => onFormSubmit(event, article, run));
    $(".save-closing-note", article).addEventListener("click", () => saveClosingNote(article, run));
    $(".closing-note", article).addEventListener("keydown", (event) => {
      // Enter while the call is live saves the note; it never closes the pop.
      if (event.key === "Enter" && isLive(article)) {
        event.preventDefault();
        saveClosingNote(article, run);
      }
    });
  }

  function isLive(article) {
    return LIVE.has(article.dataset.phase);
  }

  function saveClosingNote(article, run) {
    const input = $(".closing-note", article);
    if (!input.value.trim()) {
      say(article, "Write the note first", true);
      input.focus();
      return;
    }
    const linkedid = article.dataset.linkedid;
    run(() => api(`/api/v1/calls/${encodeURIComponent(linkedid)}/notes`, { method: "POST", body: { note: input.value } }), () => {
      input.value = "";
      return "Note added";
    });
  }

  // A modal dialog (keyboard: Tab between its controls, Escape keeps the appointment) asking
  // for the reason; resolves to the reason, or null when the agent keeps the appointment.
  function confirmCancel(summary) {
    const dialog = $("#cancel-dialog");
    const form = $(".cancel-dialog-form", dialog);
    form.reset();
    $("#cancel-dialog-what").textContent = summary;
    return new Promise((resolve) => {
      const keep = $(".cancel-keep", dialog);
      const onKeep = () => dialog.close("");
      const onClose = () => {
        keep.removeEventListener("click", onKeep);
        dialog.removeEventListener("close", onClose);
        if (dialog.returnValue !== "confirm") {
          resolve(null);
          return;
        }
        const data = new FormData(form);
        const details = String(data.get("details") || "").trim();
        const reason = String(data.get("reason"));
        resolve(details ? `${reason}: ${details}` : reason);
      };
      keep.addEventListener("click", onKeep);
      dialog.addEventListener("close", onClose);
      dialog.returnValue = "";
      dialog.showModal();
      $(".cancel-reason", dialog).focus();
    });
  }

  function onCardClick(event, article, run) {
    const target = event.target;
    const item = target.closest("[data-appointment-id]");
    if (target.classList.contains("cancel-appointment") && item) {
      confirmCancel(item.dataset.summary).then((reason) => {
        if (reason === null) {
          say(article, "Appointment kept");
          return;
        }
        run(async () => {
          await api(`/api/v1/appointments/${item.dataset.appointmentId}/cancel`, {
            method: "POST",
            body: { reason },
          });
          await refreshCard(article);
        }, `Appointment cancelled (${reason})`);
      });
    } else if (target.classList.contains("reschedule-appointment") && item) {
      article.dataset.moving = item.dataset.appointmentId;
      $(".action-book", article).open = true;
      $(".reschedule-to", article).hidden = false;
      loadDepartments(article);
      say(article, "Pick a department and a new time, then 'Move the selected appointment here'");
    } else if (target.classList.contains("call-patient")) {
      run(
        () => api("/api/v1/desk/dial", { method: "POST", body: { number: target.dataset.number } }),
        (placed) => `Calling ${placed.number}: your phone rings first`,
      );
    } else if (target.classList.contains("pick-patient")) {
      choose(article, Number(target.dataset.patientId), run);
    }
  }

  function onFormSubmit(event, article, run) {
    const form = event.target;
    const data = Object.fromEntries(new FormData(form).entries());
    const linkedid = article.dataset.linkedid;
    if (form.classList.contains("note-form")) {
      event.preventDefault();
      run(() => api(`/api/v1/calls/${encodeURIComponent(linkedid)}/notes`, { method: "POST", body: { note: data.note } }), () => {
        form.reset();
        return "Note added";
      });
    } else if (form.classList.contains("complaint-form")) {
      event.preventDefault();
      run(() => api("/api/v1/complaints", {
        method: "POST",
        body: { patient_id: Number(article.dataset.patientId), category: data.category, description: data.description, linkedid },
      }), () => {
        form.reset();
        return "Complaint filed";
      }, form);
    } else if (form.classList.contains("edit-form")) {
      event.preventDefault();
      const changes = Object.fromEntries(Object.entries(data).filter(([, value]) => value.trim() !== ""));
      run(async () => {
        const result = await api(`/api/v1/patients/${article.dataset.patientId}`, { method: "PATCH", body: changes });
        await refreshCard(article);
        return result;
      }, (result) => (result.changed.length ? `Saved: ${result.changed.join(", ")}` : "Nothing changed"), form);
    } else if (form.classList.contains("new-patient-form")) {
      event.preventDefault();
      const missing = missingForNewPatient(data);
      if (Object.keys(missing).length) {
        window.fieldErrors.show(form, missing, NEW_PATIENT_ALIASES);
        say(article, NOT_SAVED, true);
        return;
      }
      run(async () => {
        const created = await api("/api/v1/patients", { method: "POST", body: data });
        await choose(article, created.id, null);
        return created;
      }, (created) => `Registered (record ${created.mrn})`, form, NEW_PATIENT_ALIASES);
    } else if (form.classList.contains("disposition-form")) {
      event.preventDefault();
      if (isLive(article)) {
        say(article, WAIT_HINT, true);
        return;
      }
      if (!data.disposition) {
        say(article, "Choose a disposition first", true);
        $(".disposition", article).focus();
        return;
      }
      const body = { disposition: data.disposition };
      if (data.note && data.note.trim()) {
        body.note = data.note;
      }
      run(() => api(`/api/v1/desk/pops/${encodeURIComponent(linkedid)}/disposition`, { method: "POST", body }), "Saved");
    }
  }

  // Every empty required field of the new-patient form at once, in plain words.
  function missingForNewPatient(data) {
    const missing = {};
    if (!String(data.given_name || "").trim() && !String(data.family_name || "").trim()) {
      missing.name = "Enter a given or a family name";
    }
    if (!data.date_of_birth) {
      missing.date_of_birth = "Enter the date of birth";
    }
    return missing;
  }

  async function choose(article, patientId, run) {
    const work = async () => {
      const result = await api(`/api/v1/desk/pops/${encodeURIComponent(article.dataset.linkedid)}/patient`, {
        method: "POST",
        body: { patient_id: patientId },
      });
      onPop(result.pop);
    };
    if (run) {
      run(work, "Caller identified");
    } else {
      await work();
    }
  }

  async function refreshCard(article) {
    // The server assembles the card again (and audits the view) when the caller is re-chosen.
    const patientId = Number(article.dataset.patientId);
    if (patientId) {
      await choose(article, patientId, null);
    }
  }

  async function loadDepartments(article) {
    if (!desk.departments) {
      const data = await api("/api/v1/departments");
      desk.departments = data.departments;
    }
    const select = $(".book-department", article);
    if (!select.options.length) {
      fillSelect(select, desk.departments.map((d) => d.id), desk.departments.map((d) => d.name));
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest(".show-pop");
    if (button) {
      show(button.dataset.linkedid);
    }
  });

  return { onPop, renderAllPops, shownPop };
};

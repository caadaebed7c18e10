// The task inbox and the complaint page: each button is one call to /api/v1 (consoleApi adds
// the CSRF token); a refusal is shown beside the row or form with the field it names.
"use strict";

const say = (place, text, ok) => {
  if (!place) {
    return;
  }
  place.textContent = text;
  place.hidden = false;
  place.className = `${place.className.split(" ")[0]} ${ok ? "done" : "failed"}`;
};

// "closing_summary: write a summary" -> "Closing summary: write a summary".
const refusal = (error) => {
  const data = error.data || {};
  const message = data.message || error.message || "Refused";
  if (!data.field) {
    return message;
  }
  const name = data.field.replaceAll("_", " ");
  const text = message.startsWith(`${data.field}: `) ? message.slice(data.field.length + 2) : message;
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}: ${text}`;
};

const taskApi = (row, suffix, method, body) =>
  window.consoleApi(`/api/v1/tasks/${row.dataset.task}${suffix}`, { method, body });

const reloadSoon = () => window.setTimeout(() => window.location.reload(), 400);

const taskAction = async (row, target) => {
  const out = row.querySelector(".outcome");
  const notes = row.querySelector('[name="notes"]');
  const outcome = row.querySelector('[name="outcome"]');
  const version = Number(row.dataset.version);
  if (target.matches("[data-claim]")) {
    await taskApi(row, "/claim", "POST", {});
    say(out, "Claimed: it is yours now.", true);
    reloadSoon();
  } else if (target.matches("[data-dial]")) {
    const placed = await taskApi(row, "/dial", "POST", {});
    say(out, `Calling ${placed.number}: answer your phone.`, true);
  } else if (target.matches("[data-save]")) {
    const saved = await taskApi(row, "", "PATCH", {
      notes: notes.value, outcome: outcome.value, version,
    });
    row.dataset.version = saved.version;
    say(out, "Saved.", true);
  } else if (target.dataset.finish) {
    await taskApi(row, "", "PATCH", {
      status: target.dataset.finish, notes: notes.value, outcome: outcome.value, version,
    });
    say(out, target.dataset.finish === "open" ? "Released to the queue." : "Closed.", true);
    reloadSoon();
  }
};

const assign = async (row, select) => {
  const userId = select.value === "" ? null : Number(select.value);
  await taskApi(row, "/assign", "POST", { user_id: userId });
  say(row.querySelector(".outcome"), userId ? "Assigned." : "Back to the queue.", true);
  reloadSoon();
};

const setUpTasks = (table) => {
  table.addEventListener("click", async (event) => {
    const target = event.target.closest("button");
    const row = event.target.closest("tr[data-task]");
    if (!target || !row) {
      return;
    }
    target.disabled = true;
    try {
      await taskAction(row, target);
    } catch (error) {
      say(row.querySelector(".outcome"), refusal(error), false);
    } finally {
      target.disabled = false;
    }
  });
  table.addEventListener("change", async (event) => {
    const select = event.target.closest("select[data-assign]");
    const row = event.target.closest("tr[data-task]");
    if (!select || !row) {
      return;
    }
    try {
      await assign(row, select);
    } catch (error) {
      say(row.querySelector(".outcome"), refusal(error), false);
    }
  });
};

const complaintApi = (card, suffix, method, body) =>
  window.consoleApi(`/api/v1/complaints/${card.dataset.complaint}${suffix}`, { method, body });

const formValues = (form) => Object.fromEntries(new FormData(form).entries());

const setUpComplaint = (card) => {
  const error = document.getElementById("complaint-error");
  const run = async (work) => {
    try {
      await work();
      window.location.reload();
    } catch (failure) {
      say(error, refusal(failure), false);
    }
  };
  const edit = document.getElementById("complaint-edit");
  const changes = () => {
    const values = formValues(edit);
    return {
      severity: values.severity,
      category: values.category,
      department_id: values.department_id === "" ? null : Number(values.department_id),
      owner_user_id: values.owner_user_id === "" ? null : Number(values.owner_user_id),
      closing_summary: values.closing_summary,
    };
  };
  edit.addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => complaintApi(card, "", "PATCH", changes()));
  });
  for (const button of edit.querySelectorAll("[data-status]")) {
    button.addEventListener("click", () =>
      run(() => complaintApi(card, "", "PATCH", { ...changes(), status: button.dataset.status })),
    );
  }
  document.getElementById("contact-add").addEventListener("submit", (event) => {
    event.preventDefault();
    const values = formValues(event.target);
    const body = { channel: values.channel, summary: values.summary };
    if (values.linkedid) {
      body.linkedid = values.linkedid;
    }
    run(() => complaintApi(card, "/contacts", "POST", body));
  });
  document.getElementById("call-link").addEventListener("submit", (event) => {
    event.preventDefault();
    run(() => complaintApi(card, "/calls", "POST", formValues(event.target)));
  });
};

const setUpTaskAdd = (form) => {
  const status = document.getElementById("task-add-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const body = {
      patient_id: Number(form.closest("[data-patient]").dataset.patient),
      reason: values.reason,
      priority: Number(values.priority),
    };
    if (values.due_at) {
      body.due_at = values.due_at;
    }
    try {
      await window.consoleApi("/api/v1/tasks", { method: "POST", body });
      window.location.reload();
    } catch (error) {
      status.textContent = refusal(error);
    }
  });
};

document.addEventListener("DOMContentLoaded", () => {
  const add = document.getElementById("task-add");
  if (add) {
    setUpTaskAdd(add);
  }
  const table = document.getElementById("tasks");
  if (table) {
    setUpTasks(table);
  }
  const card = document.getElementById("complaint");
  if (card) {
    setUpComplaint(card);
  }
});

// The desk's "My tasks" panel: the agent's tasks, most urgent first, refreshed every minute;
// "Call" places the task's click-to-dial call (the call is linked to the task).
"use strict";

const deskTaskLine = (task) => {
  const item = document.createElement("li");
  item.dataset.task = task.id;
  if (task.overdue) {
    item.className = "overdue";
  }
  const title = document.createElement("a");
  title.href = "/tasks";
  title.textContent = `P${task.priority} · ${task.patient_name}: ${task.reason}`;
  item.append(title);
  const when = document.createElement("span");
  when.className = "muted";
  const due = task.due_at ? window.consoleTime.relative(task.due_at) : "";
  when.textContent = task.overdue ? " · overdue" : due ? ` · due ${due}` : "";
  item.append(when);
  if (task.status === "in_progress" && task.patient_active) {
    const call = document.createElement("button");
    call.type = "button";
    call.textContent = "Call";
    call.addEventListener("click", async () => {
      call.disabled = true;
      try {
        const placed = await window.consoleApi(`/api/v1/tasks/${task.id}/dial`, {
          method: "POST",
          body: {},
        });
        when.textContent = ` · calling ${placed.number}`;
      } catch (error) {
        when.textContent = ` · ${error.message}`;
      } finally {
        call.disabled = false;
      }
    });
    item.append(" ", call);
  }
  return item;
};

const refreshDeskTasks = async () => {
  const list = document.getElementById("desk-tasks-list");
  try {
    const data = await window.consoleApi("/api/v1/tasks?view=mine&limit=8");
    list.replaceChildren(...data.tasks.map(deskTaskLine));
    document.getElementById("desk-tasks-empty").hidden = data.tasks.length > 0;
    document.getElementById("desk-tasks-count").textContent = data.tasks.length
      ? `(${data.tasks.length})`
      : "";
  } catch (error) {
    document.getElementById("desk-tasks-count").textContent = "(could not load)";
  }
};

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("desk-tasks")) {
    refreshDeskTasks();
    window.setInterval(refreshDeskTasks, 60000);
  }
});

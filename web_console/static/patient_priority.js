// The patient card's queue-priority flags: VIP and chronic-care callers wait ahead of others.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("patient-priority");
  if (!form) {
    return;
  }
  const status = document.getElementById("patient-priority-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      vip: form.elements.vip.checked,
      chronic_care: form.elements.chronic_care.checked,
    };
    status.textContent = "Saving…";
    try {
      const result = await window.consoleApi(`/api/v1/patients/${form.dataset.patient}`, {
        method: "PATCH",
        body,
      });
      status.textContent = result.changed.length ? "Saved." : "Nothing changed.";
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  });
});

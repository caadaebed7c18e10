// The schedule conflicts page: one click moves or cancels a booking (through /api/v1, with
// the session's CSRF token via consoleApi); the row then says what became of it.
"use strict";

const outcome = (row, text, ok) => {
  const line = row.querySelector(".outcome");
  line.textContent = text;
  line.hidden = false;
  line.className = `outcome ${ok ? "done" : "failed"}`;
};

const resolved = (row, text) => {
  row.classList.add("resolved");
  for (const part of row.querySelectorAll(".buttons, .cancel")) {
    part.remove();
  }
  outcome(row, text, true);
};

const busy = (row, on) => {
  for (const button of row.querySelectorAll("button")) {
    button.disabled = on;
  }
};

const move = async (row, scope) => {
  const id = row.dataset.appointment;
  const moved = await window.consoleApi(`/api/v1/appointments/${id}/move`, {
    method: "POST",
    body: { scope },
  });
  const followup = "the patient will be told";
  resolved(row, `Moved to ${moved.local} with ${moved.doctor}; ${followup}.`);
};

const cancel = async (row) => {
  const id = row.dataset.appointment;
  const reason = row.querySelector('input[name="reason"]').value.trim();
  await window.consoleApi(`/api/v1/appointments/${id}/cancel-for-schedule`, {
    method: "POST",
    body: { reason },
  });
  resolved(row, `Cancelled (${reason}); the patient will be told.`);
};

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("conflicts");
  if (!table) {
    return;
  }
  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    const row = button && button.closest("tr[data-appointment]");
    if (!row) {
      return;
    }
    busy(row, true);
    try {
      if (button.dataset.move) {
        await move(row, button.dataset.move);
      } else if (button.hasAttribute("data-cancel")) {
        await cancel(row);
      }
    } catch (error) {
      outcome(row, error.message || "That did not work; please try again.", false);
      busy(row, false);
    }
  });
});

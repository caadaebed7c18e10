// The opening-hours page: copy Monday's hours to the other weekdays, and confirm a removal.
"use strict";

for (const button of document.querySelectorAll(".copy-weekdays")) {
  button.addEventListener("click", () => {
    const form = button.closest("form");
    const monday = form.querySelector('[data-day="monday"]');
    for (const day of ["tuesday", "wednesday", "thursday", "friday"]) {
      form.querySelector(`[data-day="${day}"]`).value = monday.value;
    }
  });
}

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
}

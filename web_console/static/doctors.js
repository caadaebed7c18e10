// The doctors' pages: ask before removing, and show the extra-session fields only for one.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
  // A refused form comes back with the page: bring the first refusal into view.
  const refusal = document.querySelector(".field.invalid input, .field.invalid select");
  if (refusal) {
    refusal.scrollIntoView({ block: "center" });
    refusal.focus();
  }
  const kind = document.getElementById("exception-kind");
  if (kind) {
    const show = () => {
      const extra = kind.value === "extra_session";
      for (const field of document.querySelectorAll("#exception-form .extra-only")) {
        field.hidden = !extra;
      }
      for (const field of document.querySelectorAll("#exception-form .absence-only")) {
        field.hidden = extra;
      }
    };
    kind.addEventListener("change", show);
    show();
  }
});

// Refusals shown beside the fields they are about, all at once, the input left as typed.
//
//   fieldErrors.show(form, { date_of_birth: "Enter the date of birth", ... })
//   fieldErrors.clear(form)
//   fieldErrors.fromApi(form, error, aliases)  // an error thrown by consoleApi (a 4xx)
//
// A field is found by its name; `aliases` maps a name the API uses to the form's names
// ({ name: ["given_name", "family_name"] }). Each message goes in a <p class="field-error">
// after the field, tied to it by aria-describedby, and the field gets aria-invalid. The first
// field at fault takes the focus. Text is set with textContent only.
"use strict";

window.fieldErrors = (() => {
  let counter = 0;

  function clear(form) {
    form.querySelectorAll(".field-error[data-field-error]").forEach((node) => node.remove());
    form.querySelectorAll("[aria-invalid=true]").forEach((field) => {
      field.removeAttribute("aria-invalid");
      const described = (field.getAttribute("aria-describedby") || "")
        .split(" ")
        .filter((id) => id && !id.startsWith("field-error-"));
      if (described.length) {
        field.setAttribute("aria-describedby", described.join(" "));
      } else {
        field.removeAttribute("aria-describedby");
      }
    });
  }

  function place(field, message) {
    counter += 1;
    const note = document.createElement("p");
    note.className = "field-error";
    note.dataset.fieldError = field.name;
    note.id = `field-error-${counter}`;
    note.textContent = message;
    // After the field's label when the field sits inside one, so the label stays whole.
    const anchor = field.closest("label") || field;
    anchor.after(note);
    field.setAttribute("aria-invalid", "true");
    const described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", described ? `${described} ${note.id}` : note.id);
  }

  // Show `errors` ({ field name: message }); returns the names no field of `form` took.
  function show(form, errors, aliases = {}) {
    clear(form);
    const missed = [];
    let first = null;
    Object.entries(errors).forEach(([name, message]) => {
      const names = aliases[name] || [name];
      const fields = names.map((n) => form.elements.namedItem(n)).filter((f) => f && f.name);
      if (!fields.length) {
        missed.push(name);
        return;
      }
      fields.forEach((field) => place(field, message));
      first = first || fields[0];
    });
    if (first) {
      first.focus();
    }
    return missed;
  }

  // The API's message without its "field: " prefix, with the first letter capitalised.
  function plain(name, message) {
    const text = String(message || "").replace(new RegExp(`^${name}: `), "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // Show an API refusal ({ field, message, fields }) at its fields; true when one took it.
  function fromApi(form, error, aliases = {}) {
    const data = (error && error.data) || {};
    const given = data.fields || (data.field ? { [data.field]: data.message } : {});
    const errors = Object.fromEntries(
      Object.entries(given).map(([name, message]) => [name, plain(name, message)]),
    );
    if (!Object.keys(errors).length) {
      clear(form);
      return false;
    }
    return show(form, errors, aliases).length < Object.keys(errors).length;
  }

  return { show, clear, fromApi };
})();

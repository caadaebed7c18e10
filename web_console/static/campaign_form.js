// The campaign form (templates/_campaign_fields.html): the answer fields that fit each
// question's kind, "Add another question", and the question section only for kinds that ask.
// The form works without this script: the server always offers one blank question.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.campaign-form").forEach((form) => {
    const list = form.querySelector(".question-list");
    if (!list) {
      return;
    }
    const section = form.querySelector("#c-questions");
    const template = form.querySelector("#question-template");
    const add = form.querySelector(".add-question");
    const kind = form.querySelector(".campaign-kind");
    const questionless = new Set((section.dataset.questionless || "").split(" "));

    const fitAnswers = (block) => {
      const select = block.querySelector(".question-kind");
      block.querySelectorAll("[data-for]").forEach((part) => {
        part.hidden = part.dataset.for !== select.value;
      });
    };
    const fitKind = () => {
      const none = questionless.has(kind.value);
      section.querySelector(".questionless-note").hidden = !none;
      list.hidden = none;
      add.hidden = none;
    };

    list.querySelectorAll("fieldset.question").forEach(fitAnswers);
    list.addEventListener("change", (event) => {
      if (event.target.classList.contains("question-kind")) {
        fitAnswers(event.target.closest("fieldset.question"));
      }
    });
    add.addEventListener("click", () => {
      const numbers = [...list.querySelectorAll("fieldset.question")].map((q) => Number(q.dataset.question));
      const next = String(Math.max(-1, ...numbers) + 1);
      const block = template.content.firstElementChild.cloneNode(true);
      block.dataset.question = next;
      block.id = block.id.replace("__N__", next);
      block.querySelectorAll("[name], [id], [for]").forEach((node) => {
        ["name", "id", "for"].forEach((attr) => {
          const value = node.getAttribute(attr);
          if (value) {
            node.setAttribute(attr, value.replaceAll("__N__", next));
          }
        });
      });
      list.append(block);
      fitAnswers(block);
      block.querySelector("input").focus();
    });
    if (kind) {
      kind.addEventListener("change", fitKind);
      fitKind();
    } else {
      add.hidden = false;
    }
    const errors = form.querySelector("#form-errors");
    if (errors) {
      errors.focus();
    }
  });
});

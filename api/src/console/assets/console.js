// The console's only script. Pages work without it; with it, destructive actions ask first
// and a running job's page refreshes itself.
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("change", (event) => {
  // "Select all" on a list selects every row's box.
  if (event.target.matches("input[data-select-all]")) {
    const form = event.target.form;
    form.querySelectorAll("input[name='ids']").forEach((box) => { box.checked = event.target.checked; });
  }
});
window.addEventListener("DOMContentLoaded", () => {
  const refresh = document.querySelector("[data-refresh]");
  if (refresh) {
    setTimeout(() => window.location.reload(), Number(refresh.getAttribute("data-refresh")) * 1000);
  }
  const error = document.querySelector(".field-error[data-field]");
  if (error) {
    const field = error.closest("form").querySelector(`[name="${CSS.escape(error.getAttribute("data-field"))}"]`);
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }
});

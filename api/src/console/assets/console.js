// The console's only script. Pages work without it; with it, destructive actions ask first,
// a running job's page refreshes itself, and live sections (the dashboard's alerts) follow
// the server's events.
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
// Replaces the live section `id` with the same section of the page as it is now, unless the
// person is working in it (a form being filled keeps its text).
async function refreshSection(id) {
  const current = document.getElementById(id);
  if (!current || current.contains(document.activeElement)) return;
  const answer = await fetch(window.location.href, { credentials: "same-origin" });
  if (!answer.ok) return;
  const fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById(id);
  if (fresh && !current.contains(document.activeElement)) current.replaceWith(fresh);
}
window.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach((section) => {
    if (!window.EventSource) return;
    const events = new EventSource(section.getAttribute("data-live"));
    events.addEventListener("alert", () => refreshSection(section.id));
  });
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

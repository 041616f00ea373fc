// Dashboard behaviour without inline event handlers: the Content-Security-Policy runs scripts from files only.
// Delegated from the document, so it also works on content htmx swaps in.
document.addEventListener("change", (event) => {
  const field = event.target;
  // data-autosubmit="request": submit through the form's submit event (htmx handles it); "navigate": plain submit.
  if (field.matches("[data-autosubmit]") && field.form) {
    if (field.dataset.autosubmit === "navigate") field.form.submit();
    else field.form.requestSubmit();
  }
  // data-select-all="<selector>": a checkbox that ticks or clears every box the selector finds.
  if (field.matches("[data-select-all]")) {
    document.querySelectorAll(field.dataset.selectAll).forEach((box) => {
      box.checked = field.checked;
    });
  }
});

// The admin's endpoint form: show the parameter fields of the chosen backend kind only.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const backend = document.getElementById("id_backend");
  if (!backend) return;
  const show = () => document.querySelectorAll("fieldset.backend-params").forEach((fieldset) => {
    fieldset.classList.toggle("is-hidden", !fieldset.classList.contains(`backend-${backend.value}`));
  });
  backend.addEventListener("change", show);
  show();
});

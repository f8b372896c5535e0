// Plans: say what a date phrase means while it is typed, and show that an upload is being read.
// The pages work without it (the server checks everything again when the form is saved).
"use strict";
(function () {
  var draft = document.querySelector("form.draft");
  var timers = new WeakMap();
  function check(input) {
    var said = document.getElementById(input.id + "-said");
    if (!said) return;
    if (!input.value.trim()) { said.textContent = ""; return; }
    var url = "/ke-hoach/kiem-tra-thoi-gian?when=" + encodeURIComponent(input.value) +
      (draft ? "&draft=" + encodeURIComponent(draft.dataset.draft) : "");
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (j) {
      said.textContent = (j.ok ? "✓ " : "✗ ") + j.message;
      said.className = "said " + (j.ok ? "ok" : "bad");
      input.setAttribute("aria-invalid", j.ok ? "false" : "true");
    }).catch(function () { said.textContent = ""; });
  }
  document.querySelectorAll("input.when").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timers.get(input));
      timers.set(input, setTimeout(function () { check(input); }, 300));
    });
  });
  var upload = document.querySelector("form.upload");
  if (upload) {
    upload.addEventListener("submit", function () {
      upload.querySelector("progress.busy").hidden = false;
      upload.querySelector(".busy-text").textContent = upload.dataset.busy;
      upload.querySelector("button").disabled = true;
    });
  }
})();

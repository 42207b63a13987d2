// gatepass dashboard: progressive enhancement only. Every action also works
// as a plain link or form without this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function modal(dialog) {
    if (!dialog || typeof dialog.showModal !== "function") return false;
    if (dialog.open) dialog.close();
    dialog.showModal();
    var first = dialog.querySelector("input:not([type=hidden]):not([readonly]), select, button[autofocus]");
    if (first) first.focus();
    return true;
  }

  function legacyCopy(text) {
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return legacyCopy(text);
  }

  function announce(button, message) {
    var dialog = button.closest("dialog") || document;
    var status = dialog.querySelector("[data-copy-status]");
    if (status) status.textContent = message;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    var opener = target.closest("[data-open-dialog]");
    if (opener) {
      if (modal(document.getElementById(opener.getAttribute("data-open-dialog")))) event.preventDefault();
      return;
    }

    var confirm = target.closest("[data-confirm]");
    if (confirm) {
      var dialog = document.getElementById(confirm.getAttribute("data-confirm"));
      if (!dialog || typeof dialog.showModal !== "function") return;
      event.preventDefault();
      dialog.querySelector("form").setAttribute("action", confirm.getAttribute("data-action"));
      // Each [data-fill=x] of the dialog shows the opener's data-x.
      dialog.querySelectorAll("[data-fill]").forEach(function (slot) {
        slot.textContent = confirm.getAttribute("data-" + slot.getAttribute("data-fill")) || "";
      });
      modal(dialog);
      dialog.querySelector("button[type=submit]").focus();
      return;
    }

    var closer = target.closest("[data-close-dialog]");
    if (closer) {
      var open = closer.closest("dialog");
      // A dialog the server opened is its own page: the link leads back.
      if (open && !open.hasAttribute("data-server-open")) {
        event.preventDefault();
        open.close();
      }
      return;
    }

    var copy = target.closest("[data-copy-target]");
    if (copy) {
      event.preventDefault();
      var source = document.getElementById(copy.getAttribute("data-copy-target"));
      if (!source) return;
      var text = source.tagName === "INPUT" ? source.value : source.textContent;
      copyText(text).then(function () {
        copy.setAttribute("data-copied", "true");
        announce(copy, "Copied to the clipboard.");
      }, function () {
        if (source.select) source.select();
        announce(copy, "Copying failed: select the text and press Ctrl+C.");
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[data-server-open]").forEach(function (dialog) {
      modal(dialog);
      // Escape leaves the dialog's page, as its Close or Cancel would.
      dialog.addEventListener("cancel", function (event) {
        var href = dialog.getAttribute("data-close-href");
        if (href) {
          event.preventDefault();
          window.location.assign(href);
        }
      });
    });
    document.querySelectorAll("select[data-autosubmit], input[data-autosubmit]").forEach(function (control) {
      control.addEventListener("change", function () { control.form.submit(); });
    });
  });
})();

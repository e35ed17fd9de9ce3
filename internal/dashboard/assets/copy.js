// Copy buttons: a button[data-copy] copies the text of the element whose id
// it names. Without script the buttons stay hidden and the value is plain,
// selectable text.
"use strict";
(function () {
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  function done(btn, ok) {
    btn.textContent = ok ? "Copied" : "Selected: press Ctrl+C";
    btn.setAttribute("data-copied", ok ? "yes" : "no");
    setTimeout(function () { btn.textContent = "Copy"; btn.removeAttribute("data-copied"); }, 3000);
  }
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = target.textContent;
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done(btn, true); }, function () {
          selectText(target);
          done(btn, document.execCommand("copy"));
        });
        return;
      }
      selectText(target);
      done(btn, document.execCommand("copy"));
    });
  });
})();

// taskshed dashboard: local times, select-all, closing reports, showing refused requests.
// No inline script anywhere (the Content-Security-Policy forbids it): everything is wired here.
(function () {
  "use strict";

  var zone = "UTC";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (e) { /* very old browser: stay in UTC */ }

  var formatter = null;
  try {
    formatter = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      hourCycle: "h23", timeZone: zone, timeZoneName: "short"
    });
  } catch (e) { formatter = null; }

  function pad(parts, type) {
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === type) { return parts[i].value; }
    }
    return "";
  }

  // "2024-05-01 14:00:00 CEST": the viewer's own zone, in the same layout as the UTC text.
  function local(date) {
    if (!formatter || !formatter.formatToParts) { return date.toString(); }
    var p = formatter.formatToParts(date);
    return pad(p, "year") + "-" + pad(p, "month") + "-" + pad(p, "day") + " " +
      pad(p, "hour") + ":" + pad(p, "minute") + ":" + pad(p, "second") + " " + pad(p, "timeZoneName");
  }

  function localize(root) {
    if (!root || !root.querySelectorAll) { return; }
    var times = root.querySelectorAll("time[data-local]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date.getTime())) { el.textContent = local(date); }
    }
    var names = root.querySelectorAll("[data-tz-name]");
    for (var j = 0; j < names.length; j++) { names[j].textContent = zone; }
  }

  function report(text, kind) {
    var box = document.getElementById("report");
    if (!box) { return; }
    var div = document.createElement("div");
    div.className = "report " + (kind || "problem");
    div.setAttribute("role", "alert");
    var p = document.createElement("p");
    p.textContent = text;  // text, never HTML: the server's words are shown as they are
    div.appendChild(p);
    box.replaceChildren(div);
  }

  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:load", function (event) { localize(event.detail.elt); });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var scope = box.closest("form") || document;
    var boxes = scope.querySelectorAll("input[type=checkbox][name=ids]");
    for (var i = 0; i < boxes.length; i++) { boxes[i].checked = box.checked; }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-dismiss]") : null;
    if (!button) { return; }
    var box = document.getElementById("report");
    if (box) { box.replaceChildren(); }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var detail = event.detail;
    // A part of the page refreshing itself (a task just removed, say) keeps what it shows.
    if (detail.requestConfig && detail.requestConfig.verb === "get") { return; }
    var xhr = detail.xhr;
    var type = (xhr && xhr.getResponseHeader("Content-Type")) || "";
    var text = type.indexOf("text/plain") === 0 && xhr.responseText ? xhr.responseText
      : "The request failed (HTTP " + (xhr ? xhr.status : "?") + ").";
    report(text);
  });
  document.addEventListener("htmx:sendError", function () {
    report("The dashboard can't be reached; is it still running?");
  });
})();

(function () {
  "use strict";
  var doc = document, root = doc.documentElement;
  root.classList.add("js");

  function key(cell, numeric) {
    var raw = cell ? cell.getAttribute("data-v") : null;
    if (raw === null) raw = cell ? cell.textContent : "";
    if (!numeric) return raw.trim().toLowerCase();
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }

  // Sort a table by one column. A table with one <tbody> per row (a row and its details) sorts its
  // <tbody>s; any other table sorts the rows of its <tbody>. Ties keep their order.
  function sortBy(th, dir) {
    var head = th.parentNode, table = th.closest("table"), col = Array.prototype.indexOf.call(head.cells, th);
    var numeric = th.getAttribute("data-t") === "n", now = th.getAttribute("aria-sort");
    if (!dir) dir = now ? (now === "descending" ? "ascending" : "descending") : (numeric ? "descending" : "ascending");
    var bodies = table.tBodies, many = bodies.length > 1;
    var units = Array.prototype.slice.call(many ? bodies : bodies[0].rows);
    var keyed = units.map(function (unit, i) {
      return [key((many ? unit.rows[0] : unit).cells[col], numeric), i, unit];
    });
    var sign = dir === "ascending" ? 1 : -1;
    keyed.sort(function (a, b) { return a[0] < b[0] ? -sign : a[0] > b[0] ? sign : a[1] - b[1]; });
    var frag = doc.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k[2]); });
    (many ? table : bodies[0]).appendChild(frag);
    Array.prototype.forEach.call(head.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    return dir;
  }

  // Headers with data-k sort on click; the sort is kept in the address (#sort=table:column:desc).
  Array.prototype.forEach.call(doc.querySelectorAll("table[id] > thead th[data-k]"), function (th) {
    var button = doc.createElement("button");
    button.type = "button";
    while (th.firstChild) button.appendChild(th.firstChild);
    th.appendChild(button);
    button.addEventListener("click", function () {
      var dir = sortBy(th);
      try {
        history.replaceState(null, "", "#sort=" + th.closest("table").id + ":" + th.getAttribute("data-k") + ":" + (dir === "ascending" ? "asc" : "desc"));
      } catch (e) { /* a file: page may not rewrite its address */ }
    });
  });
  var wanted = /^#sort=([\w-]+):([\w-]+)(?::(asc|desc))?$/.exec(location.hash);
  if (wanted) {
    var th = doc.querySelector("table#" + wanted[1] + " > thead th[data-k='" + wanted[2] + "']");
    if (th) sortBy(th, wanted[3] ? (wanted[3] === "asc" ? "ascending" : "descending") : null);
  }

  // Expand or fold every test row at once.
  Array.prototype.forEach.call(doc.querySelectorAll("button.xa"), function (button) {
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-pressed") !== "true";
      var table = doc.getElementById(button.getAttribute("data-for"));
      Array.prototype.forEach.call(table.querySelectorAll(":scope > tbody > tr > td > details"), function (d) { d.open = open; });
      button.setAttribute("aria-pressed", open ? "true" : "false");
      button.textContent = open ? "Fold all" : "Expand all";
    });
  });
})();

// Network view: the filtered account/group graph from /api/graph, drawn with the bundled Cytoscape.js.
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  const q = new URLSearchParams();
  ["group", "country", "device"].forEach(function (k) { if (params.get(k)) { q.set(k, params.get(k)); } });
  const info = document.getElementById("graph-info");
  fetch("/api/graph?" + q.toString(), { credentials: "same-origin" }).then(function (r) { return r.json(); })
    .then(function (g) {
      const cy = cytoscape({
        container: document.getElementById("cy"),
        elements: g.elements,
        wheelSensitivity: 0.3,
        style: [
          { selector: "node", style: { "label": "data(label)", "color": "#ccc", "font-size": 9,
            "background-color": "#5b8bd0", "width": 14, "height": 14 } },
          { selector: 'node[type = "group"]', style: { "background-color": "#d08a3b", "shape": "round-rectangle",
            "width": 26, "height": 26, "font-size": 11 } },
          { selector: "edge", style: { "width": 1, "line-color": "#555", "curve-style": "haystack" } },
          { selector: 'edge[type = "posted"]', style: { "line-color": "#8a8", "width": "mapData(weight, 1, 200, 1, 6)" } },
          { selector: 'edge[role = "admin"], edge[role = "creator"]', style: { "line-color": "#e06060", "width": 2 } },
        ],
        layout: { name: "cose", animate: false, randomize: true, nodeRepulsion: 8000 },
      });
      cy.on("tap", "node", function (ev) {
        const href = ev.target.data("href");
        if (href) { window.location.href = href; }
      });
      window.tesseraGraph = cy; // for tests and the console
      info.textContent = cy.nodes().length + " nodes, " + cy.edges().length + " edges" +
        (g.truncated ? " (truncated: filter by group, country or device to see all)" : "");
      document.getElementById("cy").dataset.ready = "1";
    });
})();

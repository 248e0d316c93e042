/* Port-activity report: draws land, geofences, port names, tracks and port calls from the JSON
 * embedded in the page, adds a legend and a playback slider, fits the controls to the screen,
 * and makes tables sortable and the calls table filterable.
 * AIS text is untrusted: it only ever reaches the page through textContent, never as markup. */
(function () {
  "use strict";

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function fieldTable(title, rows) {
    var box = el("div", null, "mr-popup");
    box.appendChild(el("div", title, "mr-popup-title"));
    var table = el("table");
    rows.forEach(function (row) {
      var tr = el("tr");
      tr.appendChild(el("th", row[0]));
      tr.appendChild(el("td", row[1]));
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  function isoMinute(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  /* Land goes in a pane of its own under the overlay pane, so it stays under every geofence,
   * track and marker whatever order layers are switched on in; it takes no clicks. */
  function drawLand(map, data, groups, counts) {
    if (!data.land || !groups.land) return;
    var pane = map.createPane("mr-land");
    pane.style.zIndex = 250;
    pane.style.pointerEvents = "none";
    L.geoJSON(data.land, {
      pane: "mr-land",
      interactive: false,
      style: { color: "#a89f88", weight: 0.8, fillColor: "#f2efe6", fillOpacity: 1 }
    }).eachLayer(function (layer) {
      layer.addTo(groups.land);
      counts.land += 1;
    });
    if (map.attributionControl) map.attributionControl.addAttribution(data.meta.land_attribution);
  }

  /* Port names as permanent labels above each port; where two overlap at the current zoom, the
   * port with more calls keeps its label. */
  function drawLabels(map, data, groups, state) {
    var labels = data.labels.slice().sort(function (a, b) {
      return b.calls - a.calls || (a.name < b.name ? -1 : 1);
    }).map(function (p) {
      var tip = L.tooltip({
        permanent: true, direction: "top", className: "mr-port-label", interactive: false,
        offset: [0, -2]
      }).setLatLng([p.lat, p.lon]).setContent(el("span", p.name));
      groups.labels.addLayer(tip);
      return tip;
    });
    state.labels = labels;
    function declutter() {
      var shown = [];
      labels.forEach(function (tip) {
        var node = tip.getElement();
        if (!node) return;
        node.style.visibility = "";
        var box = node.getBoundingClientRect();
        var clash = shown.some(function (other) {
          return box.left < other.right && other.left < box.right &&
            box.top < other.bottom && other.top < box.bottom;
        });
        if (clash) node.style.visibility = "hidden"; else shown.push(box);
      });
    }
    map.on("zoomend overlayadd", declutter);
    state.declutter = declutter;
  }

  function drawZones(data, groups, counts) {
    L.geoJSON(data.zones, {
      style: function (feature) {
        var p = feature.properties;
        return {
          color: p.colour, weight: 2, fillColor: p.colour, fillOpacity: 0.12,
          dashArray: p.kind === "area" ? "6 4" : null
        };
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.bindTooltip(fieldTable(p.name, [
          ["Kind", p.kind], ["Port", p.port], ["Calls in period", String(p.calls)]
        ]), { sticky: true });
        counts.polygons += 1;
      }
    }).addTo(groups.geofences);
  }

  function drawTracks(data, groups, counts) {
    data.tracks.forEach(function (v) {
      var solid = [], dashed = [], current = [];
      var starts = {};
      v.s.forEach(function (i) { starts[i] = true; });
      for (var i = 0; i < v.p.length; i++) {
        var ll = [v.p[i][0], v.p[i][1]];
        if (starts[i]) {
          solid.push(current);
          dashed.push([[v.p[i - 1][0], v.p[i - 1][1]], ll]);
          current = [];
        }
        current.push(ll);
      }
      solid.push(current);
      var colour = data.meta.categories[v.c] || "#555";
      var tip = v.n + " \u2014 MMSI " + v.m + (v.t ? " \u2014 " + v.t : "") + " \u2014 " + v.c;
      L.polyline(solid, { color: colour, weight: 2, opacity: 0.85 })
        .bindTooltip(el("span", tip), { sticky: true }).addTo(groups.tracks);
      counts.trackLines += 1;
      if (dashed.length) {
        L.polyline(dashed, { color: colour, weight: 2, opacity: 0.7, dashArray: "3 7" })
          .bindTooltip(el("span", tip + " \u2014 no AIS received"), { sticky: true })
          .addTo(groups.tracks);
        counts.gapLines += 1;
      }
      counts.vessels += 1;
    });
  }

  function drawCalls(data, groups, counts, markers) {
    data.calls.forEach(function (c) {
      if (c.lat === null || c.lon === null) return;
      var colour = data.meta.categories[c.c] || "#555";
      var marker = L.circleMarker([c.lat, c.lon], {
        radius: 7, color: "#212121", weight: 1.5, fillColor: colour, fillOpacity: 0.95
      });
      marker.bindPopup(fieldTable(c.title, c.fields), { maxWidth: 380 });
      marker.bindTooltip(el("span", c.title));
      marker.addTo(groups.calls);
      markers[c.id] = marker;
      counts.calls += 1;
      if (c.w) watchRing([c.lat, c.lon], c.w, groups.calls);
      if (c.inport) {
        L.circleMarker([c.lat, c.lon], {
          radius: 13, color: "#e53935", weight: 3, fill: false, className: "mr-inport"
        }).bindPopup(fieldTable(c.title, c.fields), { maxWidth: 380 }).addTo(groups.inport);
        counts.inport += 1;
      }
    });
  }

  // Vessels on the watchlist get a gold ring, whatever the layer.
  function watchRing(at, list, group) {
    L.circleMarker(at, {
      radius: 11, color: "#ffb300", weight: 3, fill: false, className: "mr-watch"
    }).bindTooltip(el("span", "Watchlist: " + list)).addTo(group);
  }

  // Dark periods, encounters and loitering have layers of their own; other kinds share one.
  var EVENT_LAYERS = { gap: "gaps", encounter: "encounters", loitering: "loitering" };

  function drawEvents(data, groups, counts) {
    (data.events || []).forEach(function (e) {
      var colour = data.meta.event_colours[e.k] || "#555";
      var group = groups[EVENT_LAYERS[e.k]] || groups.events;
      if (e.o) {
        // A dark period: a dashed line from where the vessel fell silent to where it came back.
        L.polyline([[e.lat, e.lon], e.o], {
          color: colour, weight: 2, opacity: 0.8, dashArray: "4 6"
        }).bindPopup(fieldTable(e.title, e.fields), { maxWidth: 380 }).addTo(group);
        L.circleMarker(e.o, {
          radius: 4, color: colour, weight: 2, fill: false
        }).bindPopup(fieldTable(e.title, e.fields), { maxWidth: 380 }).addTo(group);
      }
      L.circleMarker([e.lat, e.lon], {
        radius: 6, color: "#212121", weight: 1, fillColor: colour, fillOpacity: 0.9,
        className: "mr-event mr-event-" + e.k
      }).bindPopup(fieldTable(e.title, e.fields), { maxWidth: 380 })
        .bindTooltip(el("span", e.title)).addTo(group);
      if (e.w) watchRing([e.lat, e.lon], e.w, group);
      counts.events += 1;
    });
  }

  function legendRow(swatchClass, label, colour, fill) {
    var row = el("div");
    var sw = el("span", null, "mr-swatch" + (swatchClass ? " " + swatchClass : ""));
    if (colour) sw.style.borderColor = colour;
    if (fill) sw.style.background = fill;
    row.appendChild(sw);
    row.appendChild(el("span", label));
    return row;
  }

  /* The legend sits under the layer control in the same corner (Leaflet stacks the controls of
   * a corner, so the two never overlap), folds away behind its title, and is never taller than
   * the map leaves it below the layer control. It starts folded when the map is too small. */
  function addLegend(map, data, state) {
    var legend = L.control({ position: "topright" });
    var box, body, toggle;
    function setOpen(open) {
      box.classList.toggle("mr-legend-closed", !open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      toggle.textContent = (open ? "\u25BE " : "\u25B8 ") + "Legend";
      fit();
    }
    function fit() {
      var mapBox = map.getContainer().getBoundingClientRect();
      var top = body.getBoundingClientRect().top;
      body.style.maxHeight = Math.max(48, mapBox.bottom - top - 34) + "px";
    }
    legend.onAdd = function () {
      box = el("div", null, "mr-legend leaflet-bar");
      toggle = el("button", null, "mr-legend-toggle");
      toggle.type = "button";
      toggle.setAttribute("aria-controls", "mr-legend-body");
      body = el("div", null, "mr-legend-body");
      body.id = "mr-legend-body";
      box.appendChild(toggle);
      box.appendChild(body);
      if (data.land) {
        body.appendChild(el("div", "Map", "mr-legend-head"));
        body.appendChild(legendRow("mr-swatch-area", "land (GSHHG)", "#a89f88", "#f2efe6"));
        body.appendChild(legendRow("mr-swatch-area", "sea", "#c5ccd8", "#dbe7f0"));
      }
      body.appendChild(el("div", "Geofences", "mr-legend-head"));
      Object.keys(data.meta.zone_colours).forEach(function (kind) {
        var colour = data.meta.zone_colours[kind];
        body.appendChild(legendRow("mr-swatch-area", kind, colour, colour + "33"));
      });
      body.appendChild(el("div", "Ship type (tracks, calls)", "mr-legend-head"));
      Object.keys(data.meta.categories).forEach(function (name) {
        body.appendChild(legendRow(null, name, null, data.meta.categories[name]));
      });
      if (data.events && data.events.length) {
        body.appendChild(el("div", "Events", "mr-legend-head"));
        Object.keys(data.meta.event_colours).forEach(function (kind) {
          var title = data.meta.event_titles[kind] || kind;
          body.appendChild(legendRow(null, title, null, data.meta.event_colours[kind]));
        });
      }
      body.appendChild(el("div", "Symbols", "mr-legend-head"));
      body.appendChild(legendRow("mr-swatch-ring", "in port at end of period"));
      body.appendChild(legendRow("mr-swatch-gap", "no AIS for over " + data.meta.max_gap_h + " h"));
      toggle.addEventListener("click", function () {
        setOpen(box.classList.contains("mr-legend-closed"));
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    legend.addTo(map);
    var size = map.getSize();
    setOpen(size.x >= 640 && size.y >= 440);
    map.on("resize", fit);
    state.legend = { box: box, setOpen: setOpen };
  }

  /* On a narrow map the layer control folds into its icon (open with a tap). */
  function fitLayerControl(map, control) {
    if (!control || map.getSize().x >= 640) return;
    L.setOptions(control, { collapsed: true });
    map.removeControl(control);
    map.addControl(control);
  }

  /* Where vessel v was at t seconds: interpolated inside a segment, its last position for up to
   * maxGap seconds after it (a silence shorter than the gap threshold), else nowhere. */
  function positionAt(v, t, maxGap) {
    var p = v.p;
    var last = p.length - 1;
    if (!p.length || t < p[0][2]) return null;
    if (t >= p[last][2]) return t - p[last][2] <= maxGap ? [p[last][0], p[last][1]] : null;
    var lo = 0, hi = p.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (p[mid][2] <= t) lo = mid; else hi = mid;
    }
    if (lo === hi || p[hi][2] === p[lo][2]) return [p[lo][0], p[lo][1]];
    if (v.starts[hi]) return t - p[lo][2] <= maxGap ? [p[lo][0], p[lo][1]] : null;
    var f = (t - p[lo][2]) / (p[hi][2] - p[lo][2]);
    return [p[lo][0] + f * (p[hi][0] - p[lo][0]), p[lo][1] + f * (p[hi][1] - p[lo][1])];
  }

  function addPlayback(map, data, groups, state) {
    var startMs = Date.parse(data.meta.since);
    var span = data.meta.span_s;
    var dots = data.tracks.map(function (v) {
      v.starts = {};
      v.s.forEach(function (i) { v.starts[i] = true; });
      var marker = L.circleMarker([0, 0], {
        radius: 4, color: "#000", weight: 1, fillColor: data.meta.categories[v.c] || "#555",
        fillOpacity: 1
      }).bindTooltip(el("span", v.n + " \u2014 MMSI " + v.m));
      return { v: v, marker: marker };
    });
    var label, slider, button, timer = null;

    function show(t) {
      state.playbackTime = t;
      slider.value = String(t);
      label.textContent = isoMinute(startMs + t * 1000);
      dots.forEach(function (d) {
        var ll = positionAt(d.v, t, data.meta.max_gap_h * 3600);
        if (ll) {
          d.marker.setLatLng(ll);
          if (!groups.playback.hasLayer(d.marker)) groups.playback.addLayer(d.marker);
        } else if (groups.playback.hasLayer(d.marker)) {
          groups.playback.removeLayer(d.marker);
        }
      });
    }

    function stop() {
      if (timer !== null) window.clearInterval(timer);
      timer = null;
      button.textContent = "\u25B6";
      button.title = "Play the period";
    }

    var control = L.control({ position: "bottomleft" });
    control.onAdd = function () {
      var box = el("div", null, "mr-playback leaflet-bar");
      button = el("button", "\u25B6");
      button.type = "button";
      button.title = "Play the period";
      slider = el("input");
      slider.type = "range";
      slider.min = "0";
      slider.max = String(span);
      slider.step = span >= 600 ? "60" : "1";
      slider.setAttribute("aria-label", "Time in period");
      label = el("span", "", "mr-playback-time");
      box.appendChild(button);
      box.appendChild(slider);
      box.appendChild(label);
      slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
      button.addEventListener("click", function () {
        if (timer !== null) { stop(); return; }
        if (state.playbackTime >= span) show(0);
        button.textContent = "\u275A\u275A";
        button.title = "Pause";
        timer = window.setInterval(function () {
          var next = Math.min(span, state.playbackTime + span / 400);
          show(next);
          if (next >= span) stop();
        }, 75);
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
    show(span);
  }

  function sortTable(table, col, th) {
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[col];
      var v = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
      if (v === "") return null;
      return numeric ? Number(v) : v.toLowerCase();
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function makeSortable() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
      if (!table.tHead || !table.tBodies.length) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.tabIndex = 0;
        th.addEventListener("click", function () { sortTable(table, col, th); });
        th.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, col, th); }
        });
      });
    });
  }

  /* Keeps the calls table's rows whose vessel, MMSI, IMO, port or flag text contains every word
   * typed in the filter box. */
  function makeFilterable() {
    var input = document.getElementById("calls-filter");
    var table = document.getElementById("calls-table");
    var shown = document.getElementById("calls-shown");
    if (!input || !table) return;
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = table.tBodies[0].rows, n = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var text = row.getAttribute("data-search") || "";
        var keep = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !keep;
        if (keep) n += 1;
      });
      shown.textContent = n + " of " + rows.length + " calls";
    }
    input.addEventListener("input", apply);
    if (input.value) apply();
  }

  function linkRows(state) {
    Array.prototype.forEach.call(document.querySelectorAll("tr[data-call]"), function (row) {
      row.addEventListener("click", function () {
        var marker = state.markers[row.getAttribute("data-call")];
        if (!marker) return;
        document.getElementById("map-anchor").scrollIntoView({ behavior: "smooth" });
        state.map.setView(marker.getLatLng(), Math.max(state.map.getZoom(), 12));
        marker.openPopup();
      });
    });
  }

  function build(map, groups, dataId, layerControl) {
    var data = JSON.parse(document.getElementById(dataId).textContent);
    var counts = {
      land: 0, polygons: 0, calls: 0, inport: 0, trackLines: 0, gapLines: 0, vessels: 0,
      events: 0
    };
    var state = { map: map, groups: groups, counts: counts, markers: {}, playbackTime: 0 };
    window.monitorReport.state = state;
    drawLand(map, data, groups, counts);
    drawZones(data, groups, counts);
    drawLabels(map, data, groups, state);
    drawTracks(data, groups, counts);
    drawCalls(data, groups, counts, state.markers);
    drawEvents(data, groups, counts);
    fitLayerControl(map, layerControl);
    addLegend(map, data, state);
    if (data.meta.span_s > 0 && data.tracks.length) addPlayback(map, data, groups, state);
    var bounds = L.latLngBounds([]);
    [groups.geofences, groups.calls].forEach(function (g) {
      if (g.getLayers().length) bounds.extend(g.getBounds());
    });
    if (!bounds.isValid() && groups.tracks.getLayers().length) bounds = groups.tracks.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.1));
    state.declutter();
    linkRows(state);
    state.ready = true;
  }

  function noMapLibrary() {
    var wrap = document.getElementById("map-anchor");
    if (!wrap) return;
    var note = el("p", "The map library could not be loaded (no network?). The tables below " +
      "are complete; for a map that needs no network, write the report with --offline.",
      "mr-empty mr-no-map");
    wrap.parentNode.insertBefore(note, wrap);
  }

  window.monitorReport = { build: build, makeSortable: makeSortable };
  document.addEventListener("DOMContentLoaded", function () {
    makeSortable();
    makeFilterable();
    if (typeof window.L === "undefined") noMapLibrary();
  });
})();

function atlasInit(map, dataId) {
  "use strict";
  var D = JSON.parse(document.getElementById(dataId).textContent);
  var A = {map: map, D: D, key: D.default_layer, metric: "firm", siteMarkers: []};
  var byKey = {};
  D.layers.forEach(function (l) { byKey[l.key] = l; });
  var col = {};
  D.fig.cols.forEach(function (c, j) { col[c] = j; });
  var dirs = Object.keys(D.directions);
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(v, d) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    return Number(v).toFixed(d === undefined ? 2 : d);
  }
  function pct(v) { return v === null || v === undefined ? "\u2013" : Math.round(v * 100) + " %"; }
  function hex(c) { return [1, 3, 5].map(function (k) { return parseInt(c.substr(k, 2), 16); }); }
  function ramp(stops, t) {
    if (t >= 1) return stops[stops.length - 1];
    if (t <= 0) return stops[0];
    var x = t * (stops.length - 1), i = Math.floor(x), f = x - i;
    var a = hex(stops[i]), b = hex(stops[i + 1]);
    return "#" + a.map(function (ai, k) {
      var v = Math.round(ai + (b[k] - ai) * f);
      return (v < 16 ? "0" : "") + v.toString(16);
    }).join("");
  }
  function scaleT(s, v) {
    if (!(s.vmax > s.vmin)) return 0;
    var f = function (x) { return Math.log1p(Math.max(x, 0) / s.k); };
    var span = f(s.vmax) - f(s.vmin);
    if (!(span > 0)) return 0;
    return Math.min(1, Math.max(0, (f(v) - f(s.vmin)) / span));
  }
  function row(i, key) {
    var l = byKey[key];
    return l ? D.fig.data[l.scenario][l.direction][i] : null;
  }
  // a gain layer (l.base set) colours by the what-if's figure minus its base's, as the
  // page carries them (webmap.gain_layers computes the same for the scale)
  function value(i, key, metric) {
    var r = row(i, key), l = byKey[key], c = col[metric || A.metric];
    if (!r) return null;
    if (!l.base) return r[c];
    var b = D.fig.data[l.base][l.direction][i];
    if (!b || r[c] === null || b[c] === null) return null;
    return r[c] - b[c];
  }
  function meets(i, key) { var r = row(i, key || A.key); return !!(r && r[col.meets] === 1); }
  function fill(i) {
    var v = value(i, A.key);
    if (v === null || v === undefined) return D.no_data_color;
    return ramp(D.colors, scaleT(byKey[A.key].scales[A.metric], v));
  }
  A.esc = esc; A.fill = fill; A.value = value; A.meets = meets;

  function areaStyle(i) {
    var m = meets(i);
    return {fillColor: fill(i), fillOpacity: 0.78, color: m ? D.meets_color : "#4d4d4d",
            weight: m ? 4 : 0.8, opacity: m ? 1 : 0.75};
  }
  function siteStyle(i) {
    var m = meets(i);
    if (!D.areas) {
      return {radius: m ? 10 : 8, fillColor: fill(i), fillOpacity: 0.95,
              color: m ? D.meets_color : "#333", weight: m ? 3.5 : 1};
    }
    return {radius: m ? 7 : 3.5, fillColor: m ? D.meets_color : "#262626", fillOpacity: 1,
            color: "#fff", weight: m ? 2 : 1};
  }

  function psTitle(i) {
    return "<b>" + esc(D.ps.name[i] || D.ps.id[i]) + "</b> <span class=\"id\">" +
      esc(D.ps.id[i]) + "</span>";
  }
  function tooltip(i) {
    var l = byKey[A.key];
    var h = ["<div class=\"atlas-tip\">" + psTitle(i) + "<br>" + esc(l.scenario) +
             ": firm / mean, verdict at " + num(l.availability * 100, 0) + " % of hours<table>"];
    if (l.base) return gainTip(i, l);
    dirs.forEach(function (d) {
      var k = l.scenario + "|" + d, r = row(i, k), u = D.directions[d].unit;
      if (!r) return;
      h.push("<tr><td>" + D.directions[d].label + "</td><td>" + num(r[col.firm]) + " / " +
             num(r[col.mean]) + " " + u + "</td><td>" + (r[col.meets] === 1 ?
             "<b style=\"color:" + D.meets_color + "\">meets</b>" : "") + "</td></tr>");
    });
    return h.join("") + "</table></div>";
  }

  function gainTip(i, l) {
    var h = ["<div class=\"atlas-tip\">" + psTitle(i) + "<br>" + esc(l.base) + " \u2192 " +
             esc(l.scenario) + ": firm value (gain)<table>"];
    dirs.forEach(function (d) {
      var k = l.scenario + "|" + d, r = row(i, k), u = D.directions[d].unit;
      var b = D.fig.data[l.base][d][i];
      if (!r || !b) return;
      h.push("<tr><td>" + D.directions[d].label + "</td><td>" + num(b[col.firm]) + " \u2192 " +
             num(r[col.firm]) + " " + u + " (+" + num(r[col.firm] - b[col.firm]) + ")</td><td>" +
             (r[col.meets] === 1 ? "<b style=\"color:" + D.meets_color + "\">meets</b>" : "") +
             "</td></tr>");
    });
    return h.join("") + "</table></div>";
  }

  // ---- popup: capacities, figures, envelope chart, heatmaps ---------------------------------
  function capTable(i) {
    var techs = D.cap.techs;
    if (!techs.length) return "";
    var h = ["<h4>Installed capacity [MW]</h4><table><tr><th></th>"];
    D.cap.labels.forEach(function (t) { h.push("<th>" + esc(t) + "</th>"); });
    h.push("</tr>");
    D.scenarios.forEach(function (s) {
      h.push("<tr><td>" + esc(s) + "</td>");
      D.cap.data[s][i].forEach(function (v) { h.push("<td>" + num(v) + "</td>"); });
      h.push("</tr>");
    });
    return h.join("") + "</table>";
  }
  function figTable(i) {
    var hasH = col.h_over !== undefined;
    var h = ["<h4>Flexibility, yearly statistics of the hourly figures</h4><table><tr>" +
             "<th></th><th>firm</th><th>mean</th><th>min</th><th>p10</th><th>p50</th><th>p90</th>" +
             "<th>max</th><th>\u2265 thr.</th><th>run h</th>" + (hasH ? "<th>h &gt; rating</th>" : "") +
             "<th>verdict</th></tr>"];
    var order = [D.scenario].concat(D.scenarios.filter(function (s) { return s !== D.scenario; }));
    order.forEach(function (s) {
      var any = dirs.some(function (d) { return row(i, s + "|" + d); });
      if (!any) return;
      h.push("<tr class=\"sc\"><td colspan=\"12\">" + esc(s) + "</td></tr>");
      dirs.forEach(function (d) {
        var key = s + "|" + d, r = row(i, key), l = byKey[key];
        if (!r) return;
        var u = D.directions[d].unit;
        h.push("<tr data-fig=\"" + d + "\"><td>" + D.directions[d].label + " [" + u + "]</td>" +
          "<td>" + num(r[col.firm]) + "</td><td>" + num(r[col.mean]) + "</td>" +
          "<td>" + num(r[col.min]) + "</td><td>" + num(r[col.p10]) + "</td><td>" + num(r[col.p50]) +
          "</td><td>" + num(r[col.p90]) + "</td><td>" + num(r[col.max]) + "</td>" +
          "<td>" + pct(r[col.share]) + "</td><td>" + num(r[col.run_h], 0) + "</td>" +
          (hasH ? "<td>" + num(r[col.h_over], 0) + "</td>" : "") +
          "<td>" + (r[col.meets] === 1 ? "<span class=\"yes\">meets</span>" : "no") + "</td></tr>");
      });
    });
    var l0 = byKey[D.default_layer], thr = [];
    D.layers.forEach(function (l) {
      var t = num(l.threshold, 0) + " " + l.unit;
      if (thr.indexOf(t) < 0) thr.push(t);
    });
    return h.join("") + "</table><div class=\"note\">firm: the level reached in at least " +
      num(l0.availability * 100, 0) + " % of the hours; \u2265 thr.: share of hours at or above " +
      "the threshold (" + thr.join(", ") + "); run h: longest run of such hours; verdict: " +
      "firm \u2265 threshold.</div>";
  }
  var SC_COLORS = ["#4575b4", "#d73027", "#1a9850", "#762a83", "#8c510a"];
  function envSvg(i) {
    var e = D.env.data[i];
    if (!e) return "";
    var W = 230, H = 170, L0 = 36, B0 = 26, T0 = 8, R0 = 8, g = D.env.grid;
    var pw = W - L0 - R0, ph = H - T0 - B0;
    var h = ["<svg width=\"" + W + "\" height=\"" + (H + 30) + "\" class=\"atlas-env\">"];
    h.push("<rect x=\"" + L0 + "\" y=\"" + T0 + "\" width=\"" + pw + "\" height=\"" + ph +
           "\" fill=\"#fafafa\" stroke=\"#999\"/>");
    e.r.forEach(function (r) {
      var kind = D.env.kinds[r[0]], pts = [];
      for (var k = 0; k + 1 < r[2].length; k += 2) {
        pts.push((L0 + r[2][k] / g * pw).toFixed(1) + "," + (T0 + ph - r[2][k + 1] / g * ph).toFixed(1));
      }
      var style;
      if (kind === "cloud_convex") style = "fill=\"#e3e3e3\" stroke=\"#bdbdbd\"";
      else if (kind === "cloud_concave") style = "fill=\"#bdbdbd\" stroke=\"none\"";
      else style = "fill=\"none\" stroke=\"" + SC_COLORS[r[1] % SC_COLORS.length] + "\" stroke-width=\"1.6\"";
      h.push("<polygon points=\"" + pts.join(" ") + "\" " + style + "/>");
    });
    var b = e.b;
    h.push("<text x=\"" + L0 + "\" y=\"" + (T0 + ph + 11) + "\">" + num(b[0], 0) + "</text>");
    h.push("<text x=\"" + (L0 + pw) + "\" y=\"" + (T0 + ph + 11) + "\" text-anchor=\"end\">" + num(b[2], 0) + "</text>");
    h.push("<text x=\"" + (L0 + pw / 2) + "\" y=\"" + (T0 + ph + 22) + "\" text-anchor=\"middle\">P [MW] (load convention)</text>");
    h.push("<text x=\"" + (L0 - 3) + "\" y=\"" + (T0 + ph) + "\" text-anchor=\"end\">" + num(b[1], 0) + "</text>");
    h.push("<text x=\"" + (L0 - 3) + "\" y=\"" + (T0 + 8) + "\" text-anchor=\"end\">" + num(b[3], 0) + "</text>");
    h.push("<text transform=\"translate(9," + (T0 + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">Q [Mvar]</text>");
    var y = H + 6, x = L0 - 30;
    h.push("<rect x=\"" + x + "\" y=\"" + (y - 1) + "\" width=\"10\" height=\"8\" fill=\"#bdbdbd\"/>" +
           "<text x=\"" + (x + 13) + "\" y=\"" + (y + 7) + "\">" + esc(D.scenarios[0]) + " cloud (hulls)</text>");
    var present = {};
    e.r.forEach(function (r) { if (D.env.kinds[r[0]] === "year") present[r[1]] = true; });
    var xs = x, ys = y + 12;
    Object.keys(present).forEach(function (si) {
      h.push("<line x1=\"" + xs + "\" x2=\"" + (xs + 10) + "\" y1=\"" + (ys + 3) + "\" y2=\"" + (ys + 3) +
             "\" stroke=\"" + SC_COLORS[si % SC_COLORS.length] + "\" stroke-width=\"2\"/>" +
             "<text x=\"" + (xs + 13) + "\" y=\"" + (ys + 7) + "\">" + esc(D.scenarios[si]) + "</text>");
      xs += 20 + 6 * String(D.scenarios[si]).length + 10;
    });
    h.push("</svg>");
    return "<div><h4>Yearly P-Q envelopes</h4>" + h.join("") + "</div>";
  }
  function heatSvg(i) {
    var hd = D.heat.data[i];
    if (!hd) return "";
    var c = 5, gw = 24 * c, gh = 12 * c, gap = 14, lw = 12;
    var W = lw + 2 * gw + gap, H = 2 * (gh + 24) + 18;
    var h = ["<svg width=\"" + W + "\" height=\"" + H + "\" class=\"atlas-heat\">"];
    dirs.forEach(function (d, f) {
      var s = hd[f];
      var ox = lw + (f % 2) * (gw + gap), oy = Math.floor(f / 2) * (gh + 24) + 12;
      var l = byKey[D.heat.scenario + "|" + d];
      h.push("<text x=\"" + ox + "\" y=\"" + (oy - 3) + "\">" + D.directions[d].short +
             (l ? " \u2265 " + num(l.threshold, 0) + " " + l.unit : "") + "</text>");
      if (!s) { h.push("<text x=\"" + ox + "\" y=\"" + (oy + 20) + "\">no data</text>"); return; }
      for (var m = 0; m < 12; m++) {
        for (var hr = 0; hr < 24; hr++) {
          var code = s.charAt(m * 24 + hr), lev = D.heat.codes.indexOf(code);
          var fillc = lev < 0 ? "#fff" : ramp(D.heat_colors, lev / D.heat.levels);
          h.push("<rect x=\"" + (ox + hr * c) + "\" y=\"" + (oy + m * c) + "\" width=\"" + c +
                 "\" height=\"" + c + "\" fill=\"" + fillc + "\"><title>" + MONTHS[m] + ", " + hr +
                 ":00: " + (lev < 0 ? "no data" : Math.round(lev / D.heat.levels * 100) + " %") +
                 "</title></rect>");
        }
      }
      h.push("<rect x=\"" + ox + "\" y=\"" + oy + "\" width=\"" + gw + "\" height=\"" + gh +
             "\" fill=\"none\" stroke=\"#999\"/>");
      if (f % 2 === 0) {
        h.push("<text x=\"" + (ox - 2) + "\" y=\"" + (oy + 7) + "\" text-anchor=\"end\">J</text>" +
               "<text x=\"" + (ox - 2) + "\" y=\"" + (oy + gh) + "\" text-anchor=\"end\">D</text>");
      }
      h.push("<text x=\"" + ox + "\" y=\"" + (oy + gh + 10) + "\">0 h</text><text x=\"" + (ox + gw) +
             "\" y=\"" + (oy + gh + 10) + "\" text-anchor=\"end\">23 h</text>");
    });
    var ly = H - 6;
    h.push("<text x=\"" + lw + "\" y=\"" + ly + "\">0 %</text>");
    for (var k = 0; k <= 10; k++) {
      h.push("<rect x=\"" + (lw + 22 + k * 8) + "\" y=\"" + (ly - 8) + "\" width=\"8\" height=\"8\" fill=\"" +
             ramp(D.heat_colors, k / 10) + "\"/>");
    }
    h.push("<text x=\"" + (lw + 22 + 11 * 8 + 3) + "\" y=\"" + ly + "\">100 % of hours</text></svg>");
    return "<div><h4>" + esc(D.heat.scenario) + ": share of hours \u2265 threshold</h4>" +
      "<div class=\"note\">month (rows) \u00d7 local hour (columns)</div>" + h.join("") + "</div>";
  }
  function popup(i) {
    var meta = [];
    if (D.ps.mva[i] !== null) meta.push(num(D.ps.mva[i], 0) + " MVA");
    if (D.ps.km2[i] !== null) meta.push(num(D.ps.km2[i]) + " km\u00b2");
    if (D.ps.ders[i] !== null) meta.push(num(D.ps.ders[i], 0) + " DERs");
    return "<div class=\"atlas-pop\" data-ps-index=\"" + i + "\"><div class=\"hd\">" + psTitle(i) +
      "</div><div>" + meta.join(" \u00b7 ") + "</div>" + capTable(i) + figTable(i) +
      "<div class=\"charts\">" + envSvg(i) + heatSvg(i) + "</div></div>";
  }
  A.popup = popup; A.tooltip = tooltip;
  var POPUP = {maxWidth: 680, minWidth: 300, autoPanPadding: [20, 20]};

  // ---- layers --------------------------------------------------------------------------------
  map.createPane("atlasBoundary").style.zIndex = 420;
  map.createPane("atlasSites").style.zIndex = 450;
  var SCALE = Math.pow(10, D.coord_decimals);
  function decode(shapes) {  // encode_polygons() -> GeoJSON, "i" = index of the PS / part
    var features = [];
    shapes.forEach(function (polys, i) {
      if (!polys.length) return;  // an empty area: its PS has a marker only
      features.push({type: "Feature", properties: {i: i}, geometry: {type: "MultiPolygon",
        coordinates: polys.map(function (rings) {
          return rings.map(function (r) {
            var x = 0, y = 0, out = [];
            for (var k = 0; k + 1 < r.length; k += 2) {
              x += r[k]; y += r[k + 1];
              out.push([x / SCALE, y / SCALE]);
            }
            out.push(out[0]);
            return out;
          });
        })}});
    });
    return {type: "FeatureCollection", features: features};
  }
  if (D.areas) {
    A.areas = L.geoJSON(decode(D.areas.features), {
      className: "atlas-area",
      style: function (f) { return areaStyle(f.properties.i); },
      onEachFeature: function (f, layer) {
        layer.on("add", function () {
          var el = layer.getElement();
          if (el) el.setAttribute("data-ps", D.ps.id[f.properties.i]);
        });
      }
    });
    A.areas.bindTooltip(function (l) { return tooltip(l.feature.properties.i); },
                        {sticky: true, direction: "top", offset: [0, -8], className: "atlas-area-tip"});
    A.areas.bindPopup(function (l) { return popup(l.feature.properties.i); }, POPUP);
  }
  function restyle() {
    if (A.areas) {
      A.areas.eachLayer(function (l) { l.setStyle(areaStyle(l.feature.properties.i)); });
      if (map.hasLayer(A.areas)) {
        A.areas.eachLayer(function (l) { if (meets(l.feature.properties.i)) l.bringToFront(); });
      }
    }
    A.siteMarkers.forEach(function (mk) { mk.setStyle(siteStyle(mk.psIndex)); });
    if (A.legend) A.legend.update();
    declutter();
  }
  A.setLayer = function (key) { A.key = key; restyle(); };
  A.setMetric = function (metric) { A.metric = metric; restyle(); };
  var Choropleth = L.Layer.extend({
    initialize: function (key) { this.key = key; },
    onAdd: function (m) { A.key = this.key; if (A.areas) m.addLayer(A.areas); restyle(); },
    onRemove: function (m) { if (A.areas && A.key === this.key) m.removeLayer(A.areas); }
  });
  A.choropleth = function (key) { return new Choropleth(key); };

  A.boundaryLayer = function () {
    return L.geoJSON(decode(D.boundary.features), {pane: "atlasBoundary", interactive: false, className: "atlas-boundary",
      style: {color: "#252525", weight: 2, dashArray: "6 4", fill: false}});
  };

  function priority(i) {
    var v = value(i, A.key);
    return (meets(i) ? 1e12 : 0) + (v === null || v === undefined ? -1 : v);
  }
  // PS labels: only when at most D.label_max sites are in view, most important first
  // (meeting the threshold, then by value), none overlapping another
  A.labels = L.layerGroup().addTo(map);
  function dropLabel(tt) {  // at once: a tooltip otherwise fades out for 200 ms
    var el = tt.getElement();
    A.labels.removeLayer(tt);
    if (el) L.DomUtil.remove(el);
  }
  function declutter() {
    A.labels.getLayers().forEach(dropLabel);
    if (!A.sites || !map.hasLayer(A.sites)) return;
    var view = map.getBounds().pad(0.05);
    var items = A.siteMarkers.filter(function (mk) { return view.contains(mk.getLatLng()); });
    if (items.length > D.label_max) return;
    items.sort(function (a, b) { return priority(b.psIndex) - priority(a.psIndex); });
    var kept = [];
    items.forEach(function (mk) {
      var i = mk.psIndex;
      var tt = L.tooltip({permanent: true, direction: "right", offset: [meets(i) ? 8 : 5, 0],
        className: "atlas-label" + (meets(i) ? " meets" : ""), pane: "tooltipPane"})
        .setLatLng(mk.getLatLng()).setContent(esc(D.ps.name[i] || D.ps.id[i]));
      A.labels.addLayer(tt);
      var el = tt.getElement(), r = el.getBoundingClientRect();
      var hit = kept.some(function (k) {
        return !(r.right + 2 < k.left || r.left - 2 > k.right || r.bottom < k.top || r.top > k.bottom);
      });
      if (hit) dropLabel(tt); else { kept.push(r); el.setAttribute("data-ps", D.ps.id[i]); }
    });
  }
  A.declutter = declutter;
  map.on("zoomend moveend overlayadd overlayremove", function () { setTimeout(declutter, 0); });

  A.siteLayer = function () {
    var g = L.featureGroup();
    for (var i = 0; i < D.ps.id.length; i++) {
      if (D.ps.lat[i] === null || D.ps.lon[i] === null) continue;
      var mk = L.circleMarker([D.ps.lat[i], D.ps.lon[i]],
                              L.extend({pane: "atlasSites", className: "atlas-site"}, siteStyle(i)));
      mk.psIndex = i;
      (function (mk, i) {
        mk.on("add", function () {
          var el = mk.getElement();
          if (el) el.setAttribute("data-ps", D.ps.id[i]);
        });
      })(mk, i);
      mk.addTo(g);
      A.siteMarkers.push(mk);
    }
    g.bindPopup(function (l) { return popup(l.psIndex); }, POPUP);
    A.sites = g;
    return g;
  };

  A.derLayer = function (tech) {
    var spec = D.der.filter(function (d) { return d.tech === tech; })[0];
    var icon = L.divIcon({className: "atlas-der", iconSize: [10, 10],
                          html: "<span style=\"background:" + spec.color + "\"></span>"});
    var cluster = L.markerClusterGroup({
      chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50,
      iconCreateFunction: function (c) {
        return L.divIcon({html: "<div style=\"background:" + spec.color + "\">" + c.getChildCount() +
          "</div>", className: "atlas-cluster", iconSize: L.point(36, 36)});
      }
    });
    var filled = false;
    cluster.on("add", function () {
      if (filled) return;
      filled = true;
      cluster.addLayers(spec.rows.map(function (r) {
        return L.marker([r[0] / SCALE, r[1] / SCALE], {icon: icon}).bindTooltip(function () {
          var ps = r[4] >= 0 ? esc(D.ps.name[r[4]] || D.ps.id[r[4]]) : "outside every area";
          var detail = spec.details[r[5]];
          return "<b>" + esc(r[3]) + "</b><br>" + esc(spec.label) + (detail ? " \u00b7 " + esc(detail) : "") +
            "<br>" + num(r[2], 1) + " kW \u00b7 PS: " + ps;
        }, {className: "atlas-der-tip"});
      }));
    });
    return cluster;
  };

  // ---- controls --------------------------------------------------------------------------------
  function legendHtml() {
    var l = byKey[A.key], d = D.directions[l.direction], s = l.scales[A.metric];
    var what = A.metric === "firm" ?
      "firm value (reached in \u2265 " + num(l.availability * 100, 0) + " % of hours)" : "mean over the year";
    var title = esc(l.scenario);
    if (l.base) {
      title = "gain of " + esc(l.scenario) + " over " + esc(l.base);
      what = "increase of the " + (A.metric === "firm" ? "firm value" : "mean");
    }
    var h = ["<div class=\"t\">" + title + " \u00b7 " + d.label + ": " + what + " [" + l.unit + "]</div>",
             "<div class=\"s\">" + d.text + "</div>"];
    if (s.vmin === null) return h.join("") + "<div>no data</div>";
    var stops = D.colors.map(function (c, k) { return c + " " + (k / (D.colors.length - 1) * 100).toFixed(1) + "%"; });
    h.push("<div class=\"bar\" style=\"background:linear-gradient(to right," + stops.join(",") + ")\"></div>");
    h.push("<div class=\"ticks\">");
    s.ticks.forEach(function (t) {
      var cls = t[1] <= 0 ? "l" : (t[1] >= 1 ? "r" : "");
      h.push("<i style=\"left:" + (t[1] * 100).toFixed(1) + "%\"></i><span class=\"" + cls +
             "\" style=\"left:" + (t[1] * 100).toFixed(1) + "%\">" + t[2] + "</span>");
    });
    var thr = l.threshold, note;
    if (l.base) {  // the threshold is on the figure, not on its gain
      note = "outlines: the PS that meet the threshold in " + esc(l.scenario);
    } else if (thr >= s.vmin && thr <= s.vmax) {
      h.push("<b class=\"thr\" style=\"left:" + (scaleT(s, thr) * 100).toFixed(1) + "%\"></b>");
      note = "orange mark: threshold " + num(thr, 0) + " " + l.unit;
    } else {
      note = "threshold " + num(thr, 0) + " " + l.unit + (thr > s.vmax ? " is above" : " is below") + " the scale";
    }
    h.push("</div><div class=\"n\">log scale, min to max of the areas \u00b7 " + note +
           (D.basis ? " \u00b7 " + esc(D.basis) : "") + "</div>");
    h.push("<div class=\"key\"><svg width=\"26\" height=\"14\"><rect x=\"2\" y=\"2\" width=\"22\" height=\"10\" fill=\"" +
           D.colors[4] + "\" stroke=\"" + D.meets_color + "\" stroke-width=\"3\"/></svg>" +
           "<svg width=\"14\" height=\"14\"><circle cx=\"7\" cy=\"7\" r=\"5.5\" fill=\"" + D.meets_color +
           "\" stroke=\"#fff\" stroke-width=\"1.5\"/></svg><span>meets the threshold: firm \u2265 " +
           num(thr, 0) + " " + l.unit + " (" + l.n_meets + " PS)</span></div>");
    h.push("<div class=\"key\"><svg width=\"26\" height=\"14\"><rect x=\"2\" y=\"2\" width=\"22\" height=\"10\" fill=\"" +
           D.no_data_color + "\" stroke=\"#4d4d4d\"/></svg><span>no value</span>" +
           "<svg width=\"14\" height=\"14\"><circle cx=\"7\" cy=\"7\" r=\"3.5\" fill=\"#262626\" stroke=\"#fff\"/></svg>" +
           "<span>PS site</span></div>");
    return h.join("");
  }
  A.addControls = function () {
    var Legend = L.Control.extend({
      options: {position: "bottomleft"},
      onAdd: function () {
        var div = L.DomUtil.create("div", "atlas-box atlas-legend");
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        this._div = div;
        this.update();
        return div;
      },
      update: function () { this._div.innerHTML = legendHtml(); }
    });
    var Metric = L.Control.extend({
      options: {position: "topright"},
      onAdd: function () {
        var div = L.DomUtil.create("div", "atlas-box atlas-metric");
        div.innerHTML = "<b>Colour by</b>" +
          "<label><input type=\"radio\" name=\"atlas-metric\" value=\"firm\" checked> firm value</label>" +
          "<label><input type=\"radio\" name=\"atlas-metric\" value=\"mean\"> mean</label>";
        L.DomEvent.disableClickPropagation(div);
        div.querySelectorAll("input").forEach(function (inp) {
          inp.addEventListener("change", function () { if (inp.checked) A.setMetric(inp.value); });
        });
        return div;
      }
    });
    var Info = L.Control.extend({
      options: {position: "topright"},
      onAdd: function () {
        var div = L.DomUtil.create("div", "atlas-box atlas-info");
        div.innerHTML = "<h1>Flexibility atlas: " + esc(D.study.name) +
          (D.study.year ? " (" + esc(D.study.year) + ")" : "") + "</h1>" +
          "<div>" + D.ps.id.length + " primary substations \u00b7 scenario " + esc(D.scenario) +
          " \u00b7 click " + (D.areas ? "an area" : "a PS") + " for its figures</div>" +
          (D.study.description ? "<details><summary>About the study</summary>" +
            esc(D.study.description) + "</details>" : "");
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      }
    });
    // top right, in this order: the title, the metric switch, the layer control
    A.info = new Info().addTo(map);
    A.metricControl = new Metric().addTo(map);
    var lc = map.getContainer().querySelector(".leaflet-control-layers");
    [A.info, A.metricControl].forEach(function (c) {
      if (lc && c.getContainer().parentNode === lc.parentNode) {
        lc.parentNode.insertBefore(c.getContainer(), lc);
      }
    });
    A.legend = new Legend().addTo(map);
    if (D.attribution) map.attributionControl.addAttribution(D.attribution);
    restyle();
    // the study in view, clear of the title, the metric switch and the layer control
    // (right; paddings in screen pixels): at once, not a zoom animation from the
    // provisional view the page starts in
    map.fitBounds(D.bounds, {paddingTopLeft: [50, 30], paddingBottomRight: [300, 30],
                             animate: false});
  };
  window.atlasApp = A;
  return A;
}

// The online page loads Leaflet and the basemap from the web. Its body holds a note
// (#atlas-offline-note, visible by default) saying so: hidden as soon as Leaflet is there,
// removed once the page is parsed (every head script has run or failed by then), kept when
// window.L is missing. The offline page has no note.
(function () {
  "use strict";
  function leafletLoaded() { return typeof window.L === "object" && window.L !== null; }
  if (leafletLoaded()) document.documentElement.classList.add("atlas-has-leaflet");
  function check() {
    var note = document.getElementById("atlas-offline-note");
    if (note && leafletLoaded()) note.parentNode.removeChild(note);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", check);
  else check();
  window.addEventListener("load", check);
})();

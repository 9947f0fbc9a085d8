// RetroVue's web guide (contracts/http.md HTTP-030, HTTP-031): the channel grid over the next
// hours with a now-line, what is on now highlighted, and a player for the clicked channel. It
// reads only /api, in the daemon's time (which may be set: `serve --clock`), shown in the
// viewer's own time zone.
(function () {
  "use strict";

  var HOURS = 3;
  var SLOT_MS = 30 * 60 * 1000;
  var PX_PER_MIN = 6;
  var HEAD_PX = 190;

  var state = {
    channels: [],
    rows: [],
    now: {},
    offsetMs: 0, // daemon clock minus this browser's clock
    start: 0,
    end: 0,
    playing: null,
    hls: null,
    refreshedAt: null
  };
  window.retrovueGuide = state;

  var timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var dayFmt = new Intl.DateTimeFormat(undefined, {
    weekday: "short", hour: "numeric", minute: "2-digit", timeZoneName: "short"
  });

  function daemonNow() {
    return Date.now() + state.offsetMs;
  }

  function iso(ms) {
    return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") {
        node.textContent = attrs[k];
      } else if (k === "class") {
        node.className = attrs[k];
      } else if (k.indexOf("data-") === 0) {
        node.setAttribute(k, attrs[k]);
      } else {
        node[k] = attrs[k];
      }
    });
    (children || []).forEach(function (c) {
      if (c) {
        node.appendChild(c);
      }
    });
    return node;
  }

  // HTTP-030: a request not answered within this is abandoned and counts as a failed fetch, so
  // the refresh loop goes on (a fetch without a deadline can wait forever on a lost connection).
  var FETCH_TIMEOUT_MS = 15 * 1000;

  function getJSON(url) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, FETCH_TIMEOUT_MS);
    return fetch(url, { cache: "no-store", signal: controller.signal }).then(function (r) {
      if (r.status === 503) {
        return null; // a schedule gap: nothing on now
      }
      if (!r.ok) {
        throw new Error(url + ": HTTP " + r.status);
      }
      return r.json();
    }).catch(function (e) {
      if (e && e.name === "AbortError") {
        throw new Error(url + ": no answer within " + FETCH_TIMEOUT_MS / 1000 + " s");
      }
      throw e;
    }).finally(function () {
      clearTimeout(timer);
    });
  }

  function episodeLabel(p) {
    var parts = [];
    if (p.season != null && p.episode != null) {
      parts.push("S" + String(p.season).padStart(2, "0") + "E" + String(p.episode).padStart(2, "0"));
    }
    if (p.episode_title) {
      parts.push(p.episode_title);
    }
    return parts.join(" · ");
  }

  function span(p) {
    return timeFmt.format(new Date(p.start)) + " – " + timeFmt.format(new Date(p.end));
  }

  function hlsUrl(c) {
    return "/channel/" + encodeURIComponent(c.id) + ".m3u8";
  }

  function logoPath(c) {
    // Same-origin logos by path (the daemon's own), configured remote URLs as they are.
    try {
      var u = new URL(c.logo, location.href);
      return u.host === location.host ? u.pathname : c.logo;
    } catch (e) {
      return "/logo/" + encodeURIComponent(c.id) + ".svg";
    }
  }

  async function refresh() {
    var channels = await getJSON("/api/channels");
    var nows = await Promise.all(channels.map(function (c) {
      return getJSON("/api/channels/" + encodeURIComponent(c.id) + "/now").catch(function () {
        return null;
      });
    }));
    var at = nows.filter(Boolean).map(function (n) { return Date.parse(n.at); })[0];
    if (at) {
      state.offsetMs = at - Date.now();
    }
    var now = daemonNow();
    var start = Math.floor(now / SLOT_MS) * SLOT_MS;
    var end = start + HOURS * 3600 * 1000;
    var rows = await getJSON("/api/epg?from=" + encodeURIComponent(iso(start)) +
      "&to=" + encodeURIComponent(iso(end)));
    state.channels = channels;
    state.rows = rows || [];
    state.now = {};
    channels.forEach(function (c, i) {
      state.now[c.id] = nows[i] && nows[i].programme ? nows[i].programme : null;
    });
    state.start = start;
    state.end = end;
    state.refreshedAt = iso(now);
    render();
    renderDetails();
  }

  function x(ms) {
    return (Math.max(ms, state.start) - state.start) / 60000 * PX_PER_MIN;
  }

  function render() {
    var guide = document.getElementById("guide");
    var width = (state.end - state.start) / 60000 * PX_PER_MIN;
    var grid = el("div", { class: "grid" });
    grid.style.setProperty("--width", width + "px");

    var times = el("div", { class: "times" }, [el("div", { class: "head", text: "" })]);
    var slots = el("div", { class: "cells" });
    for (var t = state.start; t < state.end; t += SLOT_MS) {
      var slot = el("div", { class: "slot", text: timeFmt.format(new Date(t)) });
      slot.style.left = x(t) + "px";
      slot.style.width = (SLOT_MS / 60000 * PX_PER_MIN) + "px";
      slots.appendChild(slot);
    }
    times.appendChild(slots);
    grid.appendChild(times);

    state.channels.forEach(function (c) {
      var now = state.now[c.id];
      var head = el("div", { class: "head", title: c.number + " " + c.name }, [
        el("img", { src: logoPath(c), alt: c.name + " logo", loading: "eager" }),
        el("span", { class: "number", text: c.number }),
        el("span", { class: "name", text: c.name })
      ]);
      var cells = el("div", { class: "cells" });
      state.rows.filter(function (r) { return r.channel === c.id; }).forEach(function (r) {
        var isNow = now && r.start === now.start && r.title === now.title;
        var attrs = {
          class: "cell" + (r.filler ? " filler" : "") + (isNow ? " now" : ""),
          title: r.title + (episodeLabel(r) ? " — " + episodeLabel(r) : "") + "\n" + span(r)
        };
        if (isNow) {
          attrs["data-now"] = c.id;
        }
        var cell = el("div", attrs, [
          el("div", { class: "title", text: r.title }),
          el("div", { class: "sub", text: episodeLabel(r) || span(r) })
        ]);
        cell.style.left = x(Date.parse(r.start)) + "px";
        cell.style.width = Math.max(0, x(Date.parse(r.end)) - x(Date.parse(r.start))) + "px";
        cells.appendChild(cell);
      });
      var row = el("div", {
        class: "row" + (state.playing === c.id ? " playing" : ""),
        "data-channel": c.id
      }, [head, cells]);
      row.addEventListener("click", function () { play(c.id); });
      grid.appendChild(row);
    });

    grid.appendChild(el("div", { class: "nowline", id: "nowline" }));
    guide.replaceChildren(grid);
    moveNowLine();
  }

  function moveNowLine() {
    var now = daemonNow();
    var line = document.getElementById("nowline");
    if (line) {
      line.style.left = (HEAD_PX + x(now)) + "px";
    }
    var clock = document.getElementById("clock");
    clock.textContent = dayFmt.format(new Date(now));
    clock.dateTime = iso(now);
  }

  function channelById(id) {
    return state.channels.filter(function (c) { return c.id === id; })[0];
  }

  function renderDetails() {
    var c = channelById(state.playing);
    var details = document.getElementById("details");
    if (!c) {
      return;
    }
    var p = state.now[c.id];
    var m3u8 = hlsUrl(c);
    var ts = "/channel/" + encodeURIComponent(c.id) + ".ts";
    details.replaceChildren(
      el("h2", {}, [
        el("img", { src: logoPath(c), alt: "" }),
        document.createTextNode(c.number + " " + c.name)
      ]),
      p ? el("div", { class: "programme", "data-playing-now": c.id }, [
        el("h3", { class: "title", text: p.title }),
        episodeLabel(p) ? el("div", { class: "episode", text: episodeLabel(p) }) : null,
        el("div", { class: "meta", text: span(p) + (p.year ? " · " + p.year : "") +
          (p.rating ? " · " + p.rating : "") + (p.category ? " · " + p.category : "") }),
        p.description ? el("p", { class: "desc", text: p.description }) : null
      ]) : el("p", { class: "meta", text: "Nothing is scheduled now." }),
      el("div", { class: "links" }, [
        el("a", { href: m3u8, text: "HLS stream", id: "link-hls" }),
        el("a", { href: ts, text: "MPEG-TS stream", id: "link-ts" }),
        el("a", { href: "/channellist.m3u", text: "M3U playlist" }),
        el("a", { href: "/epg.xml", text: "XMLTV guide" })
      ])
    );
  }

  function loadHlsJs() {
    if (window.Hls) {
      return Promise.resolve(window.Hls);
    }
    return new Promise(function (resolve, reject) {
      var s = el("script", { src: "/static/hls.min.js" });
      s.onload = function () { resolve(window.Hls); };
      s.onerror = function () { reject(new Error("cannot load /static/hls.min.js")); };
      document.head.appendChild(s);
    });
  }

  function play(id) {
    var c = channelById(id);
    if (!c) {
      return;
    }
    state.playing = id;
    document.getElementById("player").hidden = false;
    Array.prototype.forEach.call(document.querySelectorAll(".row"), function (r) {
      r.classList.toggle("playing", r.getAttribute("data-channel") === id);
    });
    renderDetails();
    var video = document.getElementById("video");
    var url = hlsUrl(c);
    if (state.hls) {
      state.hls.destroy();
      state.hls = null;
    }
    video.setAttribute("data-channel", id);
    video.setAttribute("data-source", url);
    var native = video.canPlayType("application/vnd.apple.mpegurl") !== "";
    function playNative() {
      video.setAttribute("data-player", "native");
      video.src = url;
      video.play().catch(function () {});
    }
    // hls.js wherever Media Source Extensions exist (desktop browsers; Chromium's own HLS claim
    // is not dependable), the browser's own HLS otherwise (iOS) — HTTP-031.
    if (!(window.MediaSource || window.ManagedMediaSource) && native) {
      playNative();
      return;
    }
    video.setAttribute("data-player", "hls.js");
    loadHlsJs().then(function (Hls) {
      if (!Hls || !Hls.isSupported()) {
        if (native) {
          playNative();
        } else {
          video.setAttribute("data-player", "none");
        }
        return;
      }
      if (state.playing !== id) {
        return;
      }
      var hls = new Hls({ liveSyncDurationCount: 3 });
      state.hls = hls;
      hls.loadSource(url);
      hls.attachMedia(video);
      hls.on(Hls.Events.MANIFEST_PARSED, function () {
        video.play().catch(function () {});
      });
    }).catch(function () {
      video.setAttribute("data-player", "none");
    });
  }

  function showError(e) {
    var status = document.getElementById("status");
    if (status) {
      status.textContent = "The guide could not be loaded: " + e.message;
    }
  }

  // HTTP-030: each minute; after 5 s while the last fetch failed or nothing was on anywhere (a
  // daemon still building its first days at start), so a page opened early fills in quickly.
  function scheduleRefresh(ok) {
    var anyNow = ok && Object.keys(state.now || {}).some(function (id) { return state.now[id]; });
    setTimeout(function () {
      refresh().then(function () { scheduleRefresh(true); }, function (e) {
        showError(e);
        scheduleRefresh(false);
      });
    }, anyNow ? 60 * 1000 : 5 * 1000);
  }

  var match = /[#&]play=([^&]+)/.exec(location.hash);
  refresh().then(function () {
    if (match) {
      play(decodeURIComponent(match[1]));
    }
    scheduleRefresh(true);
  }, function (e) {
    showError(e);
    scheduleRefresh(false);
  });
  setInterval(moveNowLine, 5 * 1000);
})();

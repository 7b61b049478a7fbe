#!/usr/bin/env node
// Headless-browser playback oracle for ffstream's integration tests.
//
//   node tests/browser/play.mjs --dir DIR --manifest REL_PATH \
//        --player hlsjs|dashjs|shaka [--seconds 4] [--timeout 60] [--stall 15]
//
// Playback passes once video.currentTime reaches --seconds, or the stream
// ends after playing at least min(seconds, duration - 0.5). It fails on a
// fatal player error, on video.error, when currentTime has not advanced for
// --stall seconds, or after --timeout seconds overall.
//
// Serves DIR on 127.0.0.1 (ephemeral port) together with the player library
// and a generated page, plays the manifest in headless Chromium and prints
// exactly one JSON line on stdout:
//
//   {"ok":bool,"player":..,"currentTime":..,"duration":..,"videoWidth":..,
//    "videoHeight":..,"errors":[..],"warnings":[..],"requests":[..],
//    "elapsedMs":..}
//
// Exit status: 0 iff ok, 1 on a playback failure, 2 on a usage or harness
// error (the JSON line is printed in every case but usage errors).
//
// Track mode (--tracks) also lists the audio and text tracks the player
// offers and can exercise them while playing:
//
//   --switch-audio LANG   once currentTime reaches --switch-at (default 1 s),
//                         select the audio track whose language is LANG; then
//                         playback must advance --seconds further (instead of
//                         up to --seconds) and the player must report LANG as
//                         its active audio language at the end.
//   --subtitle LANG       select and show the text track whose language is
//                         LANG: hls.js as soon as it lists it, Shaka once
//                         load() resolves, dash.js at --switch-at (player
//                         quirks, see selectTextEarly and tracksStep)
//   --cue-at T            (with --subtitle) play until T seconds and report the
//                         text of the cues of the shown text track that cover T
//                         (startTime <= T < endTime); T should be later than
//                         --switch-at (dash.js selects the track then).
//
// Languages are matched exactly (case-insensitive) against what the player
// reports; a language the player does not list fails the run. The JSON line
// then also has:
//
//   "audioTracks":[{"lang":..,"name":..,"roles":[..],"forced":false,"active":..}],
//   "textTracks":[..same..], "activeAudio":lang|null, "activeText":lang|null,
//   "cueText":[..], "trickModes":[heights of Shaka's trick-mode video streams]
//
// (roles: Shaka's roles, dash.js's Role values, hls.js's CHARACTERISTICS;
// name: hls.js NAME, dash.js first Label, Shaka label.)

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = path.join(HERE, 'node_modules');
const CHROMIUM = process.env.FFSTREAM_CHROMIUM || '/usr/bin/chromium';
const ORACLE_PREFIX = '/__oracle/';

const PLAYERS = {
  hlsjs: 'hls.js/dist/hls.min.js',
  dashjs: 'dashjs/dist/modern/umd/dash.all.min.js',
  shaka: 'shaka-player/dist/shaka-player.compiled.js',
};

const MIME = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m3u': 'application/vnd.apple.mpegurl',
  '.mpd': 'application/dash+xml',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.m4a': 'audio/mp4',
  '.cmfv': 'video/mp4',
  '.cmfa': 'audio/mp4',
  '.cmft': 'application/mp4',
  '.aac': 'audio/aac',
  '.ac3': 'audio/ac3',
  '.ec3': 'audio/eac3',
  '.mp3': 'audio/mpeg',
  '.webm': 'video/webm',
  '.vtt': 'text/vtt',
  '.webvtt': 'text/vtt',
  '.key': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.json': 'application/json',
  '.js': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.xml': 'application/xml',
};

// ---------------------------------------------------------------- arguments

function usage(msg) {
  if (msg) process.stderr.write(`play.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node play.mjs --dir DIR --manifest REL_PATH --player hlsjs|dashjs|shaka ' +
      '[--seconds 4] [--timeout 60] [--stall 15]\n' +
      '       [--tracks [--switch-audio LANG] [--switch-at 1] [--subtitle LANG --cue-at T]]\n',
  );
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      dir: { type: 'string' },
      manifest: { type: 'string' },
      player: { type: 'string' },
      seconds: { type: 'string', default: '4' },
      timeout: { type: 'string', default: '60' },
      stall: { type: 'string', default: '15' },
      tracks: { type: 'boolean', default: false },
      'switch-audio': { type: 'string' },
      'switch-at': { type: 'string', default: '1' },
      subtitle: { type: 'string' },
      'cue-at': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(e.message);
}
if (opts.help) usage();
if (!opts.dir || !opts.manifest || !opts.player) usage('--dir, --manifest and --player are required');
if (!(opts.player in PLAYERS)) usage(`unknown player ${JSON.stringify(opts.player)}`);
const SECONDS = Number(opts.seconds);
const TIMEOUT_S = Number(opts.timeout);
if (!(SECONDS > 0)) usage('--seconds must be a positive number');
if (!(TIMEOUT_S > 0)) usage('--timeout must be a positive number');
const STALL_S = Number(opts.stall);
if (!(STALL_S > 0)) usage('--stall must be a positive number');
const TRACKS = opts.tracks;
const SWITCH_AUDIO = opts['switch-audio'];
const SWITCH_AT = Number(opts['switch-at']);
const SUBTITLE = opts.subtitle;
const CUE_AT = opts['cue-at'] === undefined ? null : Number(opts['cue-at']);
if (!TRACKS && (SWITCH_AUDIO !== undefined || SUBTITLE !== undefined || CUE_AT !== null)) {
  usage('--switch-audio, --subtitle and --cue-at need --tracks');
}
if (!(SWITCH_AT >= 0)) usage('--switch-at must be a number >= 0');
if (CUE_AT !== null && !(CUE_AT >= 0)) usage('--cue-at must be a number >= 0');
if (CUE_AT !== null && SUBTITLE === undefined) usage('--cue-at needs --subtitle');
const ROOT = path.resolve(opts.dir);
if (!fs.statSync(ROOT, { throwIfNoEntry: false })?.isDirectory()) usage(`not a directory: ${ROOT}`);
const LIB_FILE = path.join(NODE_MODULES, PLAYERS[opts.player]);
if (!fs.existsSync(LIB_FILE)) {
  usage(`missing ${path.relative(HERE, LIB_FILE)}; run "npm ci" in ${HERE}`);
}
const MANIFEST_URL_PATH =
  '/' + opts.manifest.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');

// ------------------------------------------------------------------- result

const started = Date.now();
const result = {
  ok: false,
  player: opts.player,
  currentTime: 0,
  duration: null,
  videoWidth: 0,
  videoHeight: 0,
  errors: [],
  warnings: [],
  requests: [],
  elapsedMs: 0,
};
if (TRACKS) {
  Object.assign(result, {
    audioTracks: [],
    textTracks: [],
    activeAudio: null,
    activeText: null,
    cueText: [],
    trickModes: [],
  });
}
let printed = false;

function finish(code) {
  clearTimeout(hardTimer);
  if (!printed) {
    printed = true;
    result.elapsedMs = Date.now() - started;
    result.warnings = result.warnings.slice(0, 50);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  process.exitCode = code;
}

// Last line of defence: whatever hangs, print a verdict and exit. Playwright's
// exit hook kills the browser process group and removes its temporary profile.
const hardTimer = setTimeout(() => {
  result.ok = false;
  result.errors.push(`hard timeout: harness did not finish within ${TIMEOUT_S + 20} s`);
  finish(1);
  process.exit(1);
}, (TIMEOUT_S + 20) * 1000);

// Never exit silently (e.g. on a promise that can no longer settle).
process.on('exit', (code) => {
  if (!printed) {
    printed = true;
    result.ok = false;
    result.errors.push(`harness exited unexpectedly (code ${code})`);
    result.elapsedMs = Date.now() - started;
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exitCode = 2;
  }
});

// ------------------------------------------------------------------- server

function pageHtml() {
  const config = { player: opts.player, manifest: MANIFEST_URL_PATH, subtitle: SUBTITLE || null };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ffstream playback oracle</title></head>
<body>
<video id="v" muted autoplay playsinline width="640" height="360"></video>
<script src="${ORACLE_PREFIX}lib/${opts.player}.js"></script>
<script>
window.__oracleConfig = ${JSON.stringify(config)};
</script>
<script src="${ORACLE_PREFIX}page.js"></script>
</body></html>
`;
}

// Runs in the page. Keeps its findings in window.__oracle for the poller.
const PAGE_JS = String.raw`
(function () {
  'use strict';
  const cfg = window.__oracleConfig;
  const video = document.getElementById('v');
  const st = (window.__oracle = { errors: [], warnings: [], ready: false });
  const err = (m) => st.errors.push(String(m));
  const warn = (m) => { if (st.warnings.length < 50) st.warnings.push(String(m)); };
  const url = new URL(cfg.manifest, location.href).href;
  video.muted = true;

  function play() {
    const p = video.play();
    if (p && p.catch) p.catch((e) => warn('video.play() rejected: ' + e));
  }
  video.addEventListener('canplay', play);
  video.addEventListener('error', () => {
    const e = video.error;
    err('video.error code ' + (e && e.code) + ': ' + ((e && e.message) || ''));
  });
  window.addEventListener('error', (e) => err('page error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => err('unhandled rejection: ' + (e.reason && e.reason.stack || e.reason)));

  const short = (u) => { try { return new URL(u, location.href).pathname; } catch (_) { return String(u); } };

  // Track access for --tracks: per player, list the audio and text tracks in
  // one shape and select one by index.
  const roleValues = (roles) =>
    (roles || []).map((r) => (r && typeof r === 'object' ? r.value : r)).filter((r) => r).map(String);
  const hlsRoles = (t) => (t.characteristics ? String(t.characteristics).split(',') : []);
  const dashTrack = (t, cur, on) => ({
    lang: t.lang || '',
    name: (t.labels && t.labels.length && t.labels[0].text) || '',
    roles: roleValues(t.roles),
    forced: roleValues(t.roles).includes('forced-subtitle'),
    active: on && !!cur && (cur === t || (cur.id === t.id && cur.index === t.index)),
  });
  const dashList = (p, type) => {
    try { return p.getTracksFor(type) || []; } catch (_) { return []; }
  };
  const dashCurrent = (p, type) => {
    try { return p.getCurrentTrackFor(type); } catch (_) { return null; }
  };
  // dash.js's setTextTrack/getCurrentTextTrackIndex count text tracks in
  // manifest order (mediaInfo.index). setCurrentTrack on a text track only
  // changes what getCurrentTrackFor reports, not the track shown.
  const dashTexts = (p) => dashList(p, 'text').slice().sort((a, b) => a.index - b.index);
  const dashTextOn = (p) => {
    try { return p.isTextEnabled() ? dashTexts(p)[p.getCurrentTextTrackIndex()] || null : null; } catch (_) { return null; }
  };
  const TRACK_API = {
    hlsjs: {
      audio: (p) => (p.audioTracks || []).map((t, i) => ({
        lang: t.lang || '', name: t.name || '', roles: hlsRoles(t), forced: false, active: i === p.audioTrack })),
      text: (p) => (p.subtitleTracks || []).map((t, i) => ({
        lang: t.lang || '', name: t.name || '', roles: hlsRoles(t), forced: !!t.forced,
        active: i === p.subtitleTrack && p.subtitleDisplay })),
      selectAudio: (p, i) => { p.audioTrack = i; },
      selectText: (p, i) => { p.subtitleDisplay = true; p.subtitleTrack = i; },
    },
    dashjs: {
      audio: (p) => dashList(p, 'audio').map((t) => dashTrack(t, dashCurrent(p, 'audio'), true)),
      text: (p) => dashTexts(p).map((t) => dashTrack(t, dashTextOn(p), true)),
      selectAudio: (p, i) => p.setCurrentTrack(dashList(p, 'audio')[i]),
      selectText: (p, i) => p.setTextTrack(i),
    },
    shaka: {
      audio: (p) => p.getAudioTracks().map((t) => ({
        lang: t.language || '', name: t.label || '', roles: (t.roles || []).map(String), forced: false, active: !!t.active })),
      text: (p) => p.getTextTracks().map((t) => ({
        lang: t.language || '', name: t.label || '', roles: (t.roles || []).map(String), forced: !!t.forced, active: !!t.active })),
      selectAudio: (p, i) => p.selectAudioTrack(p.getAudioTracks()[i]),
      selectText: (p, i) => {
        p.selectTextTrack(p.getTextTracks()[i]);
        // Shaka 4 separates selection from visibility; Shaka 5 dropped it.
        if (typeof p.setTextTrackVisibility === 'function') p.setTextTrackVisibility(true);
      },
    },
  };
  // --subtitle for Shaka: select the text track as soon as load() resolves,
  // like a viewer who picks subtitles before playback. Later is not safe
  // with Shaka 5.2 on HLS: a WebVTT playlist selected after the whole
  // presentation is buffered is fetched, but its cues never reach the text
  // track. (hls.js and dash.js are driven from play.mjs, see tracksStep.)
  function selectTextEarly() {
    if (cfg.subtitle) window.__oracleTracks.early = window.__oracleTracks.select('text', cfg.subtitle);
  }
  // Shaka only: the heights of the trick-mode (I-frame) video streams its
  // manifest gives the variants, e.g. HLS EXT-X-I-FRAME-STREAM-INF.
  function trickModes(p) {
    if (cfg.player !== 'shaka' || typeof p.getManifest !== 'function') return [];
    const m = p.getManifest();
    const seen = new Set();
    for (const v of (m && m.variants) || []) {
      const t = v.video && v.video.trickModeVideo;
      if (t) seen.add(t.height || 0);
    }
    return [...seen].sort((a, b) => a - b);
  }
  window.__oracleTracks = {
    list() {
      const api = TRACK_API[cfg.player];
      const p = window.__player;
      if (!api || !p) return { audio: [], text: [], activeAudio: null, activeText: null };
      const audio = api.audio(p);
      const text = api.text(p);
      const on = (l) => { const t = l.find((x) => x.active); return t ? t.lang : null; };
      return { audio, text, activeAudio: on(audio), activeText: on(text), trickModes: trickModes(p) };
    },
    // Selects the first track of kind ('audio' or 'text') whose language is
    // lang (case-insensitive); returns whether there was one.
    select(kind, lang) {
      const api = TRACK_API[cfg.player];
      const p = window.__player;
      const list = api && p ? (kind === 'audio' ? api.audio(p) : api.text(p)) : [];
      const i = list.findIndex((t) => t.lang.toLowerCase() === String(lang).toLowerCase());
      if (i >= 0) (kind === 'audio' ? api.selectAudio : api.selectText)(p, i);
      return { found: i >= 0, langs: list.map((t) => t.lang) };
    },
    // Whether the page selected the --subtitle track itself (see
    // selectTextEarly), and what it found: {found, langs} or null.
    early: null,
    // Text of the cues covering time t in the video's showing text tracks.
    cues(t) {
      const v = document.getElementById('v');
      const texts = [];
      const tracks = [];
      for (const tt of Array.from(v.textTracks)) {
        const cues = tt.cues ? Array.from(tt.cues) : [];
        tracks.push(tt.kind + ':' + (tt.language || '-') + ':' + tt.mode + ':' + cues.length + ' cues');
        if (tt.mode !== 'showing') continue;
        for (const c of cues) if (c.startTime <= t && t < c.endTime) texts.push(String(c.text));
      }
      return { texts, tracks };
    },
  };

  if (cfg.player === 'hlsjs') {
    if (!Hls.isSupported()) { err('hls.js: MediaSource not supported'); return; }
    // hls.js defaults retry a failed fragment for ~30 s; a local server
    // never fails transiently, so give up quickly (still retrying twice).
    const retry = { maxNumRetry: 2, retryDelayMs: 250, maxRetryDelayMs: 1000 };
    const policy = (ttfb, total) => ({ default: {
      maxTimeToFirstByteMs: ttfb, maxLoadTimeMs: total,
      timeoutRetry: retry, errorRetry: retry } });
    const hls = new Hls({
      debug: false,
      enableWorker: true,
      fragLoadPolicy: policy(10000, 20000),
      keyLoadPolicy: policy(8000, 20000),
      playlistLoadPolicy: policy(10000, 20000),
      manifestLoadPolicy: policy(10000, 20000),
    });
    window.__player = hls;
    hls.on(Hls.Events.ERROR, (_ev, d) => {
      const where = d.frag ? ' ' + short(d.frag.url) : d.url ? ' ' + short(d.url) : '';
      const http = d.response && d.response.code ? ' (HTTP ' + d.response.code + ')' : '';
      const msg = 'hls.js: ' + (d.fatal ? 'fatal ' : '') + d.type + ' ' + d.details + where + http +
        (d.error && d.error.message ? ': ' + d.error.message : '');
      if (d.fatal) err(msg); else warn(msg);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, play);
    hls.loadSource(url);
    hls.attachMedia(video);
  } else if (cfg.player === 'dashjs') {
    const player = dashjs.MediaPlayer().create();
    window.__player = player;
    player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_NONE } });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const x = e.error || e;
      err('dash.js: error ' + (x.code !== undefined ? x.code + ' ' : '') + (x.message || JSON.stringify(x)));
    });
    player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (e) => {
      err('dash.js: playback error ' + (e.error && (e.error.message || e.error.code) || ''));
    });
    player.initialize(video, url, true);
  } else if (cfg.player === 'shaka') {
    shaka.polyfill.installAll();
    if (!shaka.Player.isBrowserSupported()) { err('shaka: browser not supported'); return; }
    const player = new shaka.Player();
    window.__player = player;
    const fmt = (e) => 'shaka: ' + (e.severity === 2 ? 'critical ' : '') + 'error ' + e.code +
      ' category ' + e.category + (e.data && e.data.length ? ' ' + JSON.stringify(e.data.slice(0, 2)).slice(0, 300) : '');
    player.addEventListener('error', (ev) => {
      const e = ev.detail;
      if (e && e.severity === 1) warn(fmt(e)); else err(fmt(e || {}));
    });
    (async () => {
      await player.attach(video);
      await player.load(url);
      selectTextEarly();
      play();
    })().catch((e) => err(e && e.code !== undefined ? fmt(e) : 'shaka: load failed: ' + e));
  } else {
    err('unknown player ' + cfg.player);
  }
  st.ready = true;
})();
`;

function send(res, status, headers, body) {
  res.writeHead(status, headers);
  res.end(body);
}

function serveFile(req, res, file, baseHeaders) {
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    return send(res, 404, baseHeaders, 'not found\n');
  }
  if (!st.isFile()) return send(res, 404, baseHeaders, 'not found\n');
  const size = st.size;
  const headers = {
    ...baseHeaders,
    'Content-Type': MIME[path.extname(file).toLowerCase()] || 'application/octet-stream',
    'Accept-Ranges': 'bytes',
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) {
      return send(res, 416, { ...headers, 'Content-Range': `bytes */${size}` }, '');
    }
    if (m[1] === '') {
      // Suffix range: the last N bytes.
      start = Math.max(0, size - Number(m[2]));
    } else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(end, Number(m[2]));
    }
    if (start >= size || start > end) {
      return send(res, 416, { ...headers, 'Content-Range': `bytes */${size}` }, '');
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = String(size === 0 ? 0 : end - start + 1);
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) return res.end();
  fs.createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
}

function handle(req, res) {
  const base = {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': '*',
    'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
    'Access-Control-Expose-Headers': 'Content-Length, Content-Range',
    'Cache-Control': 'no-store',
  };
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
  } catch {
    return send(res, 400, base, 'bad request\n');
  }
  if (req.method === 'OPTIONS') return send(res, 204, base, '');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, base, '');

  if (pathname.startsWith(ORACLE_PREFIX)) {
    const rest = pathname.slice(ORACLE_PREFIX.length);
    if (rest === 'index.html') {
      return send(res, 200, { ...base, 'Content-Type': MIME['.html'] }, pageHtml());
    }
    if (rest === 'page.js') return send(res, 200, { ...base, 'Content-Type': MIME['.js'] }, PAGE_JS);
    if (rest === `lib/${opts.player}.js`) return serveFile(req, res, LIB_FILE, base);
    return send(res, 404, base, 'not found\n');
  }
  if (pathname === '/favicon.ico') return send(res, 204, base, '');

  result.requests.push(pathname);
  const file = path.resolve(ROOT, '.' + pathname);
  if (file !== ROOT && !file.startsWith(ROOT + path.sep)) {
    return send(res, 403, base, 'forbidden\n');
  }
  const origEnd = res.end;
  res.end = function (...a) {
    if (res.statusCode >= 400) result.warnings.push(`HTTP ${res.statusCode} ${pathname}`);
    res.end = origEnd;
    return origEnd.apply(this, a);
  };
  serveFile(req, res, file, base);
}

// ------------------------------------------------------------------- driver

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --tracks progress: the audio switch, the subtitle selection and the cue.
const tk = {
  audioDone: SWITCH_AUDIO === undefined,
  switchTime: null,
  textDone: SUBTITLE === undefined,
  cueDone: CUE_AT === null,
  cueTracks: [],
};

// How far playback must get: --seconds, counted from the switch if any.
function trackGoal() {
  if (!tk.audioDone) return Infinity;
  return tk.switchTime === null ? SECONDS : tk.switchTime + SECONDS;
}

// What playback had not reached yet, for error messages.
function pending(goal) {
  if (!TRACKS) return `${SECONDS} s`;
  if (!tk.audioDone) return `the audio switch at ${SWITCH_AT} s`;
  if (!tk.cueDone) return `the cue at ${CUE_AT} s`;
  return `${goal.toFixed(3)} s` + (tk.switchTime === null ? '' : ` (${SECONDS} s after the audio switch)`);
}

// One poll's worth of track work; returns an error message or null.
async function tracksStep(page, s) {
  const select = (kind, lang) =>
    page.evaluate(([k, l]) => window.__oracleTracks.select(k, l), [kind, lang]);
  // The subtitles: Shaka selects them in the page (selectTextEarly); hls.js
  // as soon as it lists the language; dash.js not before --switch-at, as
  // dash.js 5.2 loses a race if a sidecar WebVTT track is selected while the
  // default one is still loading (the default track's cues end up in the
  // selected track).
  const late = s.currentTime >= SWITCH_AT;
  if (!tk.textDone && (late || opts.player !== 'dashjs')) {
    let r = await page.evaluate(() => window.__oracleTracks.early);
    if (opts.player !== 'shaka' || (late && !(r && r.found))) r = await select('text', SUBTITLE);
    if (r && r.found) tk.textDone = true;
    else if (late) {
      return `no text track with language ${SUBTITLE} (player lists: ${r.langs.join(', ') || 'none'})`;
    }
  }
  if (!tk.audioDone && s.currentTime >= SWITCH_AT) {
    const r = await select('audio', SWITCH_AUDIO);
    if (!r.found) {
      return `no audio track with language ${SWITCH_AUDIO} (player lists: ${r.langs.join(', ') || 'none'})`;
    }
    tk.audioDone = true;
    tk.switchTime = s.currentTime;
  }
  if (!tk.cueDone && tk.textDone && s.currentTime >= CUE_AT) {
    const c = await page.evaluate((t) => window.__oracleTracks.cues(t), CUE_AT);
    result.cueText = c.texts;
    tk.cueTracks = c.tracks;
    // Cues may arrive a little after the playhead; wait up to 1.5 s for them.
    if (c.texts.length || s.currentTime >= CUE_AT + 1.5 || s.ended) tk.cueDone = true;
  }
  return null;
}

// Final track report; checks that the player ended up on what was asked.
async function tracksReport(page) {
  const l = await page.evaluate(() => window.__oracleTracks.list());
  Object.assign(result, {
    audioTracks: l.audio,
    textTracks: l.text,
    activeAudio: l.activeAudio,
    activeText: l.activeText,
    trickModes: l.trickModes || [],
  });
  if (!result.ok) return;
  const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
  if (SWITCH_AUDIO !== undefined && !same(l.activeAudio, SWITCH_AUDIO)) {
    result.errors.push(`after switching to ${SWITCH_AUDIO} the player reports active audio ${l.activeAudio}`);
  }
  if (SUBTITLE !== undefined && !same(l.activeText, SUBTITLE)) {
    result.errors.push(`after selecting ${SUBTITLE} the player reports active text ${l.activeText}`);
  }
  if (CUE_AT !== null && !result.cueText.length) {
    result.warnings.push(`no cue at ${CUE_AT} s; text tracks: ${tk.cueTracks.join(', ') || 'none'}`);
  }
  result.ok = result.errors.length === 0;
}

async function main() {
  const { chromium } = await import('playwright-core');
  const server = http.createServer(handle);
  server.keepAliveTimeout = 1000;
  let browser;
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const origin = `http://127.0.0.1:${server.address().port}`;

    // launch() gives every run a fresh temporary profile (user-data-dir),
    // deleted again on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-quic',
        '--no-first-run',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        '--mute-audio',
      ],
      timeout: 30000,
    });
    const page = await browser.newPage();
    page.on('pageerror', (e) => result.errors.push(`page error: ${e.message}`));
    page.on('crash', () => result.errors.push('page crashed'));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        result.warnings.push(`console: ${m.text().slice(0, 300)}`);
      }
    });
    await page.goto(`${origin}${ORACLE_PREFIX}index.html`, { timeout: 30000 });

    const deadline = started + TIMEOUT_S * 1000;
    let lastTime = -1;
    let lastProgress = Date.now();
    let verdict = null;
    let s = null;
    let goal = SECONDS;
    while (!verdict) {
      s = await page.evaluate(() => {
        const v = document.getElementById('v');
        const o = window.__oracle || { errors: [], warnings: [] };
        return {
          errors: o.errors.slice(),
          warnings: o.warnings.slice(),
          currentTime: v.currentTime,
          duration: Number.isFinite(v.duration) ? v.duration : null,
          ended: v.ended,
          videoWidth: v.videoWidth,
          videoHeight: v.videoHeight,
        };
      });
      if (s.currentTime > lastTime) {
        lastTime = s.currentTime;
        lastProgress = Date.now();
      }
      const trackErr = TRACKS && !s.errors.length ? await tracksStep(page, s) : null;
      if (trackErr) s.errors.push(trackErr);
      goal = TRACKS ? trackGoal() : SECONDS;
      const cued = !TRACKS || tk.cueDone;
      const need = s.duration ? Math.min(goal, s.duration - 0.5) : goal;
      if (s.errors.length) verdict = 'error';
      else if (s.currentTime >= goal && cued) verdict = 'ok';
      else if (s.ended) verdict = s.currentTime >= need && cued ? 'ok' : 'ended-early';
      else if (Date.now() > deadline) verdict = 'timeout';
      else if (Date.now() - lastProgress > STALL_S * 1000) verdict = 'stalled';
      else await sleep(100);
    }
    Object.assign(result, {
      currentTime: s.currentTime,
      duration: s.duration,
      videoWidth: s.videoWidth,
      videoHeight: s.videoHeight,
    });
    result.errors.push(...s.errors);
    result.warnings.push(...s.warnings);
    if (verdict === 'ended-early') {
      result.errors.push(`stream ended at ${s.currentTime.toFixed(3)} s, before ${pending(goal)}`);
    } else if (verdict === 'stalled') {
      result.errors.push(
        `stalled: currentTime stuck at ${s.currentTime.toFixed(3)} s for ${STALL_S} s`,
      );
    } else if (verdict === 'timeout') {
      result.errors.push(
        TRACKS
          ? `timeout after ${TIMEOUT_S} s: currentTime ${s.currentTime.toFixed(3)} s, not yet ${pending(goal)}`
          : `timeout after ${TIMEOUT_S} s: currentTime ${s.currentTime.toFixed(3)} s < ${SECONDS} s`,
      );
    }
    result.ok = verdict === 'ok' && result.errors.length === 0;
    if (TRACKS) {
      await tracksReport(page).catch((e) => {
        // A broken page after a failed playback changes nothing; after a
        // good one it leaves the tracks unchecked, which must not pass.
        if (result.ok) result.errors.push(`cannot read the tracks back: ${e.message || e}`);
        result.ok = false;
      });
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    server.closeAllConnections?.();
    await new Promise((r) => server.close(() => r()));
  }
}

main().then(
  () => finish(result.ok ? 0 : 1),
  (e) => {
    result.ok = false;
    result.errors.push(`harness error: ${(e && e.stack) || e}`);
    finish(2);
  },
);

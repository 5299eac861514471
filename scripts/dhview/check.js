// Loads a dhat profile into valgrind's own DHAT viewer (dh_view.html and
// dh_view.js, as Debian ships them) under jsdom, the way the viewer's "Load"
// button does (JSON.parse, buildTree, displayTree), and checks that it
// rendered a tree without an error. Usage: node check.js PROFILE [EXPECTED_TEXT...]
"use strict";
const fs = require("fs");
const path = require("path");
const { JSDOM, VirtualConsole } = require("jsdom");

const viewerDir = process.env.DH_VIEW_DIR || "/usr/libexec/valgrind";
const [profile, ...expected] = process.argv.slice(2);
if (!profile) {
  console.error("usage: node check.js PROFILE [EXPECTED_TEXT...]");
  process.exit(2);
}
const html = path.join(viewerDir, "dh_view.html");
if (!fs.existsSync(html)) {
  console.error(`no DHAT viewer at ${html} (set DH_VIEW_DIR)`);
  process.exit(2);
}

const errors = [];
const virtualConsole = new VirtualConsole();
virtualConsole.on("jsdomError", (e) => errors.push(String(e.message || e)));
virtualConsole.on("error", (e) => errors.push(String(e)));

JSDOM.fromFile(html, { runScripts: "dangerously", resources: "usable", virtualConsole }).then((dom) => {
  const w = dom.window;
  w.addEventListener("load", () => {
    try {
      w.__profile = fs.readFileSync(profile, "utf8");
      w.eval(`gFilename = ${JSON.stringify(path.basename(profile))};
              gData = JSON.parse(window.__profile); buildTree(); displayTree();`);
    } catch (e) {
      errors.push(`viewer threw: ${e}`);
    }
    const text = w.document.body.textContent;
    if (w.document.querySelector(".error")) errors.push(`viewer error: ${w.document.querySelector(".error").textContent}`);
    if (!/Total:\s+[\d,]+ bytes/.test(text)) errors.push("no 'Total: N bytes' in the rendered tree");
    for (const want of expected) if (!text.includes(want)) errors.push(`rendered tree lacks '${want}'`);
    if (errors.length) {
      console.error(`${profile}: the DHAT viewer did not render it:\n  ${errors.join("\n  ")}`);
      process.exit(1);
    }
    const total = text.match(/Total:\s+([\d,]+) bytes \([^)]*\) in ([\d,]+) blocks/);
    const summary = total ? `total ${total[1]} bytes in ${total[2]} blocks` : "?";
    console.log(`${profile}: the DHAT viewer rendered it (${summary}; ${text.length} characters of tree)`);
    process.exit(0);
  });
});

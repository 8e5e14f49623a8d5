// Figures for the console (bench/RESULTS.md): the page's weight on first load and the
// router's CPU for one open console. Starts nothing itself: point it at a router.
//   node bench/console_figures.mjs http://127.0.0.1:PORT ROUTER_PID [SECONDS]
import {chromium} from '../tests/integration/node/node_modules/playwright-core/index.mjs';
import fs from 'node:fs';

const [base, pid, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg || 60);
const ticks = () => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);  // utime + stime, in clock ticks (100 per second)
};
const browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--no-sandbox']});
const page = await browser.newPage();
const cdp = await page.context().newCDPSession(page);
await cdp.send('Network.enable');
let wire = 0;
cdp.on('Network.loadingFinished', e => { wire += e.encodedDataLength; });
await page.goto(`${base}/console`);
await page.waitForSelector('#conn[data-state="live"]');
await new Promise(r => setTimeout(r, 1000));
console.log(`page weight on first load: ${wire} bytes transferred (headers included; the event stream counts as it finishes)`);
const idleStart = ticks();
await new Promise(r => setTimeout(r, seconds * 1000));
const used = ticks() - idleStart;
console.log(`router CPU with one console open for ${seconds} s: ${(used / 100).toFixed(2)} s (${(used / seconds).toFixed(2)} % of one core)`);
await browser.close();

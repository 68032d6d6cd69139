'use strict';
/**
 * A debug worker (HKS_DEBUG_DIR set by the invoker): the Node inspector listens on the sandbox's own loopback, which
 * nothing outside its network namespace reaches, so a relay on a worker thread listens on a unix socket in
 * HKS_DEBUG_DIR (a folder bound into the sandbox) and joins every connection to the inspector. It runs on its own
 * thread because the main one stops at every breakpoint. `inspector.json` there tells the invoker the websocket path.
 */
const fs = require('fs');
const path = require('path');
const inspector = require('inspector');
const { Worker } = require('worker_threads');

const RELAY = `
const net = require('net');
const { workerData, parentPort } = require('worker_threads');
const server = net.createServer((client) => {
  const upstream = net.connect(workerData.port, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
});
server.listen(workerData.socket, () => parentPort.postMessage('listening'));
server.on('error', (err) => parentPort.postMessage('error: ' + err.message));
`;

/** Opens the inspector and its relay; resolves once the relay listens (before the worker says HELLO). */
function openInspector(dir) {
  inspector.open(0, '127.0.0.1', false);
  const url = new URL(inspector.url());
  const socket = path.join(dir, 'inspector.sock');
  try {
    fs.unlinkSync(socket);
  } catch {
    // Not there: the usual case.
  }
  return new Promise((resolve, reject) => {
    const relay = new Worker(RELAY, { eval: true, workerData: { port: Number(url.port), socket } });
    relay.unref();
    relay.once('error', reject);
    relay.once('message', (m) => {
      if (m !== 'listening') return reject(new Error(`the inspector relay could not listen on ${socket}: ${m}`));
      fs.writeFileSync(path.join(dir, 'inspector.json'), JSON.stringify({ path: url.pathname, pid: process.pid, node: process.version }));
      resolve();
    });
  });
}

module.exports = { openInspector };

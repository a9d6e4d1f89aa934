/**
 * The worker thread a server reloads IP lists in (LiveIpLists with `offThread`): it reads,
 * parses and builds, and sends back the new lists and tables, their buffers transferred.
 * One reload per worker; the thread ends after answering.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fromWire, reloadLists, toWire, transferables, type ListReloadInput, type ListReloadMessage } from './list-reload.js';

const input = workerData as ListReloadInput;
const { outcomes, reputation } = await reloadLists(input);
const message: ListReloadMessage = {
  outcomes: outcomes.map((o) => (o.kind === 'applied' ? { ...o, list: toWire(fromWire(o.list)) } : o)),
  tables: reputation?.parts() ?? null,
};
parentPort?.postMessage(message, transferables(message));

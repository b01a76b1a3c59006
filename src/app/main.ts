#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './cli.js';

let requestStop!: () => void;
const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
process.once('SIGTERM', () => requestStop());
process.once('SIGINT', () => requestStop());

// A reader that went away (`npm start | head`) ends the run as Ctrl-C does: the command still cleans
// up (mounts removed), and what it would print goes nowhere.
let stdoutOpen = true;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  stdoutOpen = false;
  requestStop();
});

const code = await runCli(process.argv.slice(2), {
  out: (text) => {
    if (stdoutOpen) process.stdout.write(text);
  },
  err: (text) => process.stderr.write(text),
  env: process.env,
  stopRequested,
});
process.exit(code);

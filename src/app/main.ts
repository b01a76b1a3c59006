#!/usr/bin/env node
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runCli } from './cli.js';

// V8 optimises a function once it has run through its tier-up budget a few times. At the start, loading
// the command's modules converts a few hundred module paths, enough for V8's default budget to start its
// optimising compiler, whose first use costs about 4 MiB (compiler code paged in, its working memory kept):
// a node agent that holds no volume would carry it for nothing. Twice the budget keeps the start in the
// interpreter and baseline tiers; code that runs hot (publishes, rotation checks) is still optimised,
// after twice as many calls.
setFlagsFromString('--interrupt-budget=135168');

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

#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './cli.js';

const stopRequested = new Promise<void>((resolve) => {
  process.once('SIGTERM', () => resolve());
  process.once('SIGINT', () => resolve());
});

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  env: process.env,
  stopRequested,
});
process.exit(code);

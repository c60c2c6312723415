#!/usr/bin/env node
// Entry point of the `bouquet` command: loads the TypeScript sources through tsx and dispatches a verb.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2));

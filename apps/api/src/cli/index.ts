#!/usr/bin/env node
// `postern <command>` from the sources (development and tests, through tsx). The compiled
// build runs the same `main` from `bin/postern.mjs`.
import { main } from "./main";

await main(process.argv);

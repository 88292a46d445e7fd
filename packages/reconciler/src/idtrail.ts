#!/usr/bin/env node
/**
 * `idtrail`: the command with its subcommands (`reconcile`, `migrate`, `audit`, `sim`);
 * `idtrail --help` lists them. See `cli/` and the README.
 *
 * @since 0.1.0
 */
import { isEntryPoint, main } from "./cli/main.ts"

if (isEntryPoint(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), process.env)
}

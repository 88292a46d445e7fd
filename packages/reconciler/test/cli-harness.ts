/** Runs a command of this package as an operator would: a process with only the given environment. */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The path of a bin's source (`cli.ts`, `idtrail.ts`). */
export const binPath = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url))

/** Runs `node <bin> args…` and resolves with its exit code and output. */
export const runBin =
  (bin: string) =>
  (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, ...args],
        { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
      )
    })

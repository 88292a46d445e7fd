/** The package README shows what the code holds: the lifecycle and the observation rules. */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { lifecycleDiagram, observationRules } from "../src/index.ts"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
const between = (name: string) =>
  readme.split(`<!-- ${name}:start -->`)[1]?.split(`<!-- ${name}:end -->`)[0] ?? ""

describe("documentation", () => {
  it("the README's lifecycle diagram is the one generated from the transition table", () => {
    const block = between("lifecycle")
    expect(block.trim()).toBe("```mermaid\n" + lifecycleDiagram() + "\n```")
  })

  it("the README's rule table lists exactly the observation rules, by name, in the order they apply", () => {
    const names = between("rules")
      .split("\n")
      .flatMap((line) => /^\| `(\w+)` \|/.exec(line)?.[1] ?? [])
    expect(names).toEqual(observationRules.map((rule) => rule.name))
  })
})

/** The package README shows the lifecycle generated from the one transition table. */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { lifecycleDiagram } from "../src/index.ts"

describe("documentation", () => {
  it("the README's lifecycle diagram is the one generated from the transition table", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const block = readme.split("<!-- lifecycle:start -->")[1]?.split("<!-- lifecycle:end -->")[0] ?? ""
    expect(block.trim()).toBe("```mermaid\n" + lifecycleDiagram() + "\n```")
  })
})

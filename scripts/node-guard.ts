// Vitest global setup: the repo brings its own Node (the `node` devDependency). If the suite
// runs on an older system Node, Effect 4 misbehaves in confusing ways; fail loudly instead.
export default function nodeGuard(): void {
  const major = Number(process.versions.node.split(".")[0])
  if (!Number.isFinite(major) || major < 22) {
    throw new Error(
      `idtrail tests need Node >= 22.19 but are running on Node ${process.versions.node}. ` +
        "Run them through pnpm (`pnpm test`), which puts the repo's own Node 24 first on PATH.",
    )
  }
}

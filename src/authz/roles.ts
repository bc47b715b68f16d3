/** role → every role it includes, itself included (the transitive closure of the hierarchy). */
export type RoleClosure = ReadonlyMap<string, ReadonlySet<string>>

/** `{admin: ['editor'], editor: ['user']}` → admin includes admin, editor, user. Cycles are harmless. */
export function buildRoleClosure(hierarchy: Readonly<Record<string, readonly string[]>>): RoleClosure {
  // A walk per role rather than memoized recursion: inside a cycle a memoized set is still
  // partial when it is reused, so some members would miss roles they include transitively.
  const closure = new Map<string, Set<string>>()
  const roles = new Set([...Object.keys(hierarchy), ...Object.values(hierarchy).flat()])
  for (const role of roles) {
    const included = new Set<string>([role])
    const pending = [role]
    for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
      // Own keys only: a role named "constructor" must not read Object.prototype.
      for (const child of (Object.hasOwn(hierarchy, next) ? hierarchy[next] : undefined) ?? []) {
        if (included.has(child)) continue
        included.add(child)
        pending.push(child)
      }
    }
    closure.set(role, included)
  }
  return closure
}

/** The roles a holder of `roles` effectively has. */
export function effectiveRoles(roles: readonly string[], closure: RoleClosure): Set<string> {
  const out = new Set<string>()
  for (const role of roles) {
    const included = closure.get(role)
    if (included) for (const inner of included) out.add(inner)
    else out.add(role)
  }
  return out
}

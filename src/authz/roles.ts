/** role → every role it includes, itself included (the transitive closure of the hierarchy). */
export type RoleClosure = ReadonlyMap<string, ReadonlySet<string>>

/** `{admin: ['editor'], editor: ['user']}` → admin includes admin, editor, user. Cycles are harmless. */
export function buildRoleClosure(hierarchy: Readonly<Record<string, readonly string[]>>): RoleClosure {
  const closure = new Map<string, Set<string>>()
  const expand = (role: string): Set<string> => {
    const known = closure.get(role)
    if (known) return known
    const included = new Set<string>([role])
    closure.set(role, included)
    for (const child of hierarchy[role] ?? []) for (const role2 of expand(child)) included.add(role2)
    return included
  }
  for (const role of Object.keys(hierarchy)) expand(role)
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

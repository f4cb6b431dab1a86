// Kubernetes label selectors (`a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
// `a`, `!a`, comma-separated, all must hold), parsed once and matched often.

/** One requirement of a selector. */
export type Requirement =
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" };

/** Parses a label selector; throws naming the part it could not read. */
export function parseSelector(text: string): Requirement[] {
  const out: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  for (const raw of parts) {
    const part = raw.trim();
    if (part === "") continue;
    let m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = (m[3] as string)
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== "");
      out.push({ key: m[1] as string, op: m[2] as "in" | "notin", values });
      continue;
    }
    m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)$/.exec(part);
    if (m) {
      out.push({ key: m[1] as string, op: m[2] === "!=" ? "notin" : "in", values: [m[3] as string] });
      continue;
    }
    m = /^(!?)([A-Za-z0-9][-A-Za-z0-9_./]*)$/.exec(part);
    if (m) {
      out.push({ key: m[2] as string, op: m[1] ? "!exists" : "exists" });
      continue;
    }
    throw new Error(
      `label selector "${text}": cannot read "${part}"; expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key`,
    );
  }
  return out;
}

/** Whether labels satisfy every requirement. */
export function matchesSelector(selector: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "in":
        return has && r.values.includes(labels[r.key] as string);
      default:
        return !has || !r.values.includes(labels[r.key] as string);
    }
  });
}

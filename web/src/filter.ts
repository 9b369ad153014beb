// Builds the search filter string (souk grammar: field:value, AND, OR, parentheses,
// numbers as >=x / <=x / [lo TO hi]).

export function quote(v: string): string {
  const clean = v.replace(/"/g, '');
  return /^[\p{L}\p{N}_.-]+$/u.test(clean) ? clean : `"${clean}"`;
}

export interface FilterState {
  facets: Record<string, string[]>; // field -> selected values (OR within a field)
  min?: number;
  max?: number;
}

export function buildFilter(s: FilterState): string {
  const clauses: string[] = [];
  for (const [field, values] of Object.entries(s.facets)) {
    if (!values.length) continue;
    const parts = values.map((v) => `${field}:${quote(v)}`);
    clauses.push(parts.length === 1 ? parts[0] : `(${parts.join(' OR ')})`);
  }
  const hasMin = typeof s.min === 'number' && !Number.isNaN(s.min);
  const hasMax = typeof s.max === 'number' && !Number.isNaN(s.max);
  if (hasMin && hasMax) clauses.push(`price:[${s.min} TO ${s.max}]`);
  else if (hasMin) clauses.push(`price:>=${s.min}`);
  else if (hasMax) clauses.push(`price:<=${s.max}`);
  return clauses.join(' AND ');
}

import type { Filter } from '@aws-sdk/client-ec2';

import { fail } from './sim-error';
import type { TagMap } from './state';

type FilterValue = string | number | boolean | undefined | null;

/** For one resource type: filter name → the values a record has for it. */
export type FilterSpec<R> = Record<string, (record: R) => FilterValue | FilterValue[]>;

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

function valuesOf(value: FilterValue | FilterValue[]): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is string | number | boolean => v !== undefined && v !== null).map(String);
}

/**
 * EC2 filter semantics: every filter must match (AND), any of a filter's values may match (OR),
 * values may use `*` and `?`. `tag:<key>`, `tag-key` and `tag-value` work on every resource.
 * An unknown filter name is an `InvalidParameterValue`, as in EC2.
 */
export function applyFilters<R>(records: R[], filters: Filter[] | undefined, spec: FilterSpec<R>, tagsOf: (record: R) => TagMap): R[] {
  if (!filters?.length) return records;
  const readers = filters.map((filter) => {
    const name = filter.Name ?? '';
    const patterns = (filter.Values ?? []).map(globToRegExp);
    let read: (record: R) => string[];
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      read = (r) => (key in tagsOf(r) ? [tagsOf(r)[key]] : []);
    } else if (name === 'tag-key') {
      read = (r) => Object.keys(tagsOf(r));
    } else if (name === 'tag-value') {
      read = (r) => Object.values(tagsOf(r));
    } else if (spec[name]) {
      const field = spec[name];
      read = (r) => valuesOf(field(r));
    } else {
      fail('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    return (record: R) => read(record).some((value) => patterns.some((p) => p.test(value)));
  });
  return records.filter((record) => readers.every((matches) => matches(record)));
}

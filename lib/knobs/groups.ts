/**
 * Knob groups: which train examples each knob θ_g turns. Resolved from the `groups:`
 * spec against a `dataset` artifact:
 *
 *   by label    g(i) = y_i                         (names: the class names)
 *   by group    g(i) = group_train.npy[i]          (names: DatasetMeta.groups.names)
 *   by indices  g(i) = the list that holds row i   (names: the lists' names)
 *
 * Every group must hold at least one example; rows in no group get −1 (their inclusion
 * rate is the spec's `rest`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET, type DatasetMeta } from '../artifacts.ts';
import { readNpy } from '../io/npy.ts';
import type { GroupsSpec } from './schema.ts';

export interface KnobGroups {
  /** One name per knob. */
  names: string[];
  /** int32 [nTrain]: the knob of each train example, −1 for none. */
  groupOf: Int32Array;
  /** Examples per group. */
  sizes: number[];
  /** Train rows of each group, ascending. */
  members: Int32Array[];
}

export class KnobError extends Error {}

/** Groups from an assignment array (−1 = none) and names. */
export function groupsFromAssignment(groupOf: Int32Array, names: string[], what: string): KnobGroups {
  const sizes = new Array<number>(names.length).fill(0);
  for (let i = 0; i < groupOf.length; i++) {
    const g = groupOf[i];
    if (g < -1 || g >= names.length) throw new KnobError(`knobs: ${what}: example ${i} is in group ${g}, expected −1..${names.length - 1}`);
    if (g >= 0) sizes[g]++;
  }
  const empty = sizes.findIndex((s) => s === 0);
  if (empty >= 0) throw new KnobError(`knobs: ${what}: group "${names[empty]}" has no train examples (a knob must turn something)`);
  const members = sizes.map((s) => new Int32Array(s));
  const fill = new Array<number>(names.length).fill(0);
  for (let i = 0; i < groupOf.length; i++) if (groupOf[i] >= 0) members[groupOf[i]][fill[groupOf[i]]++] = i;
  return { names, groupOf, sizes, members };
}

/** The groups of `spec` over the train split of the data set in `dataDir`. */
export function resolveGroups(spec: GroupsSpec, dataDir: string): KnobGroups {
  const meta = JSON.parse(readFileSync(join(dataDir, DATASET.meta), 'utf8')) as DatasetMeta;
  const n = meta.nTrain;
  switch (spec.by) {
    case 'label': {
      const y = readNpy(join(dataDir, DATASET.yTrain)).data as Int32Array;
      const names = Array.from({ length: meta.classes }, (_, c) => meta.classNames?.[c] ?? `class ${c}`);
      return groupsFromAssignment(Int32Array.from(y), names, 'groups by label');
    }
    case 'group': {
      const path = join(dataDir, DATASET.groupTrain);
      if (!meta.groups || !existsSync(path)) {
        throw new KnobError(
          `knobs: groups by group need a data set with a group column, but source ${meta.source} gave none: give the csv source groupColumn, use a source with groups (offline-rl), or group by label or indices`,
        );
      }
      return groupsFromAssignment(Int32Array.from(readNpy(path).data as Int32Array), meta.groups.names, `groups by ${meta.groups.name}`);
    }
    case 'indices': {
      const groupOf = new Int32Array(n).fill(-1);
      spec.lists.forEach((list, g) => {
        for (const i of list.indices) {
          if (i >= n) throw new KnobError(`knobs: list "${list.name}" has row ${i}, but the train split has ${n} examples`);
          if (groupOf[i] === g) throw new KnobError(`knobs: list "${list.name}" names row ${i} twice`);
          if (groupOf[i] >= 0) throw new KnobError(`knobs: row ${i} is in both "${spec.lists[groupOf[i]].name}" and "${list.name}" (groups must not overlap)`);
          groupOf[i] = g;
        }
      });
      const names = spec.lists.map((l) => l.name);
      if (new Set(names).size !== names.length) throw new KnobError(`knobs: list names must be distinct, got ${names.join(', ')}`);
      return groupsFromAssignment(groupOf, names, 'groups by indices');
    }
  }
}

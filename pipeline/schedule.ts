/**
 * Critical path first. The scheduler's `--jobs` slots go to the ready task whose stage
 * lies on the longest chain of stages (through it, from first to last), so the
 * branch that leads to a result through many stages (models → features → scores → lds)
 * is not queued behind a wide branch that leads there in one step (150 ground-truth
 * models → lds). Ties go to the task that ends a stage (count, combine, run), then to
 * the one queued first.
 *
 * Between two tasks of a branch there are gaps (a stage's manifest and lock, the next
 * stage's claim) in which that branch has nothing queued. A `hold` keeps lower
 * priorities from taking a free slot during such a gap; slots freed by a finished task
 * are handed out on the next turn of the event loop, once the finished task's own
 * follow-up (a stage's combine after its last unit) has been queued.
 */
import type { ExperimentPlan } from './plan.ts';
import type { StageHash } from './registry.ts';
import type { Task } from './task.ts';

/** For every instance, the number of stages on the longest path through it, from a stage that reads nothing to one nothing reads (itself counted once). */
export function chainLengths(plans: readonly ExperimentPlan[]): Map<StageHash, number> {
  const readers = new Map<StageHash, Set<StageHash>>();
  const all = new Set<StageHash>();
  for (const plan of plans) {
    for (const inst of plan.instances) {
      all.add(inst.hash);
      for (const input of Object.values(inst.inputs)) readers.set(input, (readers.get(input) ?? new Set()).add(inst.hash));
    }
  }
  const lengths = new Map<StageHash, number>();
  const lengthOf = (hash: StageHash): number => {
    const known = lengths.get(hash);
    if (known !== undefined) return known;
    let longest = 0;
    for (const reader of readers.get(hash) ?? []) longest = Math.max(longest, lengthOf(reader));
    lengths.set(hash, longest + 1);
    return longest + 1;
  };
  for (const hash of all) lengthOf(hash);
  // The path *through* a stage counts the stages before it too: the TRAK branch (data →
  // masks → models → features → scores → lds) then outranks the ground truth's (data →
  // lds_masks → lds_models → lds) at every stage, not only from features on.
  const inputsOf = new Map<StageHash, StageHash[]>();
  for (const plan of plans) for (const inst of plan.instances) inputsOf.set(inst.hash, Object.values(inst.inputs));
  const depths = new Map<StageHash, number>();
  const depthOf = (hash: StageHash): number => {
    const known = depths.get(hash);
    if (known !== undefined) return known;
    let deepest = 0;
    for (const input of inputsOf.get(hash) ?? []) deepest = Math.max(deepest, depthOf(input));
    depths.set(hash, deepest + 1);
    return deepest + 1;
  };
  return new Map([...lengths].map(([hash, after]) => [hash, depthOf(hash) + after - 1]));
}

/** A task's priority (higher runs first): counting a stage's units comes first (it is cheap and says how much is left), then by chain length, a stage-ending step before units of the same length. */
export function taskPriority(chain: number, step: Task['step']): number {
  if (step === 'count') return Number.MAX_SAFE_INTEGER;
  return chain * 2 + (step === 'unit' ? 0 : 1);
}

export type Release = () => void;

interface Waiting {
  priority: number;
  order: number;
  start: () => void;
}

/** `size` slots handed out by priority (then first come); see the file comment for holds. */
export class PrioritySlots {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  private readonly holds = new Map<number, number>();
  private queued = 0;
  private dispatchScheduled = false;

  constructor(private readonly size: number) {}

  /** Runs `fn` in a slot once no higher-priority task or hold is ahead of it. */
  run<T>(priority: number, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        fn()
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.scheduleDispatch();
          });
      };
      this.waiting.push({ priority, order: this.queued++, start });
      this.scheduleDispatch();
    });
  }

  /** Until released, no task below `priority` starts: a branch of that priority is between two tasks. Idempotent release. */
  hold(priority: number): Release {
    this.holds.set(priority, (this.holds.get(priority) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.holds.get(priority)! - 1;
      if (n === 0) this.holds.delete(priority);
      else this.holds.set(priority, n);
      this.scheduleDispatch();
    };
  }

  /** On the next turn of the event loop, so that what a settled task queues next is already waiting. */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const floor = this.holds.size ? Math.max(...this.holds.keys()) : -Infinity;
    while (this.running < this.size && this.waiting.length > 0) {
      let best = 0;
      for (let i = 1; i < this.waiting.length; i++) {
        const w = this.waiting[i]!;
        const b = this.waiting[best]!;
        if (w.priority > b.priority || (w.priority === b.priority && w.order < b.order)) best = i;
      }
      if (this.waiting[best]!.priority < floor) return;
      const [next] = this.waiting.splice(best, 1);
      next!.start();
    }
  }
}

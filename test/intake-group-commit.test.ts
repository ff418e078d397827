import { GroupCommit } from '../intake/group-commit';

class Busy extends Error {}

/** A commit that records its groups and fails for the items `bad` names (a group holding one fails whole). */
function recorder(opts: { bad?: (item: number) => boolean; busy?: boolean } = {}) {
  const groups: number[][] = [];
  const committed: number[] = [];
  const commit = async (items: readonly number[]) => {
    groups.push([...items]);
    await new Promise((r) => setTimeout(r, 5));
    if (opts.busy) throw new Busy('busy');
    const fault = items.find((i) => opts.bad?.(i));
    if (fault !== undefined) throw new Error(`item ${fault} refused`);
    committed.push(...items);
  };
  return { groups, committed, commit };
}

describe('GroupCommit', () => {
  test('an item alone is committed at once; items added meanwhile are committed together, in order', async () => {
    const r = recorder();
    const gc = new GroupCommit<number>(r.commit, () => true);
    const first = gc.add(1);
    expect(r.groups).toEqual([[1]]); // no timer: the commit started within add
    const rest = [2, 3, 4, 5].map((i) => gc.add(i));
    await Promise.all([first, ...rest]);
    expect(r.groups).toEqual([[1], [2, 3, 4, 5]]);
    expect(r.committed).toEqual([1, 2, 3, 4, 5]);
    await gc.add(6);
    expect(r.groups.at(-1)).toEqual([6]);
  });

  test("a group that fails through one item's fault: each item is committed alone and only that one fails", async () => {
    const r = recorder({ bad: (i) => i === 3 });
    const gc = new GroupCommit<number>(r.commit, (err) => !(err instanceof Busy));
    const first = gc.add(1);
    const outcomes = await Promise.allSettled([first, ...[2, 3, 4].map((i) => gc.add(i))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).toBe('item 3 refused');
    expect(r.committed).toEqual([1, 2, 4]);
    expect(r.groups).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  test("a group that fails through the store's fault fails whole, without a try per item", async () => {
    const r = recorder({ busy: true });
    const gc = new GroupCommit<number>(r.commit, (err) => !(err instanceof Busy));
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => gc.add(i)));
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof Busy)).toBe(true);
    expect(r.groups).toEqual([[1], [2, 3]]);
    // and the next item is tried again, on its own
    await expect(gc.add(4)).rejects.toBeInstanceOf(Busy);
    expect(r.groups.at(-1)).toEqual([4]);
  });
});

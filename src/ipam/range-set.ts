/**
 * A set of bigint values stored as disjoint, non-adjacent closed intervals in an AVL tree keyed
 * by interval start. Point insert/delete, lowest-member lookup and membership are O(log n) in the
 * number of intervals, whatever the number of values (a free /64 is one interval).
 */

interface Node {
  start: bigint;
  end: bigint;
  left: Node | null;
  right: Node | null;
  height: number;
}

function height(n: Node | null): number {
  return n === null ? 0 : n.height;
}

function update(n: Node): void {
  const l = height(n.left);
  const r = height(n.right);
  n.height = (l > r ? l : r) + 1;
}

function rotateRight(n: Node): Node {
  const l = n.left as Node;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft(n: Node): Node {
  const r = n.right as Node;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function rebalance(n: Node): Node {
  update(n);
  const balance = height(n.left) - height(n.right);
  if (balance > 1) {
    const l = n.left as Node;
    if (height(l.left) < height(l.right)) n.left = rotateLeft(l);
    return rotateRight(n);
  }
  if (balance < -1) {
    const r = n.right as Node;
    if (height(r.right) < height(r.left)) n.right = rotateRight(r);
    return rotateLeft(n);
  }
  return n;
}

function insertNode(root: Node | null, node: Node): Node {
  if (root === null) return node;
  if (node.start < root.start) root.left = insertNode(root.left, node);
  else root.right = insertNode(root.right, node);
  return rebalance(root);
}

function removeMin(root: Node): { rest: Node | null; min: Node } {
  if (root.left === null) return { rest: root.right, min: root };
  const r = removeMin(root.left);
  root.left = r.rest;
  return { rest: rebalance(root), min: r.min };
}

function deleteNode(root: Node | null, start: bigint): Node | null {
  if (root === null) return null;
  if (start < root.start) root.left = deleteNode(root.left, start);
  else if (start > root.start) root.right = deleteNode(root.right, start);
  else {
    if (root.left === null) return root.right;
    if (root.right === null) return root.left;
    const { rest, min } = removeMin(root.right);
    min.left = root.left;
    min.right = rest;
    return rebalance(min);
  }
  return rebalance(root);
}

function buildBalanced(ranges: ReadonlyArray<readonly [bigint, bigint]>, lo: number, hi: number): Node | null {
  if (lo > hi) return null;
  const mid = (lo + hi) >>> 1;
  const [start, end] = ranges[mid] as readonly [bigint, bigint];
  const node: Node = { start, end, left: buildBalanced(ranges, lo, mid - 1), right: buildBalanced(ranges, mid + 1, hi), height: 1 };
  update(node);
  return node;
}

export class RangeSet {
  private root: Node | null = null;
  private total = 0n;
  private intervals = 0;

  /** Builds from intervals that are sorted, disjoint and non-adjacent (checked). O(n). */
  static fromSortedRanges(ranges: ReadonlyArray<readonly [bigint, bigint]>): RangeSet {
    const set = new RangeSet();
    let prevEnd: bigint | undefined;
    for (const [start, end] of ranges) {
      if (start > end) throw new Error(`range start ${start} is after end ${end}`);
      if (prevEnd !== undefined && start <= prevEnd + 1n) throw new Error('ranges must be sorted, disjoint and non-adjacent');
      prevEnd = end;
      set.total += end - start + 1n;
    }
    set.root = buildBalanced(ranges, 0, ranges.length - 1);
    set.intervals = ranges.length;
    return set;
  }

  /** Number of values in the set. */
  get size(): bigint {
    return this.total;
  }

  /** Number of disjoint intervals stored. */
  get intervalCount(): number {
    return this.intervals;
  }

  /** The interval with the greatest start <= value. */
  private floor(value: bigint): Node | null {
    let n = this.root;
    let best: Node | null = null;
    while (n !== null) {
      if (n.start <= value) {
        best = n;
        n = n.right;
      } else n = n.left;
    }
    return best;
  }

  /** The interval with the least start > value. */
  private higher(value: bigint): Node | null {
    let n = this.root;
    let best: Node | null = null;
    while (n !== null) {
      if (n.start > value) {
        best = n;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  has(value: bigint): boolean {
    const f = this.floor(value);
    return f !== null && f.end >= value;
  }

  min(): bigint | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.start;
  }

  /** The least member >= value. */
  ceiling(value: bigint): bigint | undefined {
    const f = this.floor(value);
    if (f !== null && f.end >= value) return value;
    return this.higher(value)?.start;
  }

  /** Adds one value; returns false if it was already present. */
  add(value: bigint): boolean {
    const before = this.floor(value);
    if (before !== null && before.end >= value) return false;
    const after = this.higher(value);
    const joinsBefore = before !== null && before.end + 1n === value;
    const joinsAfter = after !== null && after.start - 1n === value;
    if (joinsBefore && joinsAfter) {
      before.end = after.end;
      this.root = deleteNode(this.root, after.start);
      this.intervals--;
    } else if (joinsBefore) {
      before.end = value;
    } else if (joinsAfter) {
      // Lowering the key keeps the order: value is above the previous interval's end.
      after.start = value;
    } else {
      this.root = insertNode(this.root, { start: value, end: value, left: null, right: null, height: 1 });
      this.intervals++;
    }
    this.total += 1n;
    return true;
  }

  /** Removes one value; returns false if it was not present. */
  delete(value: bigint): boolean {
    const n = this.floor(value);
    if (n === null || n.end < value) return false;
    this.removeFrom(n, value);
    return true;
  }

  /** Removes and returns the least member. */
  takeMin(): bigint | undefined {
    let n = this.root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    const value = n.start;
    this.removeFrom(n, value);
    return value;
  }

  private removeFrom(n: Node, value: bigint): void {
    if (n.start === n.end) {
      this.root = deleteNode(this.root, n.start);
      this.intervals--;
    } else if (value === n.start) {
      n.start = value + 1n;
    } else if (value === n.end) {
      n.end = value - 1n;
    } else {
      const tailEnd = n.end;
      n.end = value - 1n;
      this.root = insertNode(this.root, { start: value + 1n, end: tailEnd, left: null, right: null, height: 1 });
      this.intervals++;
    }
    this.total -= 1n;
  }

  /** Intervals in ascending order. */
  *ranges(): IterableIterator<[bigint, bigint]> {
    const stack: Node[] = [];
    let n = this.root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop() as Node;
      yield [top.start, top.end];
      n = top.right;
    }
  }

  /** Tree height, for tests of the balance invariant. */
  get depth(): number {
    return height(this.root);
  }
}

/**
 * Sorted, merged, immutable ranges with O(log n) membership: for exclusions, which never change
 * between subnet updates.
 */
export class StaticRanges {
  private readonly starts: bigint[];
  private readonly ends: bigint[];

  constructor(ranges: Iterable<readonly [bigint, bigint]>) {
    const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.starts = [];
    this.ends = [];
    for (const [start, end] of sorted) {
      const last = this.ends.length - 1;
      if (last >= 0 && start <= (this.ends[last] as bigint) + 1n) {
        if (end > (this.ends[last] as bigint)) this.ends[last] = end;
      } else {
        this.starts.push(start);
        this.ends.push(end);
      }
    }
  }

  has(value: bigint): boolean {
    return this.find(value) !== undefined;
  }

  /** The merged range holding value. */
  find(value: bigint): [bigint, bigint] | undefined {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.starts[mid] as bigint) > value) hi = mid - 1;
      else if ((this.ends[mid] as bigint) < value) lo = mid + 1;
      else return [this.starts[mid] as bigint, this.ends[mid] as bigint];
    }
    return undefined;
  }

  get length(): number {
    return this.starts.length;
  }

  *ranges(): IterableIterator<[bigint, bigint]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i] as bigint, this.ends[i] as bigint];
  }

  /** Number of values covered. */
  get size(): bigint {
    let total = 0n;
    for (let i = 0; i < this.starts.length; i++) total += (this.ends[i] as bigint) - (this.starts[i] as bigint) + 1n;
    return total;
  }
}

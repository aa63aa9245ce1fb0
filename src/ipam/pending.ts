/** A prepared change: exactly one of commit() or rollback() must follow, before any other IPAM call. */
export interface Pending<T> {
  readonly result: T;
  commit(): void;
  rollback(): void;
}

export function oncePending<T>(result: T, commit: () => void, rollback: () => void): Pending<T> {
  let done = false;
  const guard = (fn: () => void) => () => {
    if (done) throw new Error('pending IPAM change already committed or rolled back');
    done = true;
    fn();
  };
  return { result, commit: guard(commit), rollback: guard(rollback) };
}

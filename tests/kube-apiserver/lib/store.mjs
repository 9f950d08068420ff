// etcd-like storage: one global, monotonically increasing revision; every write stores it in
// metadata.resourceVersion; a bounded event history serves watches that resume from a
// resourceVersion (older ones are "compacted": 410 Expired, as from the real watch cache).

export class Store {
  constructor({ historyLimit = 10000 } = {}) {
    this.rev = 0;
    this.objects = new Map(); // key -> stored object
    this.history = []; // {rev, type, storage, obj, prev}
    this.compacted = 0; // every event with rev > compacted is in history
    this.historyLimit = historyLimit;
    this.watchers = new Set();
    this.listeners = new Set(); // fn(event) after every commit (the emulated controllers)
  }

  static key(storage, namespace, name) {
    return `${storage}/${namespace ?? ''}/${name}`;
  }

  get(storage, namespace, name) {
    const o = this.objects.get(Store.key(storage, namespace, name));
    return o ? structuredClone(o) : null;
  }

  // Objects of one storage, sorted by namespace/name (the etcd key order).
  list(storage, namespace) {
    const prefix = namespace ? `${storage}/${namespace}/` : `${storage}/`;
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, v]) => structuredClone(v));
  }

  // Applies a write and returns the stored object (DELETED: the last state with the delete revision).
  commit(type, storage, obj, prev = null) {
    this.rev += 1;
    const rv = String(this.rev);
    const key = Store.key(storage, obj.metadata.namespace, obj.metadata.name);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = rv;
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, stored);
    const ev = { rev: this.rev, type, storage, obj: stored, prev: prev ? structuredClone(prev) : null };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.compacted = this.history.shift().rev;
    for (const w of [...this.watchers]) if (w.storage === storage) deliver(w, ev);
    for (const l of [...this.listeners]) l(ev);
    return structuredClone(stored);
  }

  compact() {
    this.compacted = this.rev;
    this.history = [];
    return this.rev;
  }

  // Registers a watcher {storage, namespace, match(obj), send(type, obj)} and replays history after
  // `fromRev` (a number) when given; returns an error string when fromRev was compacted.
  watch(w, fromRev) {
    if (fromRev !== null && fromRev < this.compacted) return `too old resource version: ${fromRev} (${this.compacted})`;
    if (fromRev !== null) {
      for (const ev of this.history) if (ev.rev > fromRev && ev.storage === w.storage) deliver(w, ev);
    }
    this.watchers.add(w);
    return null;
  }

  unwatch(w) {
    this.watchers.delete(w);
  }

  dump() {
    return { resourceVersion: String(this.rev), compactedResourceVersion: String(this.compacted), items: [...this.objects.values()] };
  }
}

// The watch cache's filtering: an update that moves an object into the selection is ADDED, out of it
// DELETED (carrying the previous state at the new resourceVersion).
function deliver(w, ev) {
  const inNs = (o) => !w.namespace || o.metadata.namespace === w.namespace;
  const cur = ev.type !== 'DELETED' && inNs(ev.obj) && w.match(ev.obj);
  const old = ev.prev && inNs(ev.prev) && w.match(ev.prev);
  if (ev.type === 'ADDED') {
    if (cur) w.send('ADDED', ev.obj);
  } else if (ev.type === 'MODIFIED') {
    if (cur && old) w.send('MODIFIED', ev.obj);
    else if (cur) w.send('ADDED', ev.obj);
    else if (old) w.send('DELETED', { ...ev.prev, metadata: { ...ev.prev.metadata, resourceVersion: String(ev.rev) } });
  } else if (ev.type === 'DELETED') {
    if (inNs(ev.obj) && w.match(ev.obj)) w.send('DELETED', ev.obj);
  }
}

// A small PromQL evaluator for the subset the chart's replication alerts use (promtool is not
// available here): instant vector selectors with `{label="value"}` matchers, number literals,
// `time()`, arithmetic `+ - * /`, comparisons `== != > < >= <=` (filtering, no `bool`), and the
// set operators `and`, `or`, `unless` with an optional `on(labels)`. Anything else (functions,
// range vectors, aggregations, `ignoring`, `group_left`) throws, so a test never silently
// evaluates an expression it does not understand.
//
// Samples come from the Prometheus text format (parseExposition), with target labels added the
// way a scrape adds them (e.g. {namespace, pod}). Semantics follow Prometheus: a comparison
// between a vector and a scalar keeps the vector's samples for which it holds (value unchanged);
// arithmetic drops the metric name; vector-vector operations match on all labels but the name
// (or on the `on` list); `and`/`unless` keep the left side's samples.

export function parseExposition(text, targetLabels = {}) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels = { ...targetLabels, __name__: m[1] };
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ labels, value: v });
  }
  return out;
}

function tokenize(src) {
  const toks = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|("(?:[^"\\]|\\.)*")|(==|!=|>=|<=|=~|!~|[-+*/(){},=<>]))/gy;
  let m;
  let pos = 0;
  while (pos < src.length) {
    re.lastIndex = pos;
    if (/^\s*$/.test(src.slice(pos))) break;
    m = re.exec(src);
    if (!m) throw new Error(`promql: cannot tokenize at ${JSON.stringify(src.slice(pos))}`);
    pos = re.lastIndex;
    if (m[1] !== undefined) toks.push({ t: 'num', v: Number(m[1]) });
    else if (m[2] !== undefined) toks.push({ t: 'id', v: m[2] });
    else if (m[3] !== undefined) toks.push({ t: 'str', v: JSON.parse(m[3]) });
    else toks.push({ t: 'op', v: m[4] });
  }
  return toks;
}

// Precedence, lowest first (Prometheus: or < and/unless < comparisons < +- < */).
const LEVELS = [['or'], ['and', 'unless'], ['==', '!=', '>', '<', '>=', '<='], ['+', '-'], ['*', '/']];

function parse(src) {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const take = (v) => {
    const tk = toks[i];
    if (!tk || (v !== undefined && tk.v !== v)) throw new Error(`promql: expected ${v} at token ${i} in ${src}`);
    i++;
    return tk;
  };
  const isOp = (tk, ops) => tk && (tk.t === 'op' || tk.t === 'id') && ops.includes(tk.v);
  function level(n) {
    if (n === LEVELS.length) return primary();
    let left = level(n + 1);
    while (isOp(peek(), LEVELS[n])) {
      const op = take().v;
      let on = null;
      if (peek()?.t === 'id' && peek().v === 'bool') throw new Error('promql: bool modifier not supported');
      if (peek()?.t === 'id' && (peek().v === 'ignoring' || peek().v === 'group_left' || peek().v === 'group_right')) {
        throw new Error(`promql: ${peek().v} not supported`);
      }
      if (peek()?.t === 'id' && peek().v === 'on') {
        take();
        take('(');
        on = [];
        while (peek().v !== ')') {
          on.push(take().v);
          if (peek().v === ',') take(',');
        }
        take(')');
      }
      const right = level(n + 1);
      left = { k: 'bin', op, on, left, right };
    }
    return left;
  }
  function primary() {
    const tk = take();
    if (tk.t === 'num') return { k: 'num', v: tk.v };
    if (tk.t === 'op' && tk.v === '(') {
      const e = level(0);
      take(')');
      return e;
    }
    if (tk.t === 'op' && tk.v === '-') return { k: 'bin', op: '*', left: { k: 'num', v: -1 }, right: primary() };
    if (tk.t === 'id') {
      if (peek()?.v === '(') {
        if (tk.v !== 'time') throw new Error(`promql: function ${tk.v}() not supported`);
        take('(');
        take(')');
        return { k: 'time' };
      }
      const matchers = [];
      if (peek()?.v === '{') {
        take('{');
        while (peek().v !== '}') {
          const name = take().v;
          const op = take().v;
          if (op !== '=' && op !== '!=') throw new Error(`promql: matcher ${op} not supported`);
          matchers.push({ name, op, value: take().v });
          if (peek().v === ',') take(',');
        }
        take('}');
      }
      if (peek()?.v === '[') throw new Error('promql: range vectors not supported');
      return { k: 'sel', name: tk.v, matchers };
    }
    throw new Error(`promql: unexpected token ${JSON.stringify(tk)} in ${src}`);
  }
  const e = level(0);
  if (i !== toks.length) throw new Error(`promql: trailing tokens in ${src}`);
  return e;
}

const CMP = {
  '==': (a, b) => a === b, '!=': (a, b) => a !== b, '>': (a, b) => a > b,
  '<': (a, b) => a < b, '>=': (a, b) => a >= b, '<=': (a, b) => a <= b,
};
const ARITH = { '+': (a, b) => a + b, '-': (a, b) => a - b, '*': (a, b) => a * b, '/': (a, b) => a / b };

function signature(labels, on) {
  const keys = on ?? Object.keys(labels).filter((k) => k !== '__name__').sort();
  return JSON.stringify(keys.map((k) => [k, labels[k] ?? '']));
}
function dropName(labels) {
  const { __name__, ...rest } = labels;
  return rest;
}

function evalNode(n, samples, now) {
  switch (n.k) {
    case 'num': return { scalar: n.v };
    case 'time': return { scalar: now };
    case 'sel':
      return {
        vector: samples.filter((s) => s.labels.__name__ === n.name && n.matchers.every((m) =>
          m.op === '=' ? (s.labels[m.name] ?? '') === m.value : (s.labels[m.name] ?? '') !== m.value)),
      };
    case 'bin': {
      const l = evalNode(n.left, samples, now);
      const r = evalNode(n.right, samples, now);
      if (['and', 'or', 'unless'].includes(n.op)) {
        if (!l.vector || !r.vector) throw new Error(`promql: ${n.op} needs vectors`);
        const rs = new Set(r.vector.map((s) => signature(s.labels, n.on)));
        if (n.op === 'and') return { vector: l.vector.filter((s) => rs.has(signature(s.labels, n.on))) };
        if (n.op === 'unless') return { vector: l.vector.filter((s) => !rs.has(signature(s.labels, n.on))) };
        const ls = new Set(l.vector.map((s) => signature(s.labels, n.on)));
        return { vector: [...l.vector, ...r.vector.filter((s) => !ls.has(signature(s.labels, n.on)))] };
      }
      const f = CMP[n.op] ?? ARITH[n.op];
      const cmp = Boolean(CMP[n.op]);
      if (l.scalar !== undefined && r.scalar !== undefined) {
        if (cmp) throw new Error('promql: scalar comparison needs bool');
        return { scalar: f(l.scalar, r.scalar) };
      }
      if (l.vector && r.vector) {
        const byKey = new Map(r.vector.map((s) => [signature(s.labels, n.on), s]));
        const out = [];
        for (const s of l.vector) {
          const o = byKey.get(signature(s.labels, n.on));
          if (!o) continue;
          if (cmp) { if (f(s.value, o.value)) out.push(s); } else out.push({ labels: dropName(s.labels), value: f(s.value, o.value) });
        }
        return { vector: out };
      }
      const vec = l.vector ?? r.vector;
      const sc = l.scalar ?? r.scalar;
      const apply = (v) => (l.vector ? f(v, sc) : f(sc, v));
      if (cmp) return { vector: vec.filter((s) => apply(s.value)) };
      return { vector: vec.map((s) => ({ labels: dropName(s.labels), value: apply(s.value) })) };
    }
    default: throw new Error(`promql: node ${n.k}`);
  }
}

// Evaluates `expr` at `nowSeconds` over `samples`; returns the resulting instant vector
// ([{labels, value}]): an alert whose expression returns a non-empty vector is pending/firing.
export function evaluate(expr, samples, nowSeconds) {
  const r = evalNode(parse(expr), samples, nowSeconds);
  if (!r.vector) throw new Error(`promql: ${expr} is a scalar, not a vector`);
  return r.vector;
}

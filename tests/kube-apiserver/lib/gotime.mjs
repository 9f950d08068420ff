// Go's time.Parse for the two layouts the API uses, with Go's acceptance and error texts:
//
//   metav1.Time       time.Parse(time.RFC3339, s)   "2006-01-02T15:04:05Z07:00"
//   metav1.MicroTime  time.Parse(RFC3339Micro, s)   "2006-01-02T15:04:05.000000Z07:00"
//
// (k8s.io/apimachinery/pkg/apis/meta/v1/time.go and micro_time.go, UnmarshalJSON; the parser is
// Go's src/time/format.go). What follows from Go's rules:
// - MicroTime needs exactly 6 fractional digits ("." or "," then 6 digits): ".123Z", ".123456789Z"
//   and no fraction at all are errors. Time accepts any number of fractional digits, or none.
// - "T" and "Z" are upper case only; an offset is "+hh:mm" or "-hh:mm".
// - The hour may have one digit (Go's "15" element); month, day, minute and second need two.
// - Ranges: month 1-12, day within the month, hour < 24, minute < 60, second < 60 (no leap
//   second); offset hour <= 24, offset minute <= 60.
// - "" is an error (metav1 maps only JSON null to the zero time).
export const RFC3339 = '2006-01-02T15:04:05Z07:00';
export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00';

export class GoTimeError extends Error {}

const quote = (s) => JSON.stringify(s);
const isDigit = (s, i) => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57;

// Go's getnum: one or two digits (fixed: exactly two).
function getnum(s, fixed) {
  if (!isDigit(s, 0)) return null;
  if (!isDigit(s, 1)) {
    if (fixed) return null;
    return { n: Number(s[0]), rest: s.slice(1) };
  }
  return { n: Number(s.slice(0, 2)), rest: s.slice(2) };
}

// Go's atoi: optional sign, then digits (possibly none), nothing else.
function atoi(s) {
  const m = /^([+-]?)(\d*)$/.exec(s);
  if (!m) return null;
  const n = Number(m[2] || '0');
  return m[1] === '-' ? -n : n;
}

// Go's parseNanoseconds(value, nbytes): value[0] is '.' or ','.
function parseNanoseconds(value, nbytes) {
  if (value[0] !== '.' && value[0] !== ',') return { bad: true };
  const n = Math.min(nbytes, 10);
  const ns = atoi(value.slice(1, n));
  if (ns === null) return { bad: true };
  if (ns < 0) return { range: 'fractional second' };
  let scaled = ns;
  for (let i = 0; i < 10 - n; i++) scaled *= 10;
  return { ns: scaled };
}

function daysIn(month, year) {
  if (month === 2) return (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

// Returns {seconds, micros} (UTC epoch seconds and the microseconds; Go keeps nanoseconds, the
// API serializes at most microseconds) or throws GoTimeError with Go's message.
export function parseGoTime(layout, input) {
  const micro = layout === RFC3339_MICRO;
  const elems = ['2006', '-', '01', '-', '02', 'T', '15', ':', '04', ':', '05', ...(micro ? ['.000000'] : []), 'Z07:00'];
  const cannot = (rest, elem) => new GoTimeError(`parsing time ${quote(input)} as ${quote(layout)}: cannot parse ${quote(rest)} as ${quote(elem)}`);
  const outOfRange = (what) => new GoTimeError(`parsing time ${quote(input)}: ${what} out of range`);
  let value = input;
  let year = 0; let month = 0; let day = 0; let hour = 0; let min = 0; let sec = 0; let nsec = 0; let offset = 0;
  for (let i = 0; i < elems.length; i++) {
    const e = elems[i];
    const hold = value;
    if (e === '-' || e === 'T' || e === ':') {
      if (!value.startsWith(e)) throw cannot(value, e);
      value = value.slice(1);
      continue;
    }
    let range = '';
    let bad = false;
    switch (e) {
      case '2006': {
        if (value.length < 4 || !isDigit(value, 0)) { bad = true; break; }
        const y = atoi(value.slice(0, 4));
        if (y === null) { bad = true; break; }
        year = y;
        value = value.slice(4);
        break;
      }
      case '01': case '02': case '15': case '04': case '05': {
        const g = getnum(value, e !== '15');
        if (!g) { bad = true; break; }
        value = g.rest;
        if (e === '01') { month = g.n; if (month <= 0 || month > 12) range = 'month'; }
        if (e === '02') day = g.n;
        if (e === '15') { hour = g.n; if (hour >= 24) range = 'hour'; }
        if (e === '04') { min = g.n; if (min >= 60) range = 'minute'; }
        if (e === '05') {
          sec = g.n;
          if (sec >= 60) { range = 'second'; break; }
          // A fraction the layout does not ask for is accepted (any number of digits)...
          if (value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigit(value, 1)) {
            if (elems[i + 1] === '.000000') break; // ...unless the layout's next element is the fraction
            let n = 2;
            while (n < value.length && isDigit(value, n)) n++;
            const f = parseNanoseconds(value, n);
            if (f.range) range = f.range;
            else nsec = f.ns;
            value = value.slice(n);
          }
        }
        break;
      }
      case '.000000': {
        const ndigit = 7;
        if (value.length < ndigit) { bad = true; break; }
        const f = parseNanoseconds(value, ndigit);
        if (f.bad) { bad = true; break; }
        if (f.range) range = f.range;
        else nsec = f.ns;
        value = value.slice(ndigit);
        break;
      }
      case 'Z07:00': {
        if (value.length >= 1 && value[0] === 'Z') { value = value.slice(1); break; }
        if (value.length < 6 || value[3] !== ':') { bad = true; break; }
        const sign = value[0];
        const hr = getnum(value.slice(1, 3), true);
        const mm = getnum(value.slice(4, 6), true);
        value = value.slice(6);
        if (!hr || !mm) { bad = true; break; }
        if (hr.n > 24) range = 'time zone offset hour';
        if (mm.n > 60) range = 'time zone offset minute';
        if (sign !== '+' && sign !== '-') { bad = true; break; }
        offset = (sign === '-' ? -1 : 1) * (hr.n * 3600 + mm.n * 60);
        break;
      }
      default: throw new Error(`layout element ${e}`);
    }
    if (range) throw outOfRange(range);
    if (bad) throw cannot(hold, e);
  }
  if (value.length > 0) throw new GoTimeError(`parsing time ${quote(input)}: extra text: ${quote(value)}`);
  if (day < 1 || day > daysIn(month, year)) throw outOfRange('day');
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, sec, 0);
  return { seconds: Math.floor(d.getTime() / 1000) - offset, micros: Math.floor(nsec / 1000) };
}

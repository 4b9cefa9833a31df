// The parts of Go's time package OPA's time builtins expose: layout-based
// Parse and Format (src/time/format.go, ported), ParseDuration, the civil
// calendar, and locations. Zones come from the tz database through Intl
// (offsets and abbreviations); Go's own tzdata may abbreviate some zones
// differently (Intl prints "GMT+1" where Go prints "CET").

export class GoTimeError extends Error {}

// ---- calendar ----

/** Days since 1970-01-01 of a proleptic Gregorian date; month/day may overflow. */
export function daysFromCivil(y: number, m: number, d: number): number {
  // Normalise the month first (Go's Date does), then Hinnant's algorithm.
  y += Math.floor((m - 1) / 12);
  m = ((((m - 1) % 12) + 12) % 12) + 1;
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5);
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468 + (d - 1);
}

export function civilFromDays(z: number): { year: number; month: number; day: number } {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const y = yoe + era * 400;
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return { year: y + (m <= 2 ? 1 : 0), month: m, day: d };
}

export const isLeap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);

export function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

export const LONG_DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const SHORT_DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const SHORT_MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const LONG_MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

// ---- locations ----

export interface Location {
  name: string;
  /** Offset east of UTC in seconds and zone abbreviation in effect at a Unix second. */
  lookup(unixSec: number): { offset: number; abbr: string };
}

export const UTC: Location = { name: "UTC", lookup: () => ({ offset: 0, abbr: "UTC" }) };

export function fixedZone(name: string, offset: number): Location {
  return { name, lookup: () => ({ offset, abbr: name }) };
}

function intlAbbr(raw: string): string {
  // Intl writes zones without a letter abbreviation as GMT+h[:mm]; the tz
  // database (and so Go) writes them as +hh[mm].
  const m = /^GMT([+-])(\d{1,2})(?::(\d\d))?$/.exec(raw);
  if (!m) return raw;
  return `${m[1]}${m[2]!.padStart(2, "0")}${m[3] ?? ""}`;
}

class IntlLocation implements Location {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly memo = new Map<number, { offset: number; abbr: string }>();

  constructor(
    readonly name: string,
    zone: string,
  ) {
    this.fmt = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      timeZoneName: "short",
    });
  }

  lookup(unixSec: number): { offset: number; abbr: string } {
    const hit = this.memo.get(unixSec);
    if (hit) return hit;
    const parts = this.fmt.formatToParts(new Date(unixSec * 1000));
    const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
    const wall =
      daysFromCivil(get("year"), get("month"), get("day")) * 86400 +
      get("hour") * 3600 +
      get("minute") * 60 +
      get("second");
    const abbr = intlAbbr(parts.find((p) => p.type === "timeZoneName")?.value ?? "");
    const r = { offset: wall - unixSec, abbr };
    if (this.memo.size > 4096) this.memo.clear();
    this.memo.set(unixSec, r);
    return r;
  }
}

const locations = new Map<string, Location>();

/** Go's time.LoadLocation ("" and "UTC" are UTC, "Local" the process zone). */
export function loadLocation(name: string): Location {
  if (name === "" || name === "UTC") return UTC;
  let loc = locations.get(name);
  if (loc) return loc;
  if (name === "Local") {
    const zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    loc =
      zone === "UTC" || zone === "Etc/UTC"
        ? { name: "Local", lookup: UTC.lookup }
        : new IntlLocation("Local", zone);
  } else {
    try {
      loc = new IntlLocation(name, name);
    } catch {
      throw new GoTimeError(`unknown time zone ${name}`);
    }
  }
  locations.set(name, loc);
  return loc;
}

export const LOCAL = (): Location => loadLocation("Local");

// ---- time values ----

export interface GoTime {
  /** Unix seconds */
  sec: number;
  /** 0 ≤ nsec < 1e9 */
  nsec: number;
  loc: Location;
}

export function fromUnixNano(ns: bigint, loc: Location): GoTime {
  let sec = ns / 1000000000n;
  let nsec = ns % 1000000000n;
  if (nsec < 0n) {
    nsec += 1000000000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec), loc };
}

export const unixNano = (t: GoTime): bigint => BigInt(t.sec) * 1000000000n + BigInt(t.nsec);

export interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  min: number;
  sec: number;
  yday: number;
  weekday: number;
  offset: number;
  abbr: string;
}

export function fields(t: GoTime): Fields {
  const { offset, abbr } = t.loc.lookup(t.sec);
  const local = t.sec + offset;
  const days = Math.floor(local / 86400);
  const secOfDay = local - days * 86400;
  const { year, month, day } = civilFromDays(days);
  return {
    year,
    month,
    day,
    hour: Math.floor(secOfDay / 3600),
    min: Math.floor((secOfDay % 3600) / 60),
    sec: secOfDay % 60,
    yday: DAYS_BEFORE[month - 1]! + day + (month > 2 && isLeap(year) ? 1 : 0),
    weekday: (((days + 4) % 7) + 7) % 7,
    offset,
    abbr,
  };
}

/** Go's time.Date: wall clock in loc (fields may overflow) to an instant. */
export function goDate(
  year: number,
  month: number,
  day: number,
  hour: number,
  min: number,
  sec: number,
  nsec: number,
  loc: Location,
): GoTime {
  sec += Math.floor(nsec / 1e9);
  nsec = ((nsec % 1e9) + 1e9) % 1e9;
  const wall = daysFromCivil(year, month, 1) * 86400 + (day - 1) * 86400 + hour * 3600 + min * 60 + sec;
  // Like Go: take the offset in effect at the wall time read as UTC, and
  // re-check it at the corrected instant (zone transitions).
  let { offset } = loc.lookup(wall);
  if (offset !== 0) {
    const again = loc.lookup(wall - offset).offset;
    if (again !== offset) offset = again;
  }
  return { sec: wall - offset, nsec, loc };
}

// ---- layouts ----

const enum Std {
  None = 0,
  LongMonth = 1,
  Month,
  NumMonth,
  ZeroMonth,
  LongWeekDay,
  WeekDay,
  Day,
  UnderDay,
  ZeroDay,
  UnderYearDay,
  ZeroYearDay,
  Hour,
  Hour12,
  ZeroHour12,
  Minute,
  ZeroMinute,
  Second,
  ZeroSecond,
  LongYear,
  Year,
  PM,
  pm,
  TZ,
  ISO8601TZ,
  ISO8601SecondsTZ,
  ISO8601ShortTZ,
  ISO8601ColonTZ,
  ISO8601ColonSecondsTZ,
  NumTZ,
  NumSecondsTz,
  NumShortTZ,
  NumColonTZ,
  NumColonSecondsTZ,
  FracSecond0,
  FracSecond9,
}

interface Chunk {
  prefix: string;
  std: Std;
  /** digits of a fractional second */
  digits: number;
  /** fractional second separator */
  sep: string;
  suffix: string;
}

const STD0X = [Std.ZeroMonth, Std.ZeroDay, Std.ZeroHour12, Std.ZeroMinute, Std.ZeroSecond, Std.Year];

const startsWithLower = (s: string): boolean => s.length > 0 && s[0]! >= "a" && s[0]! <= "z";
const isDigitAt = (s: string, i: number): boolean => i < s.length && s[i]! >= "0" && s[i]! <= "9";

function chunk(layout: string, i: number, std: Std, len: number, prefixEnd = i): Chunk {
  return { prefix: layout.slice(0, prefixEnd), std, digits: 0, sep: ".", suffix: layout.slice(i + len) };
}

/** Go's nextStdChunk. */
function nextStdChunk(layout: string): Chunk {
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i]!;
    const at = (s: string): boolean => layout.startsWith(s, i);
    switch (c) {
      case "J":
        if (at("Jan")) {
          if (at("January")) return chunk(layout, i, Std.LongMonth, 7);
          if (!startsWithLower(layout.slice(i + 3))) return chunk(layout, i, Std.Month, 3);
        }
        break;
      case "M":
        if (layout.length >= i + 3) {
          if (at("Mon")) {
            if (at("Monday")) return chunk(layout, i, Std.LongWeekDay, 6);
            if (!startsWithLower(layout.slice(i + 3))) return chunk(layout, i, Std.WeekDay, 3);
          }
          if (at("MST")) return chunk(layout, i, Std.TZ, 3);
        }
        break;
      case "0":
        if (layout.length >= i + 2 && layout[i + 1]! >= "1" && layout[i + 1]! <= "6") {
          return chunk(layout, i, STD0X[layout.charCodeAt(i + 1) - 49]!, 2);
        }
        if (at("002")) return chunk(layout, i, Std.ZeroYearDay, 3);
        break;
      case "1":
        if (at("15")) return chunk(layout, i, Std.Hour, 2);
        return chunk(layout, i, Std.NumMonth, 1);
      case "2":
        if (at("2006")) return chunk(layout, i, Std.LongYear, 4);
        return chunk(layout, i, Std.Day, 1);
      case "_":
        if (at("_2")) {
          if (at("_2006")) return chunk(layout, i + 1, Std.LongYear, 4, i + 1);
          return chunk(layout, i, Std.UnderDay, 2);
        }
        if (at("__2")) return chunk(layout, i, Std.UnderYearDay, 3);
        break;
      case "3":
        return chunk(layout, i, Std.Hour12, 1);
      case "4":
        return chunk(layout, i, Std.Minute, 1);
      case "5":
        return chunk(layout, i, Std.Second, 1);
      case "P":
        if (at("PM")) return chunk(layout, i, Std.PM, 2);
        break;
      case "p":
        if (at("pm")) return chunk(layout, i, Std.pm, 2);
        break;
      case "-":
        if (at("-070000")) return chunk(layout, i, Std.NumSecondsTz, 7);
        if (at("-07:00:00")) return chunk(layout, i, Std.NumColonSecondsTZ, 9);
        if (at("-0700")) return chunk(layout, i, Std.NumTZ, 5);
        if (at("-07:00")) return chunk(layout, i, Std.NumColonTZ, 6);
        if (at("-07")) return chunk(layout, i, Std.NumShortTZ, 3);
        break;
      case "Z":
        if (at("Z070000")) return chunk(layout, i, Std.ISO8601SecondsTZ, 7);
        if (at("Z07:00:00")) return chunk(layout, i, Std.ISO8601ColonSecondsTZ, 9);
        if (at("Z0700")) return chunk(layout, i, Std.ISO8601TZ, 5);
        if (at("Z07:00")) return chunk(layout, i, Std.ISO8601ColonTZ, 6);
        if (at("Z07")) return chunk(layout, i, Std.ISO8601ShortTZ, 3);
        break;
      case ".":
      case ",":
        if (i + 1 < layout.length && (layout[i + 1] === "0" || layout[i + 1] === "9")) {
          const ch = layout[i + 1]!;
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          if (!isDigitAt(layout, j)) {
            return {
              prefix: layout.slice(0, i),
              std: ch === "9" ? Std.FracSecond9 : Std.FracSecond0,
              digits: j - (i + 1),
              sep: c,
              suffix: layout.slice(j),
            };
          }
        }
        break;
    }
  }
  return { prefix: layout, std: Std.None, digits: 0, sep: ".", suffix: "" };
}

export const RFC3339 = "2006-01-02T15:04:05Z07:00";
export const RFC3339Nano = "2006-01-02T15:04:05.999999999Z07:00";

/** The layout names OPA accepts in place of a layout. */
export const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: "Mon Jan _2 15:04:05 2006",
  UnixDate: "Mon Jan _2 15:04:05 MST 2006",
  RubyDate: "Mon Jan 02 15:04:05 -0700 2006",
  RFC822: "02 Jan 06 15:04 MST",
  RFC822Z: "02 Jan 06 15:04 -0700",
  RFC850: "Monday, 02-Jan-06 15:04:05 MST",
  RFC1123: "Mon, 02 Jan 2006 15:04:05 MST",
  RFC1123Z: "Mon, 02 Jan 2006 15:04:05 -0700",
  RFC3339,
  RFC3339Nano,
};

function pad(n: number, width: number): string {
  const neg = n < 0;
  const s = String(Math.abs(n)).padStart(width, "0");
  return neg ? "-" + s : s;
}

function appendNano(nsec: number, c: Chunk): string {
  const trim = c.std === Std.FracSecond9;
  if (trim && (c.digits === 0 || nsec === 0)) return "";
  let s = c.sep + String(nsec).padStart(9, "0");
  if (c.digits < 9) s = s.slice(0, 1 + c.digits);
  if (trim) {
    s = s.replace(/0+$/, "");
    if (s === c.sep) return "";
  }
  return s;
}

/** Go's Time.Format. */
export function format(t: GoTime, layout: string): string {
  const f = fields(t);
  let out = "";
  while (layout !== "") {
    const c = nextStdChunk(layout);
    out += c.prefix;
    if (c.std === Std.None) break;
    layout = c.suffix;
    switch (c.std) {
      case Std.Year:
        out += pad(Math.abs(f.year) % 100, 2);
        break;
      case Std.LongYear:
        out += pad(f.year, 4);
        break;
      case Std.Month:
        out += SHORT_MONTH_NAMES[f.month - 1];
        break;
      case Std.LongMonth:
        out += LONG_MONTH_NAMES[f.month - 1];
        break;
      case Std.NumMonth:
        out += f.month;
        break;
      case Std.ZeroMonth:
        out += pad(f.month, 2);
        break;
      case Std.WeekDay:
        out += SHORT_DAY_NAMES[f.weekday];
        break;
      case Std.LongWeekDay:
        out += LONG_DAY_NAMES[f.weekday];
        break;
      case Std.Day:
        out += f.day;
        break;
      case Std.UnderDay:
        out += (f.day < 10 ? " " : "") + f.day;
        break;
      case Std.ZeroDay:
        out += pad(f.day, 2);
        break;
      case Std.UnderYearDay:
        out += (f.yday < 10 ? "  " : f.yday < 100 ? " " : "") + f.yday;
        break;
      case Std.ZeroYearDay:
        out += pad(f.yday, 3);
        break;
      case Std.Hour:
        out += pad(f.hour, 2);
        break;
      case Std.Hour12:
        out += f.hour % 12 === 0 ? 12 : f.hour % 12;
        break;
      case Std.ZeroHour12:
        out += pad(f.hour % 12 === 0 ? 12 : f.hour % 12, 2);
        break;
      case Std.Minute:
        out += f.min;
        break;
      case Std.ZeroMinute:
        out += pad(f.min, 2);
        break;
      case Std.Second:
        out += f.sec;
        break;
      case Std.ZeroSecond:
        out += pad(f.sec, 2);
        break;
      case Std.PM:
        out += f.hour >= 12 ? "PM" : "AM";
        break;
      case Std.pm:
        out += f.hour >= 12 ? "pm" : "am";
        break;
      case Std.ISO8601TZ:
      case Std.ISO8601ColonTZ:
      case Std.ISO8601SecondsTZ:
      case Std.ISO8601ShortTZ:
      case Std.ISO8601ColonSecondsTZ:
      case Std.NumTZ:
      case Std.NumColonTZ:
      case Std.NumSecondsTz:
      case Std.NumShortTZ:
      case Std.NumColonSecondsTZ: {
        const iso =
          c.std === Std.ISO8601TZ ||
          c.std === Std.ISO8601ColonTZ ||
          c.std === Std.ISO8601SecondsTZ ||
          c.std === Std.ISO8601ShortTZ ||
          c.std === Std.ISO8601ColonSecondsTZ;
        if (f.offset === 0 && iso) {
          out += "Z";
          break;
        }
        let zone = Math.trunc(f.offset / 60);
        let absoffset = f.offset;
        if (zone < 0) {
          out += "-";
          zone = -zone;
          absoffset = -absoffset;
        } else {
          out += "+";
        }
        out += pad(Math.trunc(zone / 60), 2);
        const colon =
          c.std === Std.ISO8601ColonTZ ||
          c.std === Std.NumColonTZ ||
          c.std === Std.ISO8601ColonSecondsTZ ||
          c.std === Std.NumColonSecondsTZ;
        if (colon) out += ":";
        if (c.std !== Std.NumShortTZ && c.std !== Std.ISO8601ShortTZ) out += pad(zone % 60, 2);
        if (
          c.std === Std.ISO8601SecondsTZ ||
          c.std === Std.NumSecondsTz ||
          c.std === Std.NumColonSecondsTZ ||
          c.std === Std.ISO8601ColonSecondsTZ
        ) {
          if (c.std === Std.NumColonSecondsTZ || c.std === Std.ISO8601ColonSecondsTZ) out += ":";
          out += pad(absoffset % 60, 2);
        }
        break;
      }
      case Std.TZ: {
        if (f.abbr !== "") {
          out += f.abbr;
          break;
        }
        let zone = Math.trunc(f.offset / 60);
        if (zone < 0) {
          out += "-";
          zone = -zone;
        } else {
          out += "+";
        }
        out += pad(Math.trunc(zone / 60), 2) + pad(zone % 60, 2);
        break;
      }
      case Std.FracSecond0:
      case Std.FracSecond9:
        out += appendNano(t.nsec, c);
        break;
    }
  }
  return out;
}

// ---- parsing ----

/** Go's quote() for time error messages: non-ASCII and control bytes as \xNN. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of Buffer.from(ch, "utf8")) out += "\\x" + b.toString(16).padStart(2, "0");
    } else {
      if (ch === '"' || ch === "\\") out += "\\";
      out += ch;
    }
  }
  return out + '"';
}

class ParseErr extends GoTimeError {
  constructor(layout: string, value: string, layoutElem: string, valueElem: string, message: string) {
    super(
      message === ""
        ? `parsing time ${goQuote(value)} as ${goQuote(layout)}: cannot parse ${goQuote(valueElem)} as ${goQuote(layoutElem)}`
        : `parsing time ${goQuote(value)}${message}`,
    );
  }
}

const BAD = Symbol("bad");

function getnum(s: string, fixed: boolean): [number, string] | typeof BAD {
  if (!isDigitAt(s, 0)) return BAD;
  if (!isDigitAt(s, 1)) {
    if (fixed) return BAD;
    return [s.charCodeAt(0) - 48, s.slice(1)];
  }
  return [(s.charCodeAt(0) - 48) * 10 + (s.charCodeAt(1) - 48), s.slice(2)];
}

function getnum3(s: string, fixed: boolean): [number, string] | typeof BAD {
  let n = 0;
  let i = 0;
  for (; i < 3 && isDigitAt(s, i); i++) n = n * 10 + (s.charCodeAt(i) - 48);
  if (i === 0 || (fixed && i !== 3)) return BAD;
  return [n, s.slice(i)];
}

/** leadingInt: [0-9]* as a number, null on int64 overflow. */
function leadingInt(s: string): [bigint, string] | null {
  let i = 0;
  let x = 0n;
  for (; i < s.length && isDigitAt(s, i); i++) {
    if (x > (1n << 63n) / 10n) return null;
    x = x * 10n + BigInt(s.charCodeAt(i) - 48);
    if (x > 1n << 63n) return null;
  }
  return [x, s.slice(i)];
}

function atoi(s: string): number | typeof BAD {
  let neg = false;
  if (s.length > 0 && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  const r = leadingInt(s);
  if (!r || r[1].length > 0) return BAD;
  const x = Number(r[0]);
  return neg ? -x : x;
}

function lookupName(tab: string[], val: string): [number, string] | typeof BAD {
  for (let i = 0; i < tab.length; i++) {
    const v = tab[i]!;
    if (val.length >= v.length && val.slice(0, v.length).toLowerCase() === v.toLowerCase()) {
      // Go compares ASCII letters case-insensitively and anything else exactly.
      let ok = true;
      for (let j = 0; j < v.length; j++) {
        const a = val.charCodeAt(j);
        const b = v.charCodeAt(j);
        if (a !== b && ((a | 0x20) !== (b | 0x20) || (a | 0x20) < 0x61 || (a | 0x20) > 0x7a)) ok = false;
      }
      if (ok) return [i, val.slice(v.length)];
    }
  }
  return BAD;
}

function skip(value: string, prefix: string): string | typeof BAD {
  while (prefix.length > 0) {
    if (prefix[0] === " ") {
      if (value.length > 0 && value[0] !== " ") return BAD;
      prefix = prefix.replace(/^ +/, "");
      value = value.replace(/^ +/, "");
      continue;
    }
    if (value.length === 0 || value[0] !== prefix[0]) return BAD;
    prefix = prefix.slice(1);
    value = value.slice(1);
  }
  return value;
}

function parseSignedOffset(value: string): number {
  const sign = value[0];
  if (sign !== "-" && sign !== "+") return 0;
  const r = leadingInt(value.slice(1));
  if (!r || r[1] === value.slice(1)) return 0;
  if (r[0] > 23n) return 0;
  return value.length - r[1].length;
}

function parseTimeZone(value: string): number {
  if (value.length < 3) return 0;
  if (value.startsWith("ChST") || value.startsWith("MeST")) return 4;
  if (value.startsWith("GMT")) return 3 + (value.length === 3 ? 0 : parseSignedOffset(value.slice(3)));
  if (value[0] === "+" || value[0] === "-") return parseSignedOffset(value);
  let n = 0;
  while (n < 6 && n < value.length && value[n]! >= "A" && value[n]! <= "Z") n++;
  switch (n) {
    case 5:
      return value[4] === "T" ? 5 : 0;
    case 4:
      return value[3] === "T" || value.startsWith("WITA") ? 4 : 0;
    case 3:
      return 3;
    default:
      return 0;
  }
}

function parseNanoseconds(value: string, nbytes: number): { ns: number; range: string } | typeof BAD {
  if (value[0] !== "." && value[0] !== ",") return BAD;
  if (nbytes > 10) nbytes = 10;
  const ns = atoi(value.slice(1, nbytes));
  if (ns === BAD) return BAD;
  if (ns < 0) return { ns: 0, range: "fractional second" };
  return { ns: ns * 10 ** (10 - nbytes), range: "" };
}

/** Go's time.Parse (UTC default location, Local for zone names and offsets). */
export function parse(layout: string, value: string): GoTime {
  const alayout = layout;
  const avalue = value;
  let rangeErr = "";
  let amSet = false;
  let pmSet = false;
  let year = 0;
  let month = -1;
  let day = -1;
  let yday = -1;
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let z: Location | null = null;
  let zoneOffset = -1;
  let zoneName = "";

  for (;;) {
    const c = nextStdChunk(layout);
    const stdstr = layout.slice(c.prefix.length, layout.length - c.suffix.length);
    const skipped = skip(value, c.prefix);
    if (skipped === BAD) throw new ParseErr(alayout, avalue, c.prefix, value, "");
    value = skipped;
    if (c.std === Std.None) {
      if (value.length !== 0)
        throw new ParseErr(alayout, avalue, "", value, `: extra text: ${goQuote(value)}`);
      break;
    }
    layout = c.suffix;
    const hold = value;
    let bad = false;
    const take = <T>(r: [T, string] | typeof BAD): T | undefined => {
      if (r === BAD) {
        bad = true;
        return undefined;
      }
      value = r[1];
      return r[0];
    };
    switch (c.std) {
      case Std.Year: {
        if (value.length < 2) {
          bad = true;
          break;
        }
        const y = atoi(value.slice(0, 2));
        value = value.slice(2);
        if (y === BAD) {
          bad = true;
          break;
        }
        year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case Std.LongYear: {
        if (value.length < 4 || !isDigitAt(value, 0)) {
          bad = true;
          break;
        }
        const y = atoi(value.slice(0, 4));
        value = value.slice(4);
        if (y === BAD) bad = true;
        else year = y;
        break;
      }
      case Std.Month: {
        const m = take(lookupName(SHORT_MONTH_NAMES, value));
        if (m !== undefined) month = m + 1;
        break;
      }
      case Std.LongMonth: {
        const m = take(lookupName(LONG_MONTH_NAMES, value));
        if (m !== undefined) month = m + 1;
        break;
      }
      case Std.NumMonth:
      case Std.ZeroMonth: {
        const m = take(getnum(value, c.std === Std.ZeroMonth));
        if (m !== undefined) {
          month = m;
          if (m <= 0 || m > 12) rangeErr = "month";
        }
        break;
      }
      case Std.WeekDay:
        take(lookupName(SHORT_DAY_NAMES, value));
        break;
      case Std.LongWeekDay:
        take(lookupName(LONG_DAY_NAMES, value));
        break;
      case Std.Day:
      case Std.UnderDay:
      case Std.ZeroDay: {
        if (c.std === Std.UnderDay && value.length > 0 && value[0] === " ") value = value.slice(1);
        const d = take(getnum(value, c.std === Std.ZeroDay));
        if (d !== undefined) day = d;
        break;
      }
      case Std.UnderYearDay:
      case Std.ZeroYearDay: {
        for (let i = 0; i < 2; i++) {
          if (c.std === Std.UnderYearDay && value.length > 0 && value[0] === " ") value = value.slice(1);
        }
        const d = take(getnum3(value, c.std === Std.ZeroYearDay));
        if (d !== undefined) yday = d;
        break;
      }
      case Std.Hour: {
        const h = take(getnum(value, false));
        if (h !== undefined) {
          hour = h;
          if (h < 0 || h >= 24) rangeErr = "hour";
        }
        break;
      }
      case Std.Hour12:
      case Std.ZeroHour12: {
        const h = take(getnum(value, c.std === Std.ZeroHour12));
        if (h !== undefined) {
          hour = h;
          if (h < 0 || h > 12) rangeErr = "hour";
        }
        break;
      }
      case Std.Minute:
      case Std.ZeroMinute: {
        const m = take(getnum(value, c.std === Std.ZeroMinute));
        if (m !== undefined) {
          min = m;
          if (m < 0 || m >= 60) rangeErr = "minute";
        }
        break;
      }
      case Std.Second:
      case Std.ZeroSecond: {
        const s = take(getnum(value, c.std === Std.ZeroSecond));
        if (s === undefined) break;
        sec = s;
        if (s < 0 || s >= 60) {
          rangeErr = "second";
          break;
        }
        // A fractional second in the value that the layout does not mention.
        if (value.length >= 2 && (value[0] === "." || value[0] === ",") && isDigitAt(value, 1)) {
          const nx = nextStdChunk(layout);
          if (nx.std === Std.FracSecond0 || nx.std === Std.FracSecond9) break;
          let n = 2;
          while (n < value.length && isDigitAt(value, n)) n++;
          const r = parseNanoseconds(value, n);
          if (r === BAD) bad = true;
          else {
            nsec = r.ns;
            rangeErr = r.range;
          }
          value = value.slice(n);
        }
        break;
      }
      case Std.PM:
      case Std.pm: {
        if (value.length < 2) {
          bad = true;
          break;
        }
        const p = value.slice(0, 2);
        value = value.slice(2);
        const [pmS, amS] = c.std === Std.PM ? ["PM", "AM"] : ["pm", "am"];
        if (p === pmS) pmSet = true;
        else if (p === amS) amSet = true;
        else bad = true;
        break;
      }
      case Std.ISO8601TZ:
      case Std.ISO8601ShortTZ:
      case Std.ISO8601ColonTZ:
      case Std.ISO8601SecondsTZ:
      case Std.ISO8601ColonSecondsTZ:
      case Std.NumTZ:
      case Std.NumShortTZ:
      case Std.NumColonTZ:
      case Std.NumSecondsTz:
      case Std.NumColonSecondsTZ: {
        const iso =
          c.std === Std.ISO8601TZ ||
          c.std === Std.ISO8601ShortTZ ||
          c.std === Std.ISO8601ColonTZ ||
          c.std === Std.ISO8601SecondsTZ ||
          c.std === Std.ISO8601ColonSecondsTZ;
        if (iso && value.length >= 1 && value[0] === "Z") {
          value = value.slice(1);
          z = UTC;
          break;
        }
        let sign: string;
        let hh: string;
        let mm: string;
        let ss: string;
        if (c.std === Std.ISO8601ColonTZ || c.std === Std.NumColonTZ) {
          if (value.length < 6 || value[3] !== ":") {
            bad = true;
            break;
          }
          [sign, hh, mm, ss] = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), "00"];
          value = value.slice(6);
        } else if (c.std === Std.NumShortTZ || c.std === Std.ISO8601ShortTZ) {
          if (value.length < 3) {
            bad = true;
            break;
          }
          [sign, hh, mm, ss] = [value.slice(0, 1), value.slice(1, 3), "00", "00"];
          value = value.slice(3);
        } else if (c.std === Std.ISO8601ColonSecondsTZ || c.std === Std.NumColonSecondsTZ) {
          if (value.length < 9 || value[3] !== ":" || value[6] !== ":") {
            bad = true;
            break;
          }
          [sign, hh, mm, ss] = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), value.slice(7, 9)];
          value = value.slice(9);
        } else if (c.std === Std.ISO8601SecondsTZ || c.std === Std.NumSecondsTz) {
          if (value.length < 7) {
            bad = true;
            break;
          }
          [sign, hh, mm, ss] = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), value.slice(5, 7)];
          value = value.slice(7);
        } else {
          if (value.length < 5) {
            bad = true;
            break;
          }
          [sign, hh, mm, ss] = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), "00"];
          value = value.slice(5);
        }
        const h = getnum(hh, true);
        const m = h === BAD ? BAD : getnum(mm, true);
        const s = m === BAD ? BAD : getnum(ss, true);
        if (h === BAD || m === BAD || s === BAD) {
          bad = true;
          break;
        }
        if (h[0] > 24) rangeErr = "time zone offset hour";
        if (m[0] > 60) rangeErr = "time zone offset minute";
        if (s[0] > 60) rangeErr = "time zone offset second";
        zoneOffset = (h[0] * 60 + m[0]) * 60 + s[0];
        if (sign === "-") zoneOffset = -zoneOffset;
        else if (sign !== "+") bad = true;
        break;
      }
      case Std.TZ: {
        if (value.length >= 3 && value.startsWith("UTC")) {
          z = UTC;
          value = value.slice(3);
          break;
        }
        const n = parseTimeZone(value);
        if (n === 0) {
          bad = true;
          break;
        }
        zoneName = value.slice(0, n);
        value = value.slice(n);
        break;
      }
      case Std.FracSecond0: {
        const ndigit = 1 + c.digits;
        if (value.length < ndigit) {
          bad = true;
          break;
        }
        const r = parseNanoseconds(value, ndigit);
        if (r === BAD) bad = true;
        else {
          nsec = r.ns;
          rangeErr = r.range;
        }
        value = value.slice(ndigit);
        break;
      }
      case Std.FracSecond9: {
        if (value.length < 2 || (value[0] !== "." && value[0] !== ",") || !isDigitAt(value, 1)) break;
        let i = 0;
        while (i + 1 < value.length && isDigitAt(value, i + 1)) i++;
        const r = parseNanoseconds(value, 1 + i);
        if (r === BAD) bad = true;
        else {
          nsec = r.ns;
          rangeErr = r.range;
        }
        value = value.slice(1 + i);
        break;
      }
    }
    if (rangeErr !== "") throw new ParseErr(alayout, avalue, stdstr, value, `: ${rangeErr} out of range`);
    if (bad) throw new ParseErr(alayout, avalue, stdstr, hold, "");
  }
  if (pmSet && hour < 12) hour += 12;
  else if (amSet && hour === 12) hour = 0;

  if (yday >= 0) {
    let d = 0;
    let m = 0;
    if (isLeap(year)) {
      if (yday === 31 + 29) {
        m = 2;
        d = 29;
      } else if (yday > 31 + 29) {
        yday--;
      }
    }
    if (yday < 1 || yday > 365) throw new ParseErr(alayout, avalue, "", value, ": day-of-year out of range");
    if (m === 0) {
      m = Math.floor((yday - 1) / 31) + 1;
      if (DAYS_BEFORE[m]! < yday) m++;
      d = yday - DAYS_BEFORE[m - 1]!;
    }
    if (month >= 0 && month !== m)
      throw new ParseErr(alayout, avalue, "", value, ": day-of-year does not match month");
    month = m;
    if (day >= 0 && day !== d)
      throw new ParseErr(alayout, avalue, "", value, ": day-of-year does not match day");
    day = d;
  } else {
    if (month < 0) month = 1;
    if (day < 0) day = 1;
  }
  if (day < 1 || day > daysIn(month, year))
    throw new ParseErr(alayout, avalue, "", value, ": day out of range");

  if (z) return goDate(year, month, day, hour, min, sec, nsec, z);
  if (zoneOffset !== -1) {
    const t = goDate(year, month, day, hour, min, sec, nsec, UTC);
    t.sec -= zoneOffset;
    const local = LOCAL();
    const here = local.lookup(t.sec);
    t.loc =
      here.offset === zoneOffset && (zoneName === "" || here.abbr === zoneName)
        ? local
        : fixedZone(zoneName, zoneOffset);
    return t;
  }
  if (zoneName !== "") {
    const t = goDate(year, month, day, hour, min, sec, nsec, UTC);
    const local = LOCAL();
    const here = local.lookup(t.sec);
    if (here.abbr === zoneName) {
      t.sec -= here.offset;
      t.loc = local;
      return t;
    }
    // An unknown abbreviation keeps the wall clock as UTC (only GMT±h gets an offset, for display).
    let offset = 0;
    if (zoneName.length > 3 && zoneName.startsWith("GMT")) {
      const o = atoi(zoneName.slice(3));
      offset = o === BAD ? 0 : o * 3600;
    }
    t.loc = fixedZone(zoneName, offset);
    return t;
  }
  return goDate(year, month, day, hour, min, sec, nsec, UTC);
}

// ---- durations ----

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1000000n,
  s: 1000000000n,
  m: 60n * 1000000000n,
  h: 3600n * 1000000000n,
};

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(orig: string): bigint {
  const invalid = (): GoTimeError => new GoTimeError(`time: invalid duration ${goQuote(orig)}`);
  let s = orig;
  let d = 0n;
  let neg = false;
  if (s !== "" && (s[0] === "-" || s[0] === "+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw invalid();
  const MAX = 1n << 63n;
  while (s !== "") {
    if (!(s[0] === "." || isDigitAt(s, 0))) throw invalid();
    const pl = s.length;
    const li = leadingInt(s);
    if (!li) throw invalid();
    let v = li[0];
    s = li[1];
    const pre = pl !== s.length;
    let post = false;
    let f = 0n;
    let scale = 1;
    if (s !== "" && s[0] === ".") {
      s = s.slice(1);
      const pl2 = s.length;
      let i = 0;
      let overflow = false;
      for (; i < s.length && isDigitAt(s, i); i++) {
        if (overflow) continue;
        if (f > ((1n << 63n) - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(i) - 48);
        if (y > MAX) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      s = s.slice(i);
      post = pl2 !== s.length;
    }
    if (!pre && !post) throw invalid();
    let i = 0;
    while (i < s.length && s[i] !== "." && !isDigitAt(s, i)) i++;
    if (i === 0) throw new GoTimeError(`time: missing unit in duration ${goQuote(orig)}`);
    const u = s.slice(0, i);
    s = s.slice(i);
    const unit = UNITS[u];
    if (unit === undefined)
      throw new GoTimeError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}`);
    if (v > MAX / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // Go adds the fraction in float64, truncating.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX) throw invalid();
    }
    d += v;
    if (d > MAX) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX - 1n) throw invalid();
  return d;
}

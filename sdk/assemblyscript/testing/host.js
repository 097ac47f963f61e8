// An in-memory Sluice host for unit-testing compiled plugins with Node's
// built-in test runner (node:test). It implements every import of plugin ABI
// v1 (sdk/ABI.md §4), the capability functions of §4.8 to §4.11 included,
// plus env.abort, runs hooks the way the gateway does and
// records their effects, with no dependencies beyond Node 20.
//
//   import { TestHost, Verdict } from ".../sdk/assemblyscript/testing/host.js";
//   const h = new TestHost(readFileSync("build/plugin.wasm"), { config: { greeting: "hi" } });
//   const r = h.rcpt("blocked@example.net");
//   assert.equal(r.verdict, Verdict.Reject);
//   assert.equal(r.reply, "550 5.7.1 Recipient blocked");
//
// Like the gateway it validates what the plugin sends (header names and
// values, tags, addresses, replies, the body when data returns), refuses a
// mutation in the wrong phase, rolls back every change of a failed call and
// throws the failed instance away. It is a test double, not the gateway: the
// gateway's own tests remain the reference (`sluice test` runs the real one).

/** Verdicts (sdk/ABI.md §2.1). */
export const Verdict = Object.freeze({
  Continue: 0, Accept: 1, Reject: 2, Tempfail: 3, Discard: 4, Quarantine: 5,
});

const NOT_FOUND = -1;
const TEMPERROR = -2;
const REFUSED = -3;
const QTYPES = ["A", "AAAA", "TXT", "MX", "PTR", "NS", "CNAME"];
const QUOTA = -4;
/** What one key counts against the store's quota (sdk/ABI.md §4.8); k is latin1. */
const kvCost = (k, value) => 128 + k.length + Math.max(value.length, 20);
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/** The lookup form of a DNS question: upper-case type, lower-case name without the final dot. */
const dnsKey = (qtype, name) => `${qtype.toUpperCase()} ${name.toLowerCase().replace(/\.$/, "")}`;
const PHASES = ["connect", "helo", "mail", "rcpt", "data"];
const DEFAULT_REPLY = {
  [Verdict.Reject]: "550 5.7.1 Rejected by policy",
  [Verdict.Tempfail]: "451 4.7.1 Try again later",
};

/** A misuse of the ABI: the call traps and the host treats it as a plugin error. */
export class AbiMisuse extends Error {}

/** Raw message bytes: a string ("\n" becomes CRLF unless it already has CRLF), Buffer or Uint8Array. */
function toBytes(v) {
  if (typeof v === "string") {
    return Buffer.from(v.includes("\r\n") ? v : v.replace(/\n/g, "\r\n"), "utf8");
  }
  return Buffer.from(v);
}

/** Splits a raw message into header fields and body (RFC 5322 §2.1, §2.2.3). */
export function parseMessage(raw) {
  const b = toBytes(raw);
  let end = b.indexOf("\r\n\r\n");
  let headerPart;
  let body;
  if (b.subarray(0, 2).equals(Buffer.from("\r\n"))) {
    headerPart = Buffer.alloc(0);
    body = b.subarray(2);
  } else if (end < 0) {
    headerPart = b;
    body = Buffer.alloc(0);
  } else {
    headerPart = b.subarray(0, end + 2);
    body = b.subarray(end + 4);
  }
  const fields = [];
  let start = 0;
  while (start < headerPart.length) {
    let eol = headerPart.indexOf("\r\n", start);
    if (eol < 0) eol = headerPart.length;
    const line = headerPart.subarray(start, eol);
    if ((line[0] === 0x20 || line[0] === 0x09) && fields.length > 0) {
      const f = fields[fields.length - 1];
      f.value = Buffer.concat([f.value, Buffer.from("\r\n"), line]);
    } else {
      const colon = line.indexOf(0x3a);
      if (colon <= 0) throw new Error(`parseMessage: not a header field: ${JSON.stringify(line.toString("latin1"))}`);
      let value = line.subarray(colon + 1);
      if (value[0] === 0x20) value = value.subarray(1);
      fields.push({ name: Buffer.from(line.subarray(0, colon)), value: Buffer.from(value) });
    }
    start = eol + 2;
  }
  return { fields, body: Buffer.from(body) };
}

const printable = (c) => c >= 0x20 && c <= 0x7e;

function checkHeaderName(name) {
  if (name.length < 1 || name.length > 76) throw new AbiMisuse(`header name must be 1 to 76 bytes, got ${name.length}`);
  for (const c of name) {
    if (c < 33 || c > 126 || c === 0x3a) throw new AbiMisuse(`header name contains byte 0x${c.toString(16)}`);
  }
}

function checkHeaderValue(name, value) {
  const lines = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === 0) throw new AbiMisuse("header value contains NUL");
    if (c === 0x0a) throw new AbiMisuse("header value contains a bare LF");
    if (c === 0x0d) {
      if (value[i + 1] !== 0x0a) throw new AbiMisuse("header value contains a bare CR");
      const next = value[i + 2];
      if (next !== 0x20 && next !== 0x09) throw new AbiMisuse("header value has CRLF not followed by space or tab");
      lines.push(i - start);
      start = i + 2;
      i++;
    }
  }
  lines.push(value.length - start);
  if (lines.length > 1 && value.subarray(start).every((c) => c === 0x20 || c === 0x09)) {
    throw new AbiMisuse("header value ends with an empty continuation line");
  }
  // Length is no error: the host folds (foldHeaderValue).
}

const isWSP = (c) => c === 0x20 || c === 0x09;

/**
 * sdk/ABI.md §4.4, "the 998-byte line rule": a CRLF goes before the space or
 * tab that keeps a line of "Name: value" within 998 bytes (else the first
 * one after it); whitespace that starts or ends a line is no fold point, and
 * a line without one stays long. The unfolded value is unchanged.
 */
export function foldHeaderValue(name, value) {
  const out = [];
  let copied = 0;
  let start = 0;
  let prefix = name.length + 2;
  for (;;) {
    let end = start;
    while (end < value.length && !(value[end] === 0x0d && value[end + 1] === 0x0a)) end++;
    while (prefix + end - start > 998) {
      let first = start;
      while (first < end && isWSP(value[first])) first++;
      let last = end - 1;
      while (last > first && isWSP(value[last])) last--;
      let best = -1;
      for (let i = first + 1; i < last; i++) {
        if (!isWSP(value[i])) continue;
        if (prefix + i - start > 998) {
          if (best < 0) best = i;
          break;
        }
        best = i;
      }
      if (best < 0) break;
      out.push(value.subarray(copied, best), Buffer.from("\r\n"));
      copied = start = best;
      prefix = 0;
    }
    if (end >= value.length) break;
    start = end + 2;
    prefix = 0;
  }
  if (out.length === 0) return value;
  out.push(value.subarray(copied));
  return Buffer.concat(out);
}

function checkTag(key, value) {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(key.toString("latin1"))) throw new AbiMisuse(`invalid tag key ${JSON.stringify(key.toString("latin1"))}`);
  if (value.length > 1024) throw new AbiMisuse("tag value longer than 1024 bytes");
  if (value.some((c) => c === 0 || c === 0x0d || c === 0x0a)) throw new AbiMisuse("tag value contains CR, LF or NUL");
}

function checkAddress(addr, allowEmpty) {
  if (addr.length === 0 && allowEmpty) return;
  const s = addr.toString("latin1");
  if (addr.length > 254 || !/^[^\s<>@]+@[^\s<>@]+$/.test(s) || addr.some((c) => c < 0x20 || c === 0x7f)) {
    throw new AbiMisuse(`invalid address ${JSON.stringify(s)}`);
  }
}

function checkReply(code, enh, text) {
  if (code < 400 || code > 599) throw new AbiMisuse(`reply code ${code} is not between 400 and 599`);
  const e = enh.toString("latin1");
  if (enh.length > 0 && !new RegExp(`^${Math.floor(code / 100)}\\.\\d{1,3}\\.\\d{1,3}$`).test(e)) {
    throw new AbiMisuse(`enhanced code ${JSON.stringify(e)} does not match reply code ${code}`);
  }
  if (text.length < 1 || text.length > 400 || !text.every(printable)) {
    throw new AbiMisuse("reply text must be 1 to 400 bytes of printable ASCII");
  }
}

function checkBody(body) {
  let line = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === 0) throw new AbiMisuse("body contains NUL");
    if (c === 0x0d && body[i + 1] === 0x0a) {
      line = 0;
      i++;
      continue;
    }
    if (c === 0x0d || c === 0x0a) throw new AbiMisuse("body contains a bare CR or LF");
    if (++line > 998) throw new AbiMisuse("body line longer than 998 bytes");
  }
}

/**
 * A session with one plugin. Each hook method returns a Result:
 * `{ called, verdict, reply, error }` where `reply` is the effective reply
 * text ("550 5.7.1 ...") for reject and tempfail, and `error` is the plugin
 * error message (verdict is then null and every change was rolled back).
 */
export class TestHost {
  /**
   * @param {BufferSource} wasm the compiled plugin
   * @param {object} [opts]
   * @param {object|string} [opts.config] the plugin's config (an object is JSON-encoded; default {})
   * @param {string} [opts.name] the plugin's name (default "test")
   * @param {object} [opts.info] session information overriding the defaults
   */
  constructor(wasm, opts = {}) {
    this.module = new WebAssembly.Module(wasm);
    const cfg = opts.config === undefined ? "{}" : typeof opts.config === "string" ? opts.config : JSON.stringify(opts.config);
    this.configBytes = Buffer.from(cfg, "utf8");
    this.info = new Map(Object.entries({
      "session.id": "test-session",
      "client.ip": "192.0.2.1",
      "client.port": "49152",
      "server.hostname": "mx.example.test",
      "plugin.name": opts.name ?? "test",
      ...(opts.info ?? {}),
    }));
    /** Lines the plugin logged: { level, text }. */
    this.logs = [];
    this.sessionTags = new Map();
    this.txTags = new Map();
    this.mailFrom = null;
    this.rcpts = [];
    this.fields = [];
    this.bodyBytes = Buffer.alloc(0);
    this.phase = "configure";
    this.instances = 0;
    this.instance = null;
    // Capabilities (sdk/ABI.md §4.8-§4.11). Grants are not emulated: all are
    // available, except that dkim_sign knows only keys added with addDKIMKey.
    // The key/value store is outside the transaction: a failed call keeps
    // its writes, as in the gateway.
    /** The key/value store: key (latin1) -> { value: Buffer, expires: ms on clockMs or null }. */
    this.kv = new Map();
    /** The store's quota in bytes (kv_quota; sdk/ABI.md §4.8). */
    this.kvQuota = 64 * 1024 * 1024;
    /** Whether the store is down: every kv call returns TEMPERROR (setKvDown). */
    this.kvDown = false;
    /** The store's clock in ms; it moves only with advance(). */
    this.clockMs = 0;
    this.dns = new Map();
    this.auth = new Map();
    this.authRan = 0;
    this.scans = new Map(); // scanner name -> Map of members, or { error }
    this.scanLast = null;
    this.dkimKeys = [];
    this.instantiate();
  }

  // --- capabilities --------------------------------------------------------

  /** Stores a key of the plugin's key/value store as kv_set would. */
  setKV(key, value, ttlMs = 0) {
    this.kv.set(Buffer.from(key, "utf8").toString("latin1"),
      { value: toBytesRaw(value), expires: ttlMs > 0 ? this.clockMs + ttlMs : null });
  }

  /** A key of the store as the plugin would read it now (Buffer), or null. */
  kvValue(key) {
    return this.kvLive(Buffer.from(key, "utf8").toString("latin1"))?.value ?? null;
  }

  /** Sets the store's quota in bytes, as kv_quota in the policy would: writes past it get QUOTA. */
  setKvQuota(bytes) { this.kvQuota = bytes; }

  /**
   * Takes the key/value store down (true) or brings it back (false): while
   * down, every kv call returns TEMPERROR, as with a shared store (Redis)
   * that cannot answer (sdk/ABI.md §4.8). The keys are kept.
   */
  setKvDown(down) { this.kvDown = down; }

  /** What the keys count against the quota: per key 128 + key + value bytes, the value at least 20. */
  kvUsage() {
    let n = 0;
    for (const [k, e] of this.kv) n += kvCost(k, e.value);
    return n;
  }

  /** Whether the store may grow by grow bytes, dropping expired keys first when it may not. */
  kvFits(grow) {
    if (grow <= 0 || this.kvUsage() + grow <= this.kvQuota) return true;
    for (const k of [...this.kv.keys()]) this.kvLive(k);
    return this.kvUsage() + grow <= this.kvQuota;
  }

  /** Moves the store's clock forward: keys whose lifetime passed are gone. */
  advance(ms) { this.clockMs += ms; }

  kvLive(k) {
    const e = this.kv.get(k);
    if (e && e.expires !== null && this.clockMs >= e.expires) {
      this.kv.delete(k);
      return undefined;
    }
    return e;
  }

  /** The records dns_lookup(qtype, name) returns; names compare case-insensitively, final dot optional. */
  setDNS(qtype, name, ...records) { this.dns.set(dnsKey(qtype, name), records); }

  /** Makes dns_lookup(qtype, name) return TEMPERROR. */
  setDNSTemporary(qtype, name) { this.dns.set(dnsKey(qtype, name), TEMPERROR); }

  /**
   * Sets one member of the auth_check result by its auth_value key
   * ("spf.result", "dkim.count", "dkim.0.domain", "dmarc.pct", ...). Nothing
   * is evaluated: members come back as set, for the checks asked for, in the
   * phases the ABI allows.
   */
  setAuth(key, value) { this.auth.set(key, String(value)); }

  /**
   * Grants the scanner `name` and sets one member of its result by
   * scan_value key ("engine", "action", "score", "symbols.count", "virus",
   * ...). Nothing is scanned: members come back as set, in phase data.
   */
  setScan(name, key, value) {
    let m = this.scans.get(name);
    if (!(m instanceof Map)) { m = new Map(); this.scans.set(name, m); }
    m.set(key, String(value));
  }

  /** Grants the scanner `name` and makes it fail with TEMPERROR and `reason`. */
  setScanError(name, reason) { this.scans.set(name, { error: String(reason) }); }

  /**
   * Grants DKIM key `name` (listed in info "dkim.keys"). dkim_sign with it
   * inserts a pretend DKIM-Signature field at the top, or refuses like the
   * host when the message has no From field or several, or headers lacks From.
   */
  addDKIMKey(name, domain, selector, algorithm) {
    this.dkimKeys.push({ name, domain, selector, algorithm });
    this.info.set("dkim.keys", this.dkimKeys.map((k) => `${k.name} ${k.domain} ${k.selector} ${k.algorithm}`).join("\n"));
  }

  /** The auth_check result as the host's JSON, for the checks in `ran`. */
  authJSON(ran) {
    const obj = (prefix) => {
      const o = {};
      for (const [k, v] of this.auth) {
        if (!k.startsWith(prefix) || k.slice(prefix.length).includes(".")) continue;
        const m = k.slice(prefix.length);
        o[m] = m === "pct" ? Number(v) : m.endsWith("_aligned") ? v === "true" : v;
      }
      return o;
    };
    const r = {};
    if (ran & 1) r.spf = obj("spf.");
    if (ran & 2) r.dkim = Array.from({ length: Number(this.auth.get("dkim.count") ?? 0) }, (_, i) => obj(`dkim.${i}.`));
    if (ran & 4) r.dmarc = obj("dmarc.");
    return Buffer.from(JSON.stringify(r), "utf8");
  }

  /** Creates an instance: start section, _initialize, sluice_configure, sluice_hooks. */
  instantiate() {
    this.phase = "configure";
    const inst = new WebAssembly.Instance(this.module, this.imports());
    this.instance = inst;
    this.instances++;
    const ex = inst.exports;
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new Error("plugin does not export memory");
    if (typeof ex.sluice_abi_version !== "function" || ex.sluice_abi_version() !== 1) {
      throw new Error("plugin does not export sluice_abi_version() returning 1");
    }
    if (typeof ex._start === "function" && typeof ex._initialize !== "function") {
      throw new Error("plugin is a command module (exports _start without _initialize)");
    }
    if (typeof ex._initialize === "function") ex._initialize();
    if (typeof ex.sluice_configure === "function") {
      const rc = ex.sluice_configure();
      if (rc !== 0) {
        this.instance = null;
        const why = this.logs.map((l) => l.text).join("; ");
        throw new Error(`plugin refused its configuration (sluice_configure returned ${rc})${why ? ": " + why : ""}`);
      }
    }
    this.mask = typeof ex.sluice_hooks === "function" ? ex.sluice_hooks() : 0x1f;
  }

  // --- hooks ---------------------------------------------------------------

  /** Runs sluice_on_connect. */
  connect() { return this.call("connect"); }

  /** Runs sluice_on_helo with this HELO name. */
  helo(name = "client.example.com") {
    this.info.set("helo", name);
    return this.call("helo");
  }

  /** Starts a transaction and runs sluice_on_mail. "" is the null sender. */
  mail(from, params = "") {
    this.txTags.clear();
    this.rcpts = [];
    this.mailFrom = Buffer.from(from, "utf8");
    this.info.set("mail.from", from);
    this.info.set("mail.params", params);
    return this.call("mail");
  }

  /** Runs sluice_on_rcpt; the recipient is added unless the hook refused it or failed. */
  rcpt(to, params = "") {
    this.info.set("rcpt", to);
    this.info.set("rcpt.params", params);
    const r = this.call("rcpt");
    this.info.delete("rcpt");
    this.info.delete("rcpt.params");
    if (r.error === null && r.verdict !== Verdict.Reject && r.verdict !== Verdict.Tempfail) {
      this.rcpts.push(Buffer.from(to, "utf8"));
    }
    return r;
  }

  /** Sets the message (see parseMessage) and runs sluice_on_data. */
  data(raw) {
    if (raw !== undefined) this.setMessage(raw);
    return this.call("data");
  }

  /** Starts a transaction without calling any hook. */
  setEnvelope(from, ...rcpts) {
    this.txTags.clear();
    this.mailFrom = Buffer.from(from, "utf8");
    this.info.set("mail.from", from);
    this.info.set("mail.params", "");
    this.rcpts = rcpts.map((r) => Buffer.from(r, "utf8"));
  }

  /** Sets the message the data phase sees, without calling any hook. */
  setMessage(raw) {
    const m = parseMessage(raw);
    this.fields = m.fields;
    this.bodyBytes = m.body;
  }

  // --- state after the calls ---------------------------------------------

  /** The message as it is now: header fields, a blank line, the body. */
  message() {
    const parts = [];
    for (const f of this.fields) parts.push(f.name, Buffer.from(": "), f.value, Buffer.from("\r\n"));
    parts.push(Buffer.from("\r\n"), this.bodyBytes);
    return Buffer.concat(parts);
  }

  /** The body as it is now. */
  body() { return this.bodyBytes; }

  /** The values (UTF-8 decoded) of every field called name, case-insensitively. */
  headerValues(name) {
    const n = name.toLowerCase();
    return this.fields.filter((f) => f.name.toString("latin1").toLowerCase() === n).map((f) => f.value.toString("utf8"));
  }

  /** Every tag (session and transaction), values UTF-8 decoded. */
  tags() {
    const out = {};
    for (const [k, v] of this.sessionTags) out[k] = v.toString("utf8");
    for (const [k, v] of this.txTags) out[k] = v.toString("utf8");
    return out;
  }

  /** The envelope recipients, as strings. */
  recipients() { return this.rcpts.map((r) => r.toString("utf8")); }

  /** The current guest memory size in bytes, to check that memory stays flat. */
  memoryBytes() { return this.instance ? this.instance.exports.memory.buffer.byteLength : 0; }

  // --- the call itself -----------------------------------------------------

  /** Calls the hook of `phase` as the gateway does; a plugin error rolls back and drops the instance. */
  call(phase) {
    if (this.instance === null) this.instantiate();
    const name = `sluice_on_${phase}`;
    const fn = this.instance.exports[name];
    if (typeof fn !== "function" || (this.mask & (1 << PHASES.indexOf(phase))) === 0) {
      return { called: false, verdict: Verdict.Continue, reply: null, error: null };
    }
    const saved = this.snapshot();
    this.phase = phase;
    this.reply = null;
    this.authRan = 0; // auth_check results last one call
    this.scanLast = null; // so do scan results
    try {
      const v = fn();
      if (v < 0 || v > 5) throw new AbiMisuse(`${name} returned ${v}, which is not a verdict`);
      if (this.reply !== null && (v === Verdict.Reject || v === Verdict.Tempfail)) {
        const cls = Math.floor(this.reply.code / 100);
        if ((v === Verdict.Reject) !== (cls === 5)) throw new AbiMisuse(`verdict ${v} with a ${cls}xx reply`);
      }
      if (phase === "data") checkBody(this.bodyBytes);
      let reply = null;
      if (v === Verdict.Reject || v === Verdict.Tempfail) reply = this.reply ? this.reply.text : DEFAULT_REPLY[v];
      if (v === Verdict.Quarantine && this.reply) reply = this.reply.text;
      return { called: true, verdict: v, reply, error: null };
    } catch (e) {
      this.restore(saved);
      this.instance = null; // a failed instance never serves another call
      return { called: true, verdict: null, reply: null, error: e instanceof Error ? e.message : String(e) };
    } finally {
      this.phase = "idle";
    }
  }

  snapshot() {
    return {
      sessionTags: new Map(this.sessionTags), txTags: new Map(this.txTags),
      mailFrom: this.mailFrom, rcpts: [...this.rcpts],
      fields: this.fields.map((f) => ({ ...f })), body: this.bodyBytes,
    };
  }

  restore(s) {
    this.sessionTags = s.sessionTags;
    this.txTags = s.txTags;
    this.mailFrom = s.mailFrom;
    this.rcpts = s.rcpts;
    this.fields = s.fields;
    this.bodyBytes = s.body;
  }

  // --- the imports -----------------------------------------------------------

  imports() {
    const mem = () => this.instance.exports.memory.buffer;
    const read = (ptr, len) => {
      ptr >>>= 0;
      len >>>= 0;
      if (ptr + len > mem().byteLength) throw new AbiMisuse(`(${ptr}, ${len}) lies outside memory`);
      return Buffer.from(new Uint8Array(mem(), ptr, len)); // a copy
    };
    const give = (value, buf, cap) => { // the (buf, cap) protocol
      if (value === null || value === undefined) return NOT_FOUND;
      if (value.length <= cap) {
        buf >>>= 0;
        if (buf + value.length > mem().byteLength) throw new AbiMisuse(`(${buf}, ${cap}) lies outside memory`);
        new Uint8Array(mem(), buf, value.length).set(value);
      }
      return value.length;
    };
    const inData = () => this.phase === "data";
    const kvKey = (fn, key) => {
      if (key.length < 1 || key.length > 256) throw new AbiMisuse(`${fn}: key length ${key.length} is outside 1-256 bytes`);
      return key.toString("latin1");
    };
    const mustBe = (fn, ...phases) => {
      if (!phases.includes(this.phase)) throw new AbiMisuse(`${fn} is not allowed in phase ${this.phase}`);
    };
    const infoAvailable = {
      "helo": ["helo", "mail", "rcpt", "data"],
      "mail.from": ["mail", "rcpt", "data"], "mail.params": ["mail", "rcpt", "data"],
      "rcpt": ["rcpt"], "rcpt.params": ["rcpt"],
    };
    const sluice = {
      log: (level, ptr, len) => {
        this.logs.push({ level, text: read(ptr, Math.min(len, 4096)).toString("utf8") });
      },
      config: (buf, cap) => give(this.configBytes, buf, cap),
      info: (kp, kl, buf, cap) => {
        const key = read(kp, kl).toString("latin1");
        if (this.phase === "configure" && key !== "plugin.name") return NOT_FOUND;
        if (key === "phase") return give(Buffer.from(this.phase), buf, cap);
        const when = infoAvailable[key];
        if (when && !when.includes(this.phase)) return NOT_FOUND;
        const v = this.info.get(key);
        return give(v === undefined ? null : Buffer.from(v, "utf8"), buf, cap);
      },
      rcpt_count: () => (this.phase === "configure" ? 0 : this.rcpts.length),
      rcpt_get: (i, buf, cap) => (this.phase === "configure" ? NOT_FOUND : give(this.rcpts[i] ?? null, buf, cap)),
      tag_get: (kp, kl, buf, cap) => {
        const k = read(kp, kl).toString("latin1");
        return give(this.txTags.get(k) ?? this.sessionTags.get(k) ?? null, buf, cap);
      },
      tag_set: (kp, kl, vp, vl) => {
        mustBe("tag_set", ...PHASES);
        const key = read(kp, kl);
        const value = read(vp, vl);
        checkTag(key, value);
        const k = key.toString("latin1");
        (this.phase === "connect" || this.phase === "helo" ? this.sessionTags : this.txTags).set(k, value);
        return 0;
      },
      header_count: () => (inData() ? this.fields.length : NOT_FOUND),
      header_name: (i, buf, cap) => (inData() ? give(this.fields[i]?.name ?? null, buf, cap) : NOT_FOUND),
      header_value: (i, buf, cap) => (inData() ? give(this.fields[i]?.value ?? null, buf, cap) : NOT_FOUND),
      header_find: (np, nl, nth) => {
        if (!inData()) return NOT_FOUND;
        const n = read(np, nl).toString("latin1").toLowerCase();
        for (let i = 0; i < this.fields.length; i++) {
          if (this.fields[i].name.toString("latin1").toLowerCase() === n && nth-- === 0) return i;
        }
        return NOT_FOUND;
      },
      header_add: (np, nl, vp, vl) => sluice.header_insert(this.fields.length, np, nl, vp, vl),
      header_insert: (i, np, nl, vp, vl) => {
        mustBe("header_insert", "data");
        const name = read(np, nl);
        const value = read(vp, vl);
        checkHeaderName(name);
        checkHeaderValue(name, value);
        if (i < 0 || i > this.fields.length) return NOT_FOUND;
        this.fields.splice(i, 0, { name, value: foldHeaderValue(name, value) });
        return 0;
      },
      header_change: (i, vp, vl) => {
        mustBe("header_change", "data");
        const value = read(vp, vl);
        if (i < 0 || i >= this.fields.length) return NOT_FOUND;
        checkHeaderValue(this.fields[i].name, value);
        this.fields[i] = { name: this.fields[i].name, value: foldHeaderValue(this.fields[i].name, value) };
        return 0;
      },
      header_delete: (i) => {
        mustBe("header_delete", "data");
        if (i < 0 || i >= this.fields.length) return NOT_FOUND;
        this.fields.splice(i, 1);
        return 0;
      },
      body_size: () => (inData() ? this.bodyBytes.length : NOT_FOUND),
      body_read: (off, buf, cap) => {
        if (!inData() || off < 0 || off > this.bodyBytes.length) return NOT_FOUND;
        const chunk = this.bodyBytes.subarray(off, off + Math.min(cap, this.bodyBytes.length - off));
        give(chunk, buf, cap);
        return chunk.length;
      },
      body_replace: (ptr, len) => {
        mustBe("body_replace", "data");
        this.bodyBytes = read(ptr, len);
        return 0;
      },
      body_append: (ptr, len) => {
        mustBe("body_append", "data");
        this.bodyBytes = Buffer.concat([this.bodyBytes, read(ptr, len)]);
        return 0;
      },
      mail_set: (ptr, len) => {
        mustBe("mail_set", "mail", "data");
        const a = read(ptr, len);
        checkAddress(a, true);
        this.mailFrom = a;
        return 0;
      },
      rcpt_add: (ptr, len) => {
        mustBe("rcpt_add", "data");
        const a = read(ptr, len);
        checkAddress(a, false);
        if (!this.rcpts.some((r) => r.equals(a))) this.rcpts.push(a);
        return 0;
      },
      rcpt_remove: (ptr, len) => {
        mustBe("rcpt_remove", "data");
        const a = read(ptr, len).toString("latin1").toLowerCase();
        const i = this.rcpts.findIndex((r) => r.toString("latin1").toLowerCase() === a);
        if (i < 0) return NOT_FOUND;
        if (this.rcpts.length === 1) throw new AbiMisuse("rcpt_remove would remove every recipient; return discard instead");
        this.rcpts.splice(i, 1);
        return 0;
      },
      kv_get: (kp, kl, buf, cap) => {
        const k = kvKey("kv_get", read(kp, kl));
        if (this.kvDown) return TEMPERROR;
        return give(this.kvLive(k)?.value ?? null, buf, cap);
      },
      kv_set: (kp, kl, vp, vl, ttl) => {
        const k = kvKey("kv_set", read(kp, kl));
        const value = read(vp, vl);
        if (ttl < 0) throw new AbiMisuse(`kv_set: negative ttl_ms ${ttl}`);
        if (value.length > 65536) throw new AbiMisuse(`kv_set: value of ${value.length} bytes is above the limit of 65536`);
        if (this.kvDown) return TEMPERROR;
        const old = this.kvLive(k);
        if (!this.kvFits(kvCost(k, value) - (old ? kvCost(k, old.value) : 0))) return QUOTA;
        this.kv.set(k, { value, expires: ttl > 0 ? this.clockMs + ttl : null });
        return 0;
      },
      kv_incr: (kp, kl, delta, ttl) => {
        const k = kvKey("kv_incr", read(kp, kl));
        if (ttl < 0) throw new AbiMisuse(`kv_incr: negative ttl_ms ${ttl}`);
        if (this.kvDown) return TEMPERROR;
        let e = this.kvLive(k);
        if (!e) {
          if (!this.kvFits(kvCost(k, Buffer.alloc(0)))) return QUOTA;
          e = { value: Buffer.alloc(0), expires: ttl > 0 ? this.clockMs + ttl : null };
          this.kv.set(k, e);
        }
        const text = e.value.toString("latin1");
        let n = (/^[+-]?\d+$/.test(text) ? BigInt(text) : 0n) + BigInt(delta);
        n = n > INT64_MAX ? INT64_MAX : n < INT64_MIN ? INT64_MIN : n;
        e.value = Buffer.from(n.toString());
        return Number(n > 2147483647n ? 2147483647n : n < -2147483648n ? -2147483648n : n);
      },
      kv_delete: (kp, kl) => {
        const k = kvKey("kv_delete", read(kp, kl));
        if (this.kvDown) return TEMPERROR;
        if (!this.kvLive(k)) return NOT_FOUND;
        this.kv.delete(k);
        return 0;
      },
      dns_lookup: (qp, ql, np, nl, buf, cap) => {
        const q = read(qp, ql).toString("latin1").toUpperCase();
        if (!QTYPES.includes(q)) throw new AbiMisuse(`dns_lookup: unsupported query type ${JSON.stringify(q)}`);
        if (nl > 255) return NOT_FOUND;
        const a = this.dns.get(dnsKey(q, read(np, nl).toString("latin1")));
        if (a === TEMPERROR) return TEMPERROR;
        if (!a || a.length === 0) return NOT_FOUND;
        return give(Buffer.from(a.join("\n"), "utf8"), buf, cap);
      },
      auth_check: (checks, buf, cap) => {
        if (checks === 0 || (checks & ~7) !== 0) throw new AbiMisuse(`auth_check: invalid checks ${checks}`);
        const at = PHASES.indexOf(this.phase);
        if (at < PHASES.indexOf("mail") || ((checks & ~1) !== 0 && this.phase !== "data")) return NOT_FOUND;
        this.authRan = checks & 4 ? 7 : checks;
        return give(this.authJSON(this.authRan), buf, cap);
      },
      auth_value: (kp, kl, buf, cap) => {
        const k = read(kp, kl).toString("utf8");
        const bit = { spf: 1, dkim: 2, dmarc: 4 }[k.split(".")[0]] ?? 0;
        const v = this.auth.get(k);
        if ((this.authRan & bit) === 0 || v === undefined) return NOT_FOUND;
        return give(Buffer.from(v, "utf8"), buf, cap);
      },
      scan: (np, nl, buf, cap) => {
        const name = read(np, nl).toString("utf8");
        const r = this.scans.get(name);
        if (r === undefined) throw new AbiMisuse(`scan: scanner ${JSON.stringify(name)} is not granted to this plugin`);
        this.scanLast = null;
        if (this.phase !== "data") return NOT_FOUND;
        this.scanLast = r;
        if (!(r instanceof Map)) return TEMPERROR;
        return give(Buffer.from(JSON.stringify(Object.fromEntries(r)), "utf8"), buf, cap);
      },
      scan_value: (kp, kl, buf, cap) => {
        const k = read(kp, kl).toString("utf8");
        const r = this.scanLast;
        if (r === null) return NOT_FOUND;
        const v = r instanceof Map ? r.get(k) : k === "error" ? r.error : undefined;
        if (v === undefined) return NOT_FOUND;
        return give(Buffer.from(v, "utf8"), buf, cap);
      },
      dkim_sign: (np, nl, op, ol, buf, cap) => {
        mustBe("dkim_sign", "data");
        const name = read(np, nl).toString("latin1");
        const key = this.dkimKeys.find((k) => k.name === name);
        if (!key) throw new AbiMisuse(`dkim_sign: key ${JSON.stringify(name)} is not granted to this plugin`);
        let opts = {};
        if (ol > 0) {
          try { opts = JSON.parse(read(op, ol).toString("utf8")); } catch { throw new AbiMisuse("dkim_sign: options are not JSON"); }
          if (opts === null || typeof opts !== "object" || Array.isArray(opts)) throw new AbiMisuse("dkim_sign: options are not a JSON object");
          for (const m of Object.keys(opts)) {
            if (!["headers", "canonicalization", "expiration"].includes(m)) throw new AbiMisuse(`dkim_sign: unknown option ${JSON.stringify(m)}`);
          }
        }
        const froms = this.fields.filter((f) => f.name.toString("latin1").toLowerCase() === "from").length;
        let why = null;
        if (froms === 0) why = "the message has no From field";
        else if (froms > 1) why = "the message has more than one From field";
        else if (opts.headers && !opts.headers.some((h) => String(h).toLowerCase() === "from")) why = "headers does not include From";
        if (why !== null) {
          const b = Buffer.from(why);
          give(b.subarray(0, Math.min(b.length, cap)), buf, cap);
          return REFUSED;
        }
        const value = `v=1; a=${key.algorithm}; c=relaxed/relaxed; d=${key.domain}; s=${key.selector}; h=From; bh=mock; b=mock`;
        this.fields.unshift({ name: Buffer.from("DKIM-Signature"), value: Buffer.from(value) });
        return 0;
      },
      set_reply: (code, ep, el, tp, tl) => {
        mustBe("set_reply", ...PHASES);
        const enh = read(ep, el);
        const text = read(tp, tl);
        checkReply(code, enh, text);
        const e = enh.length ? enh.toString("latin1") : `${Math.floor(code / 100)}.0.0`;
        this.reply = { code, text: `${code} ${e} ${text.toString("latin1")}` };
        return 0;
      },
    };
    const env = {
      // AssemblyScript's abort: UTF-16 strings whose byte length sits in the 4 bytes before the pointer.
      abort: (msg, file, line, col) => {
        const str = (p) => {
          if (p === 0) return "?";
          const len = new DataView(mem()).getUint32(p - 4, true);
          return Buffer.from(new Uint8Array(mem(), p, len)).toString("utf16le");
        };
        throw new AbiMisuse(`plugin aborted: ${str(msg)} (${str(file)}:${line}:${col})`);
      },
    };
    return { sluice, env };
  }
}

/** FNV-1a 32-bit hash of bytes, as 8 lowercase hex digits (the probe's hash). */
export function fnv1a(...parts) {
  let h = 2166136261;
  for (const p of parts) {
    for (const c of toBytesRaw(p)) h = Math.imul(h ^ c, 16777619) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function toBytesRaw(p) {
  return typeof p === "string" ? Buffer.from(p, "utf8") : p;
}

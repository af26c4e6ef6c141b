// The benchmark program of examples/bench.rs, and the events publisher and subscriber of
// benches/peers/EVENTS.md, for Autobahn|JS on Node.js.
//
//     npm ci        # once, in this directory (installs exactly package-lock.json)
//     node bench.js --role callee|caller|publisher|subscriber --url URL --realm REALM
//         --user U --password P --serializer json|msgpack|cbor
//         [--calls N] [--big-calls M] [--threads T] [--duration S]
//         [--observe LABEL:PID[+PID...]]... [--latencies FILE] [--ping-interval S]
//         [--phase NAME:KIND[:RATE]]... [--quit]
//
// callee and caller: the same phases, measurements and JSON line as examples/bench.rs and
// swampyer_bench.py, with "impl": "js-autobahn". publisher and subscriber: as EVENTS.md says.
// Only Node's standard library and the packages of package.json are used.
//
// What differs, and why:
//
// - JavaScript is single-threaded. The "threaded" phase is T concurrent call loops (async
//   functions, each awaiting its call before making the next) sharing the one connection for
//   S seconds: T calls outstanding at once, as with T threads, but all of the client's work is
//   done on one thread. The JSON keys keep their names ("threads", "threaded_calls_per_s").
//
// - Autobahn|JS 22.11.1, the newest release that runs on Node 20 (26.x wants Node 22's
//   global WebSocket), speaks WebSocket through the `ws` package (ws://URL; the serializer is
//   the WebSocket subprotocol wamp.2.json, wamp.2.msgpack or wamp.2.cbor). Its `rawsocket`
//   transport runs on Node, over TCP (tcpip://HOST:PORT) and unix sockets (unix:///PATH), but
//   speaks JSON only: RawSocket with msgpack or cbor exits with status 2 and says so. TLS
//   (wss://, tcpips://) is not set up here.
//
// - --ping-interval S sets the WebSocket transport's autoping (a PING after S seconds without
//   a message from the router); 0 turns it off; without the flag, Autobahn|JS's default
//   (10 s). Its RawSocket transport sends no pings at all.
//
// - Promises are native (use_es6_promises), not when.js, which Autobahn|JS would otherwise
//   use when it is installed (it is one of its optional dependencies).
//
// - Calls and publications return at once; the message is serialized (the CBOR serializer is
//   asynchronous) and written when the event loop turns. The publisher therefore yields to the
//   event loop (setImmediate) after each unacknowledged publication, so that it is on the
//   socket before the next one, and when the socket's user-space buffer is full (Node's
//   writableNeedDrain) it waits for 'drain', as a blocking write waits for room in the
//   socket: without that, a flood would only pile messages up in memory. Its publish_*
//   figures of the flood and paced phases time exactly that: the publish() call, the turn of
//   the event loop, and any wait for the socket. To find the socket, net.connect is wrapped
//   (below) to remember the socket that Autobahn|JS opens; nothing else is changed.
//
// - Event latency clock: CLOCK_REALTIME in integer nanoseconds, read as CLOCK_MONOTONIC
//   (process.hrtime.bigint(), nanoseconds) plus the offset between the two clocks, measured
//   once at start: Date.now() (CLOCK_REALTIME, floored to the millisecond) is read in a tight
//   loop until it steps to the next millisecond, and the monotonic reading at that edge
//   (bracketed to a fraction of a microsecond) is that millisecond. Checked against Python's
//   time.time_ns() - time.monotonic_ns(): within 0.1 µs. The kernel slews both clocks alike,
//   so the offset holds until the wall clock is stepped. (performance.timeOrigin +
//   performance.now() was off by 0.6 to 5 ms on Node 20 here: not used.)
//
// - SENT_NS is an integer above 2^53. With JSON it is written as a number whose digits are
//   an integer (a double: a multiple of 256 ns); with CBOR as a BigInt, which node-cbor writes
//   as a tag-2 bignum (an integer in CBOR's data model; the router decodes it as one); with
//   MessagePack, msgpack5 cannot write an integer above 2^53 at all and writes a float64 of
//   the same value. The subscriber takes any of these; where a double arrives its latency is
//   exact to 256 ns.
//
// CPU is read from /proc as swampyer_bench.py and bench_support read it: the sum of
// /proc/PID/task/*/schedstat (every thread: Node's main thread, V8's and libuv's), with
// utime + stime of /proc/PID/stat when threads that exited make that clearly larger.

"use strict";

const fs = require("fs");
const net = require("net");
const { once } = require("events");

// Remember the socket Autobahn|JS connects with, for the publisher's back-pressure (see above):
// ws and the rawsocket transport both call net.connect, looked up on the module at each call.
let lastSocket = null;
for (const name of ["connect", "createConnection"]) {
    const original = net[name];
    net[name] = function (...args) {
        const socket = original.apply(this, args);
        lastSocket = socket;
        return socket;
    };
}

const autobahn = require("autobahn");

const PROCEDURE = "com.izaber.wamp.bench.echo";
const TOPIC = "com.izaber.wamp.bench.events";
const WARMUP_CALLS = 200;
const SMALL = "0123456789abcdef".repeat(4); // 64 bytes
const BIG_BYTES = 1 << 20;
const IMPL = "js-autobahn";
const NS_PER_TICK = 10_000_000; // CLK_TCK is 100 for /proc, whatever the kernel's HZ
// setInterval's longest delay (2^31 - 1 ms) is 24.8 days: "no autoping" is an interval of
// 20 days, which no benchmark reaches
const NO_PING_S = 20 * 86400;

const USAGE =
    "usage: node bench.js --role callee|caller|publisher|subscriber --url URL --realm REALM " +
    "--user U --password P --serializer json|msgpack|cbor [--calls N] [--big-calls M] " +
    "[--threads T] [--duration S] [--observe LABEL:PID[+PID...]]... [--latencies FILE] " +
    "[--ping-interval S] [--phase NAME:KIND[:RATE]]... [--quit]";

function fail(message, status = 1) {
    process.stderr.write("bench.js: " + message + "\n");
    process.exit(status);
}

// --- the command line ------------------------------------------------------------------------

function parseArgs(argv) {
    const args = {
        calls: 3000,
        bigCalls: 30,
        threads: 8,
        duration: 5,
        observe: [],
        phases: [],
        latencies: null,
        pingInterval: null,
        quit: false,
    };
    const number = (flag, text, integer) => {
        const x = Number(text);
        if (text === "" || !Number.isFinite(x) || x < 0 || (integer && !Number.isInteger(x))) {
            fail(`${flag}: not a ${integer ? "count" : "number of seconds"}: ${JSON.stringify(text)}`, 2);
        }
        return x;
    };
    for (let i = 0; i < argv.length; i++) {
        let flag = argv[i];
        let inline = null;
        if (flag === "-h" || flag === "--help") {
            console.log(USAGE);
            process.exit(0);
        }
        const eq = flag.indexOf("=");
        if (flag.startsWith("--") && eq > 0) {
            inline = flag.slice(eq + 1);
            flag = flag.slice(0, eq);
        }
        const value = () => {
            if (inline !== null) return inline;
            if (i + 1 >= argv.length) fail(`${flag} needs a value\n${USAGE}`, 2);
            return argv[++i];
        };
        switch (flag) {
            case "--role": args.role = value(); break;
            case "--url": args.url = value(); break;
            case "--realm": args.realm = value(); break;
            case "--user": args.user = value(); break;
            case "--password": args.password = value(); break;
            case "--serializer": args.serializer = value(); break;
            case "--calls": args.calls = number(flag, value(), true); break;
            case "--big-calls": args.bigCalls = number(flag, value(), true); break;
            case "--threads": args.threads = number(flag, value(), true); break;
            case "--duration": args.duration = number(flag, value(), false); break;
            case "--latencies": args.latencies = value(); break;
            case "--ping-interval": args.pingInterval = number(flag, value(), false); break;
            case "--quit": args.quit = true; break;
            case "--observe": {
                const spec = value();
                const sep = spec.indexOf(":");
                if (sep < 0) fail(`--observe wants LABEL:PID[+PID...], not ${JSON.stringify(spec)}`, 2);
                const pids = spec.slice(sep + 1).split("+");
                if (pids.some((p) => !/^\d+$/.test(p))) fail(`--observe: not a pid in ${JSON.stringify(spec)}`, 2);
                args.observe.push([spec.slice(0, sep), pids]);
                break;
            }
            case "--phase": {
                const spec = value();
                const [name, kind, rate, ...rest] = spec.split(":");
                if (!name || !["flood", "acked", "paced"].includes(kind) || rest.length) {
                    fail(`--phase wants NAME:flood|acked|paced[:RATE], not ${JSON.stringify(spec)}`, 2);
                }
                const r = rate === undefined ? null : Number(rate);
                if (kind === "paced" ? !(r > 0 && Number.isFinite(r)) : rate !== undefined) {
                    fail(`--phase ${spec}: a paced phase needs a RATE > 0, and only a paced phase takes one`, 2);
                }
                args.phases.push({ name, kind, rate: r });
                break;
            }
            default:
                fail(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`, 2);
        }
    }
    for (const flag of ["role", "url", "realm", "user", "password", "serializer"]) {
        if (args[flag] === undefined) fail(`--${flag} is required\n${USAGE}`, 2);
    }
    if (!["callee", "caller", "publisher", "subscriber"].includes(args.role)) {
        fail(`--role must be callee, caller, publisher or subscriber, not ${JSON.stringify(args.role)}`, 2);
    }
    if (!["json", "msgpack", "cbor"].includes(args.serializer)) {
        fail(`--serializer must be json, msgpack or cbor, not ${JSON.stringify(args.serializer)}`, 2);
    }
    if (args.calls < 1) fail("--calls must be at least 1", 2);
    if (args.role === "publisher" && args.phases.length === 0) fail("a publisher needs at least one --phase", 2);
    return args;
}

// --- connecting --------------------------------------------------------------------------------

function transportName(url) {
    const scheme = url.split("://", 1)[0];
    return (
        {
            ws: "websocket",
            wss: "websocket-tls",
            tcpip: "rawsocket",
            tcpips: "rawsocket-tls",
            unix: "rawsocket-unix",
        }[scheme] || "unknown"
    );
}

function serializerObject(name) {
    const s = autobahn.serializer;
    const klass = { json: s.JSONSerializer, msgpack: s.MsgpackSerializer, cbor: s.CBORSerializer }[name];
    if (!klass) fail(`Autobahn|JS has no ${name} serializer here (is its package installed? run npm ci)`, 2);
    return new klass();
}

/** Autobahn|JS's transport options for the URL. */
function transport(args) {
    const url = args.url;
    if (url.startsWith("ws://")) {
        const options = { type: "websocket", url, serializers: [serializerObject(args.serializer)] };
        if (args.pingInterval !== null) {
            options.autoping_interval = args.pingInterval > 0 ? args.pingInterval : NO_PING_S;
        }
        return options;
    }
    if (url.startsWith("tcpip://") || url.startsWith("unix://")) {
        if (args.serializer !== "json") {
            fail(
                `Autobahn|JS's RawSocket transport speaks JSON only, not ${args.serializer} ` +
                    `(${url}): use --serializer json, or a ws:// URL`,
                2
            );
        }
        if (url.startsWith("unix://")) {
            return { type: "rawsocket", path: url.slice("unix://".length) };
        }
        const parsed = new URL(url);
        const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
        return { type: "rawsocket", host, port: Number(parsed.port) };
    }
    fail(`unsupported URL ${JSON.stringify(url)}: ws://, tcpip:// or unix:// (no TLS here)`, 2);
}

/**
 * Joins; resolves to {session, close}. close() leaves and resolves when the connection is
 * closed (or after 5 s). A connection that closes otherwise ends the process with status 1.
 */
function connect(args) {
    return new Promise((resolve, reject) => {
        let closing = null;
        let joined = false;
        const connection = new autobahn.Connection({
            transports: [transport(args)],
            realm: args.realm,
            authmethods: ["ticket"],
            authid: args.user,
            onchallenge: (session, method) => {
                if (method !== "ticket") throw new Error(`unexpected authentication method ${method}`);
                return args.password;
            },
            max_retries: 0,
            retry_if_unreachable: false,
            use_es6_promises: true,
        });
        connection.onopen = (session) => {
            joined = true;
            resolve({
                session,
                close: () =>
                    new Promise((done) => {
                        closing = done;
                        setTimeout(done, 5000).unref();
                        try {
                            connection.close();
                        } catch (e) {
                            done();
                        }
                    }),
            });
        };
        connection.onclose = (reason, details) => {
            if (closing) {
                closing();
            } else if (!joined) {
                reject(new Error(`could not join ${args.realm} at ${args.url} as ${args.user}: ${reason} ${JSON.stringify(details)}`));
            } else {
                fail(`the connection was lost (${reason}: ${JSON.stringify(details)})`);
            }
            return true; // no reconnecting
        };
        connection.open();
    });
}

// --- measuring (as in bench_support and swampyer_bench.py) ---------------------------------

function readText(path) {
    try {
        return fs.readFileSync(path, "latin1");
    } catch (e) {
        return null;
    }
}

function statFields(path) {
    const text = readText(path);
    if (text === null) return null;
    return text.slice(text.lastIndexOf(")") + 1).trim().split(/\s+/);
}

/** {sched ns and runs of the threads alive now, utime+stime ticks of every thread}. */
function readCpu(pids) {
    let sched = 0;
    let runs = 0;
    let ticks = 0;
    for (const pid of pids) {
        let tasks = [];
        try {
            tasks = fs.readdirSync(`/proc/${pid}/task`);
        } catch (e) {
            // gone
        }
        for (const tid of tasks) {
            const text = readText(`/proc/${pid}/task/${tid}/schedstat`);
            if (text === null) continue;
            const f = text.split(/\s+/);
            sched += Number(f[0]) || 0;
            runs += Number(f[2]) || 0;
        }
        const fields = statFields(`/proc/${pid}/stat`);
        if (fields) ticks += (Number(fields[11]) || 0) + (Number(fields[12]) || 0);
    }
    return { sched, runs, ticks };
}

function cpuSince(now, earlier) {
    const sched = Math.max(0, now.sched - earlier.sched);
    const ticks = Math.max(0, now.ticks - earlier.ticks) * NS_PER_TICK;
    // threads that exited during the phase are missing from the schedstat sum
    return ticks > sched + Math.floor(sched / 10) + 2 * NS_PER_TICK ? ticks : sched;
}

/** [busy, steal, idle] clock ticks of the whole machine (the cpu line of /proc/stat). */
function machineCpu() {
    const line = (readText("/proc/stat") || "cpu").split("\n")[0];
    const t = line.trim().split(/\s+/).slice(1).map(Number).concat(Array(10).fill(0));
    return [t[0] + t[1] + t[2] + t[5] + t[6], t[7], t[3] + t[4]];
}

function statusKib(key) {
    const text = readText("/proc/self/status") || "";
    for (const line of text.split("\n")) {
        if (line.startsWith(key + ":")) return Number(line.split(/\s+/)[1]) || 0;
    }
    return 0;
}

/** Monotonic seconds, as a float. */
function clockS() {
    return Number(process.hrtime.bigint()) / 1e9;
}

class Meter {
    constructor(self, observe) {
        this.labels = [self].concat(observe.map(([label]) => label));
        this.pids = [["self"]].concat(observe.map(([, pids]) => pids));
    }

    read() {
        return { at: clockS(), cpu: this.pids.map(readCpu), machine: machineCpu() };
    }

    phase(name, start, calls, quiet = false) {
        const end = this.read();
        const cpu = {};
        const runs = {};
        this.labels.forEach((label, i) => {
            cpu[label] = cpuSince(end.cpu[i], start.cpu[i]);
            runs[label] = Math.max(0, end.cpu[i].runs - start.cpu[i].runs);
        });
        const machine = end.machine.map((e, i) => ((e - start.machine[i]) * NS_PER_TICK) / 1e6);
        const phase = {
            name,
            wall_s: end.at - start.at,
            calls,
            cpu_ns: cpu,
            runs,
            machine_ms: { busy: machine[0], steal: machine[1], idle: machine[2] },
        };
        if (!quiet) {
            const parts = Object.entries(cpu).map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)} ms CPU`);
            process.stderr.write(`${name}: ${calls} calls in ${phase.wall_s.toFixed(3)} s, ${parts.join(", ")}\n`);
        }
        return phase;
    }
}

function round(x, digits) {
    const scale = 10 ** digits;
    return Math.round(x * scale) / scale;
}

function phaseJson(phase) {
    const cpu = {};
    for (const [k, v] of Object.entries(phase.cpu_ns)) cpu[k] = round(v / 1e6, 3);
    return {
        wall_s: round(phase.wall_s, 4),
        calls: phase.calls,
        cpu_ms: cpu,
        runs: phase.runs,
        machine_ms: phase.machine_ms,
    };
}

/** Nearest-rank percentile of sorted numbers (ns), in µs. */
function percentileUs(sorted, p) {
    const rank = Math.ceil((p / 100) * sorted.length);
    return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] / 1e3;
}

/** JSON with BigInt values written as the integers they are. */
function jsonLine(obj) {
    const text = JSON.stringify(obj, (key, value) => (typeof value === "bigint" ? `@@big:${value}@@` : value));
    return text.replace(/"@@big:(-?\d+)@@"/g, "$1");
}

function sortKeys(value) {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value && typeof value === "object") {
        const out = {};
        for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
        return out;
    }
    return value;
}

// --- the callee and the caller ---------------------------------------------------------------

async function callee(args) {
    const { session } = await connect(args);
    await session.register(PROCEDURE, (callArgs) => (callArgs.length ? callArgs[0] : null));
    process.stdout.write("READY\n");
    // serves until killed; the open connection keeps the process alive
}

async function echo(session, payload) {
    const reply = await session.call(PROCEDURE, [payload]);
    if (reply !== payload) {
        const what = typeof reply === "string" ? `a ${reply.length}-character string` : typeof reply;
        throw new Error(`the echo came back different (${what} instead of a ${payload.length}-byte string)`);
    }
}

async function caller(args) {
    const meter = new Meter("caller", args.observe);
    const { session, close } = await connect(args);
    const connectedRssKib = statusKib("VmRSS");

    let start = meter.read();
    for (let i = 0; i < WARMUP_CALLS; i++) await echo(session, SMALL);
    const warmup = meter.phase("warmup", start, WARMUP_CALLS);
    const idleRssKib = statusKib("VmRSS");

    const latencies = new Float64Array(args.calls);
    start = meter.read();
    for (let i = 0; i < args.calls; i++) {
        const t = process.hrtime.bigint();
        await echo(session, SMALL);
        latencies[i] = Number(process.hrtime.bigint() - t);
    }
    const seq = meter.phase("sequential", start, args.calls);
    if (args.latencies) {
        fs.writeFileSync(args.latencies, Array.from(latencies, (ns) => `${ns}\n`).join(""));
    }
    latencies.sort();

    let big = "x".repeat(BIG_BYTES);
    start = meter.read();
    for (let i = 0; i < args.bigCalls; i++) await echo(session, big);
    const bigPhase = meter.phase("big", start, args.bigCalls);
    big = null;

    let threaded = null;
    if (args.threads > 0 && args.duration > 0) {
        let count = 0;
        start = meter.read();
        const deadline = start.at + args.duration;
        const loop = async () => {
            while (clockS() < deadline) {
                await echo(session, SMALL);
                count += 1;
            }
        };
        // every loop runs to the end of its last call; the first error is reported after
        const outcomes = await Promise.allSettled(Array.from({ length: args.threads }, loop));
        threaded = meter.phase("threaded", start, count);
        const failed = outcomes.find((o) => o.status === "rejected");
        if (failed) throw failed.reason;
    }

    // VmHWM is kept up to date lazily by the kernel: never report less than was seen
    const maxRssKib = Math.max(statusKib("VmHWM"), statusKib("VmRSS"), idleRssKib);
    await close();

    const phases = {};
    for (const p of [warmup, seq, bigPhase, threaded]) if (p) phases[p.name] = phaseJson(p);
    const report = {
        impl: IMPL,
        serializer: args.serializer,
        transport: transportName(args.url),
        p50_us: round(percentileUs(latencies, 50), 1),
        p90_us: round(percentileUs(latencies, 90), 1),
        p99_us: round(percentileUs(latencies, 99), 1),
        max_us: round(percentileUs(latencies, 100), 1),
        big_mean_ms: args.bigCalls ? round((bigPhase.wall_s * 1e3) / args.bigCalls, 3) : null,
        seq_calls_per_s: round(args.calls / seq.wall_s, 1),
        threaded_calls_per_s: threaded ? round(threaded.calls / threaded.wall_s, 1) : null,
        cpu_us_per_call: round(seq.cpu_ns.caller / 1e3 / args.calls, 2),
        max_rss_kib: maxRssKib,
        idle_rss_kib: idleRssKib,
        connected_rss_kib: connectedRssKib,
        calls: args.calls,
        big_calls: args.bigCalls,
        threads: args.threads,
        duration_s: args.duration,
        node: process.versions.node,
        autobahn: autobahn.version,
        phases,
    };
    process.stdout.write(JSON.stringify(sortKeys(report)) + "\n");
}

// --- events (EVENTS.md) --------------------------------------------------------------------------

// CLOCK_REALTIME - CLOCK_MONOTONIC in ns (see the header), measured when first needed: of five
// millisecond edges of Date.now(), the one bracketed most tightly by process.hrtime.bigint().
let realtimeOffsetNs = null;

function calibrateRealtime() {
    let best = null;
    for (let k = 0; k < 5; k++) {
        const ms = Date.now();
        let before = process.hrtime.bigint();
        for (;;) {
            const now = Date.now();
            const after = process.hrtime.bigint();
            if (now !== ms) {
                // the step happened between `before` and `after`
                const width = after - before;
                const offset = BigInt(now) * 1000000n - (before + width / 2n);
                if (best === null || width < best.width) best = { width, offset };
                break;
            }
            before = after;
        }
    }
    return best.offset;
}

function realtimeNs() {
    if (realtimeOffsetNs === null) realtimeOffsetNs = calibrateRealtime();
    return process.hrtime.bigint() + realtimeOffsetNs;
}

/** SENT_NS as the serializer can carry it (see the header). */
function sentValue(serializer, ns) {
    return serializer === "cbor" ? ns : Number(ns);
}

function asBigInt(x) {
    if (typeof x === "bigint") return x;
    if (typeof x === "number" && Number.isFinite(x)) return BigInt(Math.round(x));
    return null;
}

function yieldToLoop() {
    return new Promise((resolve) => setImmediate(resolve));
}

function sleepS(s) {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, s * 1e3)));
}

/** Waits while the socket's user-space buffer is over its high-water mark. */
async function socketRoom(socket) {
    if (socket && socket.writableNeedDrain && !socket.destroyed) await once(socket, "drain");
}

async function publisher(args) {
    const meter = new Meter("publisher", args.observe);
    const { session, close } = await connect(args);
    const socket = lastSocket;
    if (!socket) fail("found no socket of the connection to wait for room in (net.connect was not called?)");
    realtimeNs(); // calibrates the clock before the first phase
    const acked = { acknowledge: true };
    const serializer = args.serializer;
    const out = {};

    for (const { name, kind, rate } of args.phases) {
        await session.publish(TOPIC, ["start", name], null, acked);
        const times = []; // ns each publish took
        let sent = 0;
        const start = meter.read();
        const first = process.hrtime.bigint();
        let last = first;
        const end = first + BigInt(Math.round(args.duration * 1e9));

        const unacked = async () => {
            const t = process.hrtime.bigint();
            session.publish(TOPIC, ["event", name, sent, sentValue(serializer, realtimeNs()), SMALL]);
            sent += 1;
            await yieldToLoop();
            await socketRoom(socket);
            last = process.hrtime.bigint();
            times.push(Number(last - t));
        };

        if (kind === "flood") {
            while (process.hrtime.bigint() < end) await unacked();
        } else if (kind === "acked") {
            while (process.hrtime.bigint() < end) {
                const t = process.hrtime.bigint();
                await session.publish(TOPIC, ["event", name, sent, sentValue(serializer, realtimeNs()), SMALL], null, acked);
                sent += 1;
                last = process.hrtime.bigint();
                times.push(Number(last - t));
            }
        } else {
            // event i is due at first + i / rate; every due event goes out, then a sleep
            const due = (i) => first + BigInt(Math.round((i * 1e9) / rate));
            for (;;) {
                const now = process.hrtime.bigint();
                if (now >= end) break;
                while (due(sent) <= process.hrtime.bigint() && due(sent) < end) await unacked();
                if (due(sent) >= end) break;
                const wait = Number(due(sent) - process.hrtime.bigint()) / 1e9;
                if (wait > 0) await sleepS(wait);
            }
        }
        const phase = meter.phase(name, start, sent, true);
        const maxRssKib = Math.max(statusKib("VmHWM"), statusKib("VmRSS"));
        await session.publish(TOPIC, ["end", name, sent], null, acked);

        const seconds = Number(last - first) / 1e9;
        times.sort((a, b) => a - b);
        const perEvent = (ns) => (sent ? round(ns / 1e3 / sent, 2) : null);
        const observed = {};
        for (const [label] of args.observe) observed[label] = { cpu_us_per_event: perEvent(phase.cpu_ns[label]) };
        out[name] = {
            kind,
            rate,
            sent,
            seconds: round(seconds, 4),
            events_per_s: seconds > 0 ? round(sent / seconds, 1) : null,
            publish_p50_us: sent ? round(percentileUs(times, 50), 1) : null,
            publish_p99_us: sent ? round(percentileUs(times, 99), 1) : null,
            publish_max_ms: sent ? round(times[times.length - 1] / 1e6, 3) : null,
            cpu_us_per_event: perEvent(phase.cpu_ns.publisher),
            observed,
            max_rss_kib: maxRssKib,
        };
        process.stderr.write(
            `${name} (${kind}): ${sent} events in ${seconds.toFixed(3)} s, ` +
                `publisher ${(phase.cpu_ns.publisher / 1e6).toFixed(1)} ms CPU\n`
        );
    }
    if (args.quit) await session.publish(TOPIC, ["quit"], null, acked);
    await close();
    const report = { impl: IMPL, role: "publisher", serializer, transport: transportName(args.url), phases: out };
    process.stdout.write(JSON.stringify(report) + "\n");
}

async function subscriber(args) {
    const meter = new Meter("subscriber", []);
    const { session, close } = await connect(args);
    const transport = transportName(args.url);
    let phase = null; // {name, start (meter reading), latencies, received, first, last}
    let stray = 0;

    const endPhase = (name, sent) => {
        const p = phase && phase.name === name ? phase : null;
        if (!p) {
            process.stderr.write(`bench.js: end marker of phase ${name}, which did not start here\n`);
            return;
        }
        const cpu = meter.phase(name, p.start, p.received, true).cpu_ns.subscriber;
        const lat = p.latencies.slice(0, p.received).sort();
        const span = p.received >= 2 ? Number(p.last - p.first) : 0;
        const pct = (q) => (p.received ? round(percentileUs(lat, q), 1) : null);
        const line = {
            impl: IMPL,
            role: "subscriber",
            serializer: args.serializer,
            transport,
            phase: name,
            sent,
            received: p.received,
            stray,
            first_recv_ns: p.first === null ? null : p.first,
            last_recv_ns: p.last === null ? null : p.last,
            events_per_s: span > 0 ? round(((p.received - 1) * 1e9) / span, 1) : null,
            lat_p50_us: pct(50),
            lat_p90_us: pct(90),
            lat_p99_us: pct(99),
            lat_max_us: pct(100),
            cpu_us_per_event: p.received ? round(cpu / 1e3 / p.received, 2) : null,
            max_rss_kib: Math.max(statusKib("VmHWM"), statusKib("VmRSS")),
        };
        process.stdout.write(jsonLine(line) + "\n");
        phase = null;
        stray = 0;
    };

    const grow = (p) => {
        const bigger = new Float64Array(p.latencies.length * 2);
        bigger.set(p.latencies);
        p.latencies = bigger;
    };

    let quitting = false;
    realtimeNs(); // calibrates the clock before the first event
    await session.subscribe(TOPIC, (a) => {
        switch (a[0]) {
            case "event": {
                const now = realtimeNs();
                if (!phase || a[1] !== phase.name) {
                    stray += 1;
                    return;
                }
                const sentNs = asBigInt(a[3]);
                if (phase.received === phase.latencies.length) grow(phase);
                phase.latencies[phase.received++] = sentNs === null ? NaN : Number(now - sentNs);
                if (phase.first === null) phase.first = now;
                phase.last = now;
                return;
            }
            case "start":
                phase = { name: a[1], start: meter.read(), latencies: new Float64Array(1 << 16), received: 0, first: null, last: null };
                return;
            case "end":
                endPhase(a[1], a[2]);
                return;
            case "quit":
                if (quitting) return;
                quitting = true;
                close().then(() => process.exit(0));
                return;
            default:
                process.stderr.write(`bench.js: unexpected event ${JSON.stringify(a[0])}\n`);
        }
    });
    process.stdout.write("READY\n");
}

// --- main ---------------------------------------------------------------------------------------

process.on("unhandledRejection", (e) => fail(String((e && e.stack) || e)));

const args = parseArgs(process.argv.slice(2));
const role = { callee, caller, publisher, subscriber }[args.role];
role(args).then(
    () => {
        // a caller or publisher is done: its connection is closed, nothing should be left
        if (args.role === "caller" || args.role === "publisher") process.exit(0);
    },
    (e) => fail(String((e && e.stack) || e))
);

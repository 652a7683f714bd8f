// Kafka wire format (https://kafka.apache.org/protocol, "Record Batch" in the message
// format docs): request headers v0-v2, varints, and record batches v2. The batches were
// encoded by a scratch encoder written from the spec (CRC-32C included) and read back
// with kafkajs; the request headers are built here field by field.
import {
  API_METADATA, KafkaReader, MAX_MESSAGE_SIZE, RecordSetReader, RecordSetSummary, RecordVisitor, RequestHeader,
  apiName, errorName, errorRetriable, isFlexible, readRequestHeader, responseHeaderHasTags,
} from "../kafka";
import { bytes, asciiCodes as ascii } from "../../assembly/__tests__/support";

function be(v: i64, n: i32): i32[] {
  const out = new Array<i32>(n);
  for (let i = 0; i < n; i++) out[i] = <i32>((v >> (<i64>(8 * (n - 1 - i)))) & 255);
  return out;
}

/**
 * The 61 bytes before the records: baseOffset 5, batchLength, partitionLeaderEpoch 0,
 * magic 2, crc, attributes, lastOffsetDelta, base/max timestamp 1700000000000,
 * producerId -1, producerEpoch -1, baseSequence -1, record count.
 */
function batchHead(batchLength: i32, crc: u32, attributes: i32, lastOffsetDelta: i32, count: i32): i32[] {
  return be(5, 8).concat(be(batchLength, 4)).concat(be(0, 4)).concat([2]).concat(be(crc, 4))
    .concat(be(attributes, 2)).concat(be(lastOffsetDelta, 4)).concat(be(1700000000000, 8)).concat(be(1700000000000, 8))
    .concat(be(-1, 8)).concat(be(-1, 2)).concat(be(-1, 4)).concat(be(count, 4));
}

/**
 * Two records: key "k1", value "hello", header trace=t-1; then a null key, value "x",
 * timestampDelta 1000000 (a 3-byte varlong), offsetDelta 1, headers a=null and
 * big=100 x 'v' (its length 100 a 2-byte zigzag varint, 0xc8 0x01).
 */
function plainBatch(): i32[] {
  const records = [
    0x2e, 0x00, 0x00, 0x00, 0x04, 0x6b, 0x31, 0x0a, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x02, 0x0a, 0x74, 0x72, 0x61, 0x63,
    0x65, 0x06, 0x74, 0x2d, 0x31,
    0xec, 0x01, 0x00, 0x80, 0x89, 0x7a, 0x02, 0x01, 0x02, 0x78, 0x04, 0x02, 0x61, 0x01, 0x06, 0x62, 0x69, 0x67, 0xc8, 0x01,
  ];
  for (let i = 0; i < 100; i++) records.push(0x76);
  return batchHead(193, 0x6468cb2b, 0, 1, 2).concat(records);
}

/** One record (key "gz", value "zipped", header h=v) in a gzip batch (attributes 1). */
function gzipBatch(): i32[] {
  return batchHead(88, 0x09a04ba3, 1, 0, 1).concat([
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x53, 0x61, 0x60, 0x60, 0x60, 0x49, 0xaf, 0xe2, 0xa9,
    0xca, 0x2c, 0x28, 0x48, 0x4d, 0x61, 0x62, 0xca, 0x60, 0x2a, 0x03, 0x00, 0x4e, 0x4b, 0x13, 0xc9, 0x13, 0x00, 0x00, 0x00,
  ]);
}

/** One record, key "t", value "1", in a transactional batch (attributes 0x10). */
function txnBatch(): i32[] {
  return batchHead(58, 0xadbc4e39, 0x10, 0, 1).concat([0x10, 0x00, 0x00, 0x00, 0x02, 0x74, 0x02, 0x31, 0x00]);
}

class Lister extends RecordVisitor {
  parts: string[] = [];
  batches: i32 = 0;

  onBatch(): void {
    this.batches++;
  }

  onRecord(data: Uint8Array, keyStart: i32, keyLen: i32): void {
    this.parts.push("key=" + text(data, keyStart, keyLen));
  }

  onHeader(data: Uint8Array, keyStart: i32, keyLen: i32, valueStart: i32, valueLen: i32): void {
    this.parts.push(text(data, keyStart, keyLen) + "=" + text(data, valueStart, valueLen));
  }
}

function text(data: Uint8Array, start: i32, len: i32): string {
  if (len < 0) return "<null>";
  return String.UTF8.decodeUnsafe(data.dataStart + <usize>start, <usize>len);
}

function readSet(data: i32[], reader: RecordSetReader = new RecordSetReader()): RecordSetSummary {
  const s = new RecordSetSummary();
  lister = new Lister();
  reader.read(bytes(data), 0, data.length, lister, s);
  return s;
}

let lister = new Lister();

describe("Kafka request headers", () => {
  it("reads a classic request header (v1) and a null client id", () => {
    // Produce v3, correlation id 7, client id "app", one body byte.
    const data = be(14, 4).concat(be(0, 2)).concat(be(3, 2)).concat(be(7, 4)).concat(be(3, 2)).concat(ascii("app")).concat([0xaa]);
    const h = new RequestHeader();
    expect<bool>(readRequestHeader(bytes(data), 0, h)).toBe(true);
    expect<i32>(h.size).toBe(14);
    expect<i32>(h.apiKey).toBe(0);
    expect<i32>(h.apiVersion).toBe(3);
    expect<i32>(h.correlationId).toBe(7);
    expect<string | null>(h.clientId).toBe("app");
    expect<i32>(h.bodyStart).toBe(17);
    expect<i32>(h.messageEnd).toBe(18);

    // The same at an offset, client id null (length -1).
    const nul = [9, 9].concat(be(11, 4)).concat(be(1, 2)).concat(be(4, 2)).concat(be(-2, 4)).concat(be(-1, 2)).concat([0xbb]);
    expect<bool>(readRequestHeader(bytes(nul), 2, h)).toBe(true);
    expect<i32>(h.apiKey).toBe(1);
    expect<i32>(h.correlationId).toBe(-2);
    expect<string | null>(h.clientId).toBeNull();
    expect<i32>(h.bodyStart).toBe(16);
    expect<i32>(h.messageEnd).toBe(17);
  });

  it("reads header v2 (tagged fields) for flexible versions and v0 for ControlledShutdown v0", () => {
    // Metadata v9 is flexible: client id (still a classic string), then one tagged field (tag 0, 2 bytes).
    const data = be(17, 4).concat(be(API_METADATA, 2)).concat(be(9, 2)).concat(be(0x01020304, 4)).concat(be(1, 2))
      .concat(ascii("c")).concat([0x01, 0x00, 0x02, 0xaa, 0xbb]).concat([0x01]);
    const h = new RequestHeader();
    expect<bool>(readRequestHeader(bytes(data), 0, h)).toBe(true);
    expect<i32>(h.correlationId).toBe(0x01020304);
    expect<string | null>(h.clientId).toBe("c");
    expect<i32>(h.bodyStart).toBe(20);
    expect<i32>(h.messageEnd).toBe(21);
    // Tagged fields cut off: not a header.
    expect<bool>(readRequestHeader(bytes(data.slice(0, 18)), 0, h)).toBe(false);

    // ControlledShutdown v0: no client id; the body (broker id) follows the correlation id.
    const cs = be(12, 4).concat(be(7, 2)).concat(be(0, 2)).concat(be(42, 4)).concat(be(1, 4));
    expect<bool>(readRequestHeader(bytes(cs), 0, h)).toBe(true);
    expect<i32>(h.correlationId).toBe(42);
    expect<string | null>(h.clientId).toBeNull();
    expect<i32>(h.bodyStart).toBe(12);
  });

  it("refuses what cannot be a request header", () => {
    const h = new RequestHeader();
    const good = be(14, 4).concat(be(0, 2)).concat(be(3, 2)).concat(be(7, 4)).concat(be(3, 2)).concat(ascii("app")).concat([0xaa]);
    // Every cut inside the header.
    for (let n = 0; n < 17; n++) expect<bool>(readRequestHeader(bytes(good.slice(0, n)), 0, h)).toBe(false);
    // A control byte in the client id.
    const ctl = good.slice(0);
    ctl[15] = 0x01;
    expect<bool>(readRequestHeader(bytes(ctl), 0, h)).toBe(false);
    // Unknown api key, version far beyond any defined.
    const key = good.slice(0);
    key[4] = 0x03;
    key[5] = 0xe8;
    expect<bool>(readRequestHeader(bytes(key), 0, h)).toBe(false);
    const ver = good.slice(0);
    ver[6] = 0x00;
    ver[7] = 0x64;
    expect<bool>(readRequestHeader(bytes(ver), 0, h)).toBe(false);
    // Sizes too small, negative, beyond socket.request.max.bytes.
    const sizes: i32[] = [5, -1, MAX_MESSAGE_SIZE + 1];
    for (let i = 0; i < sizes.length; i++) {
      const bad = be(sizes[i], 4).concat(good.slice(4));
      expect<bool>(readRequestHeader(bytes(bad), 0, h)).toBe(false);
    }
    // Client id length -2, and longer than the data.
    const neg = good.slice(0);
    neg[12] = 0xff;
    neg[13] = 0xfe;
    expect<bool>(readRequestHeader(bytes(neg), 0, h)).toBe(false);
    const long = good.slice(0);
    long[13] = 0x40;
    expect<bool>(readRequestHeader(bytes(long), 0, h)).toBe(false);
  });

  it("knows api names, flexible versions and error codes", () => {
    expect<string>(apiName(0)).toBe("Produce");
    expect<string>(apiName(18)).toBe("ApiVersions");
    expect<string>(apiName(-1)).toBe("");
    expect<string>(apiName(100000)).toBe("");
    // Produce 9+, Fetch 12+, Metadata 9+, ApiVersions 3+; SaslHandshake never.
    expect<bool>(isFlexible(0, 8)).toBe(false);
    expect<bool>(isFlexible(0, 9)).toBe(true);
    expect<bool>(isFlexible(1, 11)).toBe(false);
    expect<bool>(isFlexible(1, 12)).toBe(true);
    expect<bool>(isFlexible(3, 9)).toBe(true);
    expect<bool>(isFlexible(18, 3)).toBe(true);
    expect<bool>(isFlexible(17, 1)).toBe(false);
    expect<bool>(isFlexible(-1, 9)).toBe(false);
    // ApiVersions responses keep header v0 even when flexible.
    expect<bool>(responseHeaderHasTags(18, 3)).toBe(false);
    expect<bool>(responseHeaderHasTags(3, 9)).toBe(true);
    expect<string>(errorName(-1)).toBe("UNKNOWN_SERVER_ERROR");
    expect<string>(errorName(0)).toBe("NONE");
    expect<string>(errorName(3)).toBe("UNKNOWN_TOPIC_OR_PARTITION");
    expect<string>(errorName(6)).toBe("NOT_LEADER_OR_FOLLOWER");
    expect<string>(errorName(-2)).toBe("");
    expect<bool>(errorRetriable(6)).toBe(true);
    expect<bool>(errorRetriable(7)).toBe(true);
    expect<bool>(errorRetriable(1)).toBe(false);
    expect<bool>(errorRetriable(0)).toBe(false);
    expect<bool>(errorRetriable(-1)).toBe(false);
  });
});

describe("KafkaReader", () => {
  it("reads zigzag and unsigned varints, and marks overlong or cut ones short", () => {
    const r = new KafkaReader(bytes([0x00, 0x01, 0x02, 0x03, 0xac, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect<i32>(r.zigzag32()).toBe(0);
    expect<i32>(r.zigzag32()).toBe(-1);
    expect<i32>(r.zigzag32()).toBe(1);
    expect<i32>(r.zigzag32()).toBe(-2);
    expect<i32>(r.zigzag32()).toBe(150);
    expect<i32>(r.zigzag32()).toBe(i32.MAX_VALUE);
    expect<i32>(r.zigzag32()).toBe(i32.MIN_VALUE);
    expect<bool>(r.short).toBe(false);

    const over = new KafkaReader(bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    over.uvarint32();
    expect<bool>(over.short).toBe(true);
    const cut = new KafkaReader(bytes([0x80]));
    expect<i32>(cut.zigzag32()).toBe(0);
    expect<bool>(cut.short).toBe(true);
    // varlong: -1 and 2^40.
    const l = new KafkaReader(bytes([0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]));
    expect<i64>(l.zigzag64()).toBe(-1);
    expect<i64>(l.zigzag64()).toBe(1099511627776);
  });

  it("reads classic and compact strings, tagged fields and uuids", () => {
    const classic = new KafkaReader(bytes([0x00, 0x02, 0x68, 0x69, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05, 0x61]));
    expect<string | null>(classic.string()).toBe("hi");
    expect<string | null>(classic.string()).toBeNull();
    expect<string | null>(classic.string()).toBe("");
    expect<bool>(classic.short).toBe(false);
    // Length 5 with one byte there.
    expect<string | null>(classic.string()).toBeNull();
    expect<bool>(classic.short).toBe(true);

    // Compact: length + 1 as an unsigned varint; 0 is null. Tagged fields: count, then tag, size, bytes.
    const compact = new KafkaReader(bytes([0x04, 0x61, 0x62, 0x63, 0x00, 0x01, 0x02, 0x00, 0x01, 0xaa, 0x05, 0x00, 0x04,
      0x78, 0x79, 0x7a]));
    compact.flexible = true;
    expect<string | null>(compact.string()).toBe("abc");
    expect<string | null>(compact.string()).toBeNull();
    expect<string | null>(compact.string()).toBe("");
    compact.tags();
    expect<i32>(compact.pos).toBe(12);
    expect<string | null>(compact.string(2)).toBe("xy"); // cut to maxLen, the rest skipped
    expect<i32>(compact.remaining).toBe(0);
    expect<bool>(compact.short).toBe(false);

    const u = new KafkaReader(bytes([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]));
    expect<string>(u.uuid()).toBe("12345678-9abc-def0-0123-456789abcdef");
    expect<string>(u.uuid()).toBe("");
    expect<bool>(u.short).toBe(true);
  });
});

describe("RecordSetReader (record batch v2)", () => {
  it("reads keys and headers of every record, null keys and values, long varints", () => {
    const s = readSet(plainBatch());
    expect<i32>(s.batches).toBe(1);
    expect<i32>(s.declared).toBe(2);
    expect<i32>(s.decoded).toBe(2);
    expect<u32>(s.codecs).toBe(1);
    expect<string>(s.compressionNames()).toBe("");
    expect<bool>(s.cutOff || s.bad || s.legacy || s.transactional || s.control).toBe(false);
    expect<i32>(lister.batches).toBe(1);
    expect<string>(lister.parts.join("|")).toBe("key=k1|trace=t-1|key=<null>|a=<null>|big=" + "v".repeat(100));
  });

  it("decompresses gzip batches, within the inflate bound", () => {
    const s = readSet(gzipBatch());
    expect<i32>(s.decoded).toBe(1);
    expect<string>(s.compressionNames()).toBe("gzip");
    expect<bool>(s.cutOff || s.bad).toBe(false);
    expect<string>(lister.parts.join("|")).toBe("key=gz|h=v");

    // The record takes 19 bytes decompressed: a 10-byte bound leaves it unread, and says so.
    const small = readSet(gzipBatch(), new RecordSetReader(10));
    expect<i32>(small.decoded).toBe(0);
    expect<bool>(small.cutOff).toBe(true);
    expect<bool>(lister.parts.includes("h=v")).toBe(false);
  });

  it("reads batches back to back, flags transactions, skips control batches and undecoded codecs", () => {
    const s = readSet(plainBatch().concat(txnBatch()));
    expect<i32>(s.batches).toBe(2);
    expect<i32>(s.declared).toBe(3);
    expect<i32>(s.decoded).toBe(3);
    expect<bool>(s.transactional).toBe(true);
    expect<string>(lister.parts[lister.parts.length - 1]).toBe("key=t");

    // A COMMIT marker in a transactional control batch (attributes 0x30): no records for the visitor.
    const control = batchHead(66, 0xd5f39bf9, 0x30, 0, 1).concat([0x20, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01,
      0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00]);
    const c = readSet(control);
    expect<bool>(c.control).toBe(true);
    expect<i32>(c.decoded).toBe(0);
    expect<bool>(c.cutOff || c.bad).toBe(false);
    expect<i32>(lister.parts.length).toBe(0);

    // Snappy (attributes 2): counted, not decoded, not guessed at.
    const snappy = batchHead(58, 0x4b936a4a, 0x02, 0, 1).concat([0x10, 0x00, 0x00, 0x00, 0x02, 0x73, 0x02, 0x31, 0x00]);
    const n = readSet(snappy);
    expect<i32>(n.notDecoded).toBe(1);
    expect<i32>(n.decoded).toBe(0);
    expect<string>(n.compressionNames()).toBe("snappy");
    expect<i32>(lister.parts.length).toBe(0);
  });

  it("reads a legacy (magic 1) message", () => {
    // offset 9, size 26, CRC-32, magic 1, attributes 0, timestamp, key "lk", value "lv".
    const msg = [0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0x1a, 0x70, 0x2f, 0xfb, 0x6a, 0x01, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf,
      0xe5, 0x68, 0x00, 0x00, 0x00, 0x00, 0x02, 0x6c, 0x6b, 0x00, 0x00, 0x00, 0x02, 0x6c, 0x76];
    const s = readSet(msg);
    expect<bool>(s.legacy).toBe(true);
    expect<i32>(s.declared).toBe(1);
    expect<i32>(s.decoded).toBe(1);
    expect<string>(lister.parts.join("|")).toBe("key=lk");
    const cut = new RecordSetSummary();
    new RecordSetReader().read(bytes(msg.slice(0, 33)), 0, msg.length, new Lister(), cut);
    expect<bool>(cut.cutOff).toBe(true);
    expect<i32>(cut.decoded).toBe(0);
  });

  it("reads what lies before a cut and says it was cut, at every cut", () => {
    const whole = plainBatch();
    const data = bytes(whole);
    const reader = new RecordSetReader();
    for (let n = 0; n < whole.length; n++) {
      const s = new RecordSetSummary();
      const l = new Lister();
      reader.read(data.subarray(0, n), 0, whole.length, l, s);
      expect<bool>(s.cutOff).toBe(true);
      expect<bool>(s.bad).toBe(false);
      // The first record (24 bytes after the 61-byte header) is whole from byte 85 on.
      expect<i32>(s.decoded).toBe(n >= 85 ? 1 : 0);
      expect<i32>(s.batches).toBe(n >= 61 ? 1 : 0);
    }
  });

  it("a batch length near 2^31 reads nothing past the payload", () => {
    // A record declaring about 1000 bytes with 4 present; then 50,000,000 bytes with 3.
    const cases: i32[][] = [
      batchHead(0x7ffffffa, 0, 0, 0, 1).concat([0xfe, 0x0f, 0x00, 0x00, 0x00, 0x10]),
      batchHead(0x7ffffffa, 0, 0, 0, 2).concat([0x80, 0xc2, 0xd7, 0x2f, 0x00, 0x00, 0x00]),
    ];
    for (let i = 0; i < cases.length; i++) {
      const s = readSet(cases[i]);
      expect<i32>(s.decoded).toBe(0);
      expect<bool>(s.cutOff || s.bad).toBe(true);
      expect<i32>(lister.parts.length).toBe(0);
    }
  });

  it("a key or value length below -1 (null) is bad", () => {
    // zigzag 5 = -3
    const key = batchHead(58, 0, 0, 0, 1).concat([0x10, 0x00, 0x00, 0x00, 0x05, 0x74, 0x02, 0x31, 0x00]);
    const value = batchHead(58, 0, 0, 0, 1).concat([0x10, 0x00, 0x00, 0x00, 0x02, 0x74, 0x05, 0x31, 0x00]);
    for (let i = 0; i < 2; i++) {
      const s = readSet(i == 0 ? key : value);
      expect<bool>(s.bad).toBe(true);
      expect<i32>(s.decoded).toBe(0);
    }
  });

  it("flags malformed batches and records as bad without trapping", () => {
    const rec: i32[] = [0x10, 0x00, 0x00, 0x00, 0x02, 0x74, 0x02, 0x31, 0x00];
    // batchLength 0, and below the header's own 49 bytes.
    expect<bool>(readSet(be(0, 8).concat(be(0, 4)).concat(be(0, 4)).concat([2])).bad).toBe(true);
    expect<bool>(readSet(be(0, 8).concat(be(20, 4)).concat(be(0, 4)).concat([2]).concat(be(0, 19))).bad).toBe(true);
    // Magic 3 does not exist.
    const m = txnBatch();
    m[16] = 3;
    expect<bool>(readSet(m).bad).toBe(true);
    // A record of length 0.
    const zero = batchHead(58, 0, 0, 0, 1).concat([0x00, 0x00, 0x00, 0x00, 0x02, 0x74, 0x02, 0x31, 0x00]);
    const z = readSet(zero);
    expect<bool>(z.bad).toBe(true);
    expect<i32>(z.decoded).toBe(0);
    // A record whose key runs past its own length (3 bytes: attributes, timestamp, offset).
    const over = batchHead(58, 0, 0, 0, 2).concat([0x06, 0x00, 0x00, 0x00]).concat(rec.slice(0, 5));
    const o = readSet(over);
    expect<bool>(o.bad).toBe(true);
    expect<i32>(o.decoded).toBe(0);
    // Random bytes after a valid batch: whatever the verdict, no trap and nothing more decoded than declared.
    let seed: u32 = 7;
    for (let round = 0; round < 40; round++) {
      const junk = txnBatch();
      for (let i = 0; i < 40; i++) {
        seed = seed * 1103515245 + 12345;
        junk.push(<i32>((seed >> 16) & 255));
      }
      const s = readSet(junk);
      expect<bool>(s.decoded <= s.declared).toBe(true);
    }
  });
});

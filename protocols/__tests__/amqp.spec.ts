// AMQP 0-9-1: frames (type, channel, size, payload, 0xCE), class/method ids, basic
// content headers, and field tables with RabbitMQ's type letters (its 0-9-1 errata).
import {
  AmqpContentHeader, AmqpFrame, AMQP_FROM_BOTH, AMQP_FROM_CLIENT, AMQP_FROM_SERVER, AMQP_KIND_ONEWAY, AMQP_KIND_REPLY,
  AMQP_KIND_REQUEST, AMQP_MAX_RENDER_DEPTH, FIELD_ARRAY, FIELD_BOOL, FIELD_BYTES, FIELD_DECIMAL, FIELD_F32, FIELD_F64,
  FIELD_I16, FIELD_I32, FIELD_I64, FIELD_I8, FIELD_LONGSTR, FIELD_TABLE, FIELD_TIMESTAMP, FIELD_U16, FIELD_U32, FIELD_U8,
  FIELD_VOID, PROP_APP_ID, PROP_CONTENT_TYPE, PROP_CORRELATION_ID, PROP_DELIVERY_MODE, PROP_HEADERS, PROP_MESSAGE_ID,
  PROP_TIMESTAMP, amqpMethodFrom, amqpMethodIndex, amqpMethodKind, amqpMethodName, amqpPropertyName, amqpTableAt,
  amqpTableText, isAmqpFrameType, isAmqpProtocolHeader, isAnyAmqpProtocolHeader,
} from "../amqp";
import { bytes, asciiCodes as ascii } from "../../assembly/__tests__/support";

function u32be(v: u32): i32[] {
  return [<i32>(v >>> 24), <i32>((v >>> 16) & 255), <i32>((v >>> 8) & 255), <i32>(v & 255)];
}

/** field-value-pair: shortstr name, type octet, value. */
function field(name: string, tag: string, value: i32[]): i32[] {
  return [name.length].concat(ascii(name)).concat([tag.charCodeAt(0)]).concat(value);
}

/** A long-string-like value: u32 length, then the bytes. */
function sized(content: i32[]): i32[] {
  return u32be(<u32>content.length).concat(content);
}

/** field-table: u32 byte length, then the pairs. */
function table(pairs: i32[][]): i32[] {
  let body = new Array<i32>(0);
  for (let i = 0; i < pairs.length; i++) body = body.concat(pairs[i]);
  return sized(body);
}

describe("AMQP frames and methods", () => {
  it("recognises the protocol header", () => {
    const h = bytes(ascii("AMQP").concat([0, 0, 9, 1]));
    expect<bool>(isAmqpProtocolHeader(h, 0)).toBe(true);
    expect<bool>(isAnyAmqpProtocolHeader(h, 0)).toBe(true);
    // 0-10's header: any version is still AMQP, but not 0-9-1.
    const other = bytes(ascii("AMQP").concat([1, 1, 0, 10]));
    expect<bool>(isAmqpProtocolHeader(other, 0)).toBe(false);
    expect<bool>(isAnyAmqpProtocolHeader(other, 0)).toBe(true);
    expect<bool>(isAnyAmqpProtocolHeader(bytes(ascii("HTTP/1.1")), 0)).toBe(false);
    // Seven bytes, or an offset leaving fewer than eight: not a header, no trap.
    expect<bool>(isAmqpProtocolHeader(bytes(ascii("AMQP").concat([0, 0, 9])), 0)).toBe(false);
    expect<bool>(isAnyAmqpProtocolHeader(h, 1)).toBe(false);
    expect<bool>(isAnyAmqpProtocolHeader(h, -1)).toBe(false);
    expect<bool>(isAmqpFrameType(8)).toBe(true);
    expect<bool>(isAmqpFrameType(4)).toBe(false);
  });

  it("reads frame heads and tells complete frames from cut ones", () => {
    // Method frame on channel 1: Basic.Publish (60, 40) with a 4-byte argument stub.
    const frame = [1, 0, 1, 0, 0, 0, 8, 0, 60, 0, 40, 0, 0, 0, 0, 0xce];
    const f = new AmqpFrame();
    expect<bool>(f.read(bytes(frame), 0)).toBe(true);
    expect<u32>(f.type).toBe(1);
    expect<u32>(f.channel).toBe(1);
    expect<u32>(f.size).toBe(8);
    expect<i32>(f.start).toBe(7);
    expect<bool>(f.complete).toBe(true);
    expect<bool>(f.endOk).toBe(true);
    expect<i64>(f.totalLen).toBe(16);

    // Heartbeat after it, read at its offset.
    const two = bytes(frame.concat([8, 0, 0, 0, 0, 0, 0, 0xce]));
    expect<bool>(f.read(two, 16)).toBe(true);
    expect<u32>(f.type).toBe(8);
    expect<bool>(f.endOk).toBe(true);

    // Wrong end octet, missing end octet, short head.
    const wrongEnd = frame.slice(0);
    wrongEnd[15] = 0xcd;
    expect<bool>(f.read(bytes(wrongEnd), 0)).toBe(true);
    expect<bool>(f.complete).toBe(true);
    expect<bool>(f.endOk).toBe(false);
    expect<bool>(f.read(bytes(frame.slice(0, 15)), 0)).toBe(true);
    expect<bool>(f.complete).toBe(false);
    expect<bool>(f.endOk).toBe(false);
    expect<bool>(f.read(bytes(frame.slice(0, 6)), 0)).toBe(false);

    // A garbage size near 2^32 does not wrap.
    expect<bool>(f.read(bytes([3, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0xce]), 0)).toBe(true);
    expect<u32>(f.size).toBe(0xffffffff);
    expect<bool>(f.complete).toBe(false);
    expect<i64>(f.totalLen).toBe(0x100000007);
  });

  it("names methods and knows who sends them", () => {
    let m = amqpMethodIndex(60, 40);
    expect<string>(amqpMethodName(m)).toBe("Basic.Publish");
    expect<u32>(amqpMethodKind(m)).toBe(AMQP_KIND_ONEWAY);
    expect<u32>(amqpMethodFrom(m)).toBe(AMQP_FROM_CLIENT);
    m = amqpMethodIndex(60, 60);
    expect<string>(amqpMethodName(m)).toBe("Basic.Deliver");
    expect<u32>(amqpMethodFrom(m)).toBe(AMQP_FROM_SERVER);
    m = amqpMethodIndex(10, 10);
    expect<string>(amqpMethodName(m)).toBe("Connection.Start");
    expect<u32>(amqpMethodKind(m)).toBe(AMQP_KIND_REQUEST);
    expect<u32>(amqpMethodFrom(m)).toBe(AMQP_FROM_SERVER);
    m = amqpMethodIndex(50, 11);
    expect<string>(amqpMethodName(m)).toBe("Queue.DeclareOk");
    expect<u32>(amqpMethodKind(m)).toBe(AMQP_KIND_REPLY);
    m = amqpMethodIndex(20, 40);
    expect<string>(amqpMethodName(m)).toBe("Channel.Close");
    expect<u32>(amqpMethodFrom(m)).toBe(AMQP_FROM_BOTH);
    // RabbitMQ's extensions: exchange-to-exchange bindings (unbind-ok is 51), Basic.Nack, confirms.
    expect<string>(amqpMethodName(amqpMethodIndex(40, 51))).toBe("Exchange.UnbindOk");
    expect<string>(amqpMethodName(amqpMethodIndex(60, 120))).toBe("Basic.Nack");
    expect<string>(amqpMethodName(amqpMethodIndex(85, 11))).toBe("Confirm.SelectOk");
    expect<string>(amqpMethodName(amqpMethodIndex(90, 31))).toBe("Tx.RollbackOk");
    // Unknown pairs.
    expect<i32>(amqpMethodIndex(60, 41)).toBe(-1);
    expect<i32>(amqpMethodIndex(40, 41)).toBe(-1);
    expect<i32>(amqpMethodIndex(99, 10)).toBe(-1);
    expect<string>(amqpMethodName(-1)).toBe("");
    expect<u32>(amqpMethodKind(-1)).toBe(0);
    expect<u32>(amqpMethodFrom(1000)).toBe(0);
  });
});

describe("AMQP field tables", () => {
  it("reads every RabbitMQ field type", () => {
    const data = bytes(table([
      field("t", "t", [1]),
      field("b", "b", [0xfe]),
      field("B", "B", [0xfe]),
      field("s", "s", [0xff, 0xfe]),
      field("u", "u", [0xff, 0xfe]),
      field("I", "I", [0xff, 0xff, 0xff, 0xfe]),
      field("i", "i", [0xff, 0xff, 0xff, 0xfe]),
      field("l", "l", [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
      field("f", "f", [0x3f, 0xc0, 0, 0]),
      field("d", "d", [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
      field("D", "D", [2, 0, 0, 0x30, 0x39]),
      field("S", "S", sized(ascii("hello"))),
      field("T", "T", [0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00]),
      field("V", "V", []),
      field("x", "x", sized([0, 1, 0xab])),
    ]));
    const t = amqpTableAt(data, 0, data.length);
    const tags: u32[] = [FIELD_BOOL, FIELD_I8, FIELD_U8, FIELD_I16, FIELD_U16, FIELD_I32, FIELD_U32, FIELD_I64, FIELD_F32,
      FIELD_F64, FIELD_DECIMAL, FIELD_LONGSTR, FIELD_TIMESTAMP, FIELD_VOID, FIELD_BYTES];
    const texts: string[] = ["true", "-2", "254", "-2", "65534", "-2", "4294967294", "-2", "1.5", "3.141592653589793",
      "123.45", "hello", "1700000000", "", "0x0001ab"];
    const ints: i64[] = [1, -2, 254, -2, 65534, -2, 4294967294, -2, 0, 0, 0, 0, 1700000000, 0, 0];
    let n = 0;
    while (t.next()) {
      expect<string>(t.key()).toBe(String.fromCharCode(<i32>tags[n]));
      expect<u32>(t.tag).toBe(tags[n]);
      expect<string>(t.text()).toBe(texts[n]);
      expect<i64>(t.int()).toBe(ints[n]);
      n++;
    }
    expect<i32>(n).toBe(15);
    expect<bool>(t.cut).toBe(false);
    expect<bool>(t.bad).toBe(false);
  });

  it("looks keys up without allocating and gives ids only for id-like values", () => {
    const data = bytes(table([
      field("message-id", "S", sized(ascii("m-1"))),
      field("seq", "l", [0, 0, 0, 0, 0, 0, 1, 0]),
      field("ratio", "d", [0x3f, 0xe0, 0, 0, 0, 0, 0, 0]),
      field("raw", "x", sized(ascii("abc"))),
    ]));
    const t = amqpTableAt(data, 0, data.length);
    expect<bool>(t.next()).toBe(true);
    expect<bool>(t.keyIs("message-id")).toBe(true);
    expect<bool>(t.keyIs("message-iD")).toBe(false);
    expect<bool>(t.isRawText()).toBe(true);
    expect<string | null>(t.idText()).toBe("m-1");
    expect<bool>(t.next()).toBe(true);
    expect<string | null>(t.idText()).toBe("256");
    expect<bool>(t.isRawText()).toBe(false);
    expect<bool>(t.next()).toBe(true);
    // A float is no id.
    expect<string | null>(t.idText()).toBeNull();
    expect<string>(t.text()).toBe("0.5");
    expect<bool>(t.next()).toBe(true);
    expect<bool>(t.isRawText()).toBe(true);
    expect<string | null>(t.idText()).toBe("abc");
    expect<bool>(t.next()).toBe(false);
  });

  it("walks nested tables and arrays (arrays carry a byte length) and renders them", () => {
    const inner = table([field("k", "I", [0, 0, 0, 7])]);
    const array = sized([0x62, 0x05].concat([0x53]).concat(sized(ascii("s\"q"))).concat([0x56]));
    const data = bytes(table([field("n", "F", inner), field("a", "A", array)]));
    const t = amqpTableAt(data, 0, data.length);
    expect<bool>(t.next()).toBe(true);
    const nested = t.nested();
    expect<bool>(nested.next()).toBe(true);
    expect<string>(nested.key()).toBe("k");
    expect<i64>(nested.int()).toBe(7);
    expect<bool>(nested.next()).toBe(false);
    expect<bool>(t.next()).toBe(true);
    const items = t.nested();
    expect<bool>(items.next()).toBe(true);
    expect<u32>(items.tag).toBe(FIELD_I8);
    expect<bool>(items.next()).toBe(true);
    expect<u32>(items.tag).toBe(FIELD_LONGSTR);
    expect<bool>(items.next()).toBe(true);
    expect<u32>(items.tag).toBe(FIELD_VOID);
    expect<bool>(items.next()).toBe(false);
    expect<bool>(items.bad || items.cut).toBe(false);
    expect<string>(amqpTableText(data, 0, data.length)).toBe("{\"n\":{\"k\":7},\"a\":[5,\"s\\\"q\",null]}");
    // A scalar has no nested cursor.
    const s = bytes(table([field("x", "I", [0, 0, 0, 1])]));
    const st = amqpTableAt(s, 0, s.length);
    st.next();
    expect<bool>(st.nested().bad).toBe(true);
    expect<u32>(FIELD_TABLE).toBe(0x46);
    expect<u32>(FIELD_ARRAY).toBe(0x41);
  });

  it("hands out whole entries of a cut table and flags the cut", () => {
    const whole = table([field("a", "I", [0, 0, 0, 1]), field("id", "S", sized(ascii("abcdef")))]);
    // Every cut: only whole values come out, the cut is flagged, nothing traps.
    for (let n = 0; n < whole.length; n++) {
      const data = bytes(whole.slice(0, n));
      const t = amqpTableAt(data, 0, data.length);
      let got = 0;
      while (t.next()) got++;
      expect<bool>(t.cut).toBe(true);
      expect<bool>(t.bad).toBe(false);
      // "a" is whole from byte 4 + 7 on.
      expect<i32>(got).toBe(n >= 11 ? 1 : 0);
    }
    const cut = bytes(whole.slice(0, 15));
    expect<string>(amqpTableText(cut, 0, cut.length)).toBe("{\"a\":1,…}");
    // An end before the data's end counts too.
    const full = bytes(whole);
    const t = amqpTableAt(full, 0, 14);
    expect<bool>(t.next()).toBe(true);
    expect<bool>(t.next()).toBe(false);
    expect<bool>(t.cut).toBe(true);
  });

  it("stops at an unknown type letter, and bounds rendering depth", () => {
    // 'Z' is no field type; the spec's 'L' is not one in RabbitMQ's letters either.
    const data = bytes(table([field("a", "t", [0]), field("b", "Z", [0, 0]), field("c", "t", [1])]));
    const t = amqpTableAt(data, 0, data.length);
    expect<bool>(t.next()).toBe(true);
    expect<bool>(t.next()).toBe(false);
    expect<bool>(t.bad).toBe(true);
    expect<bool>(t.next()).toBe(false);
    expect<string>(amqpTableText(data, 0, data.length)).toBe("{\"a\":false,…}");

    // Tables nested 12 deep render down to the limit, then "…".
    let v = table([field("z", "t", [1])]);
    for (let i = 0; i < 11; i++) v = table([field("n", "F", v)]);
    const deep = bytes(v);
    const text = amqpTableText(deep, 0, deep.length);
    let depth = 0;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) == 0x7b) depth++;
    expect<i32>(depth).toBe(AMQP_MAX_RENDER_DEPTH);
    expect<bool>(text.includes("…")).toBe(true);
    expect<bool>(text.includes("true")).toBe(false);
  });
});

describe("AMQP basic content header", () => {
  it("a headers length near 2^31 is cut, not wrapped past the bounds check", () => {
    const flags = PROP_HEADERS | PROP_DELIVERY_MODE;
    const payload = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, <i32>(flags >> 8), <i32>(flags & 255), 0x7f, 0xff, 0xff, 0xf0, 2];
    const h = new AmqpContentHeader(bytes(payload), 0, payload.length);
    expect<bool>(h.next()).toBe(true);
    expect<u32>(h.flag).toBe(PROP_HEADERS);
    expect<bool>(h.cut).toBe(true);
    expect<i32>(h.valueAt + h.valueLen).toBeLessThanOrEqual(payload.length);
    expect<bool>(h.next()).toBe(false);
  });

  it("reads the properties present, in flag order", () => {
    const flags = PROP_CONTENT_TYPE | PROP_HEADERS | PROP_DELIVERY_MODE | PROP_CORRELATION_ID | PROP_TIMESTAMP | PROP_APP_ID;
    const payload = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, <i32>(flags >> 8), <i32>(flags & 255), 10]
      .concat(ascii("text/plain"))
      .concat(table([field("trace", "S", sized(ascii("t-1")))]))
      .concat([2, 3])
      .concat(ascii("c-9"))
      .concat([0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, 2])
      .concat(ascii("me"));
    const h = new AmqpContentHeader(bytes(payload), 0, payload.length);
    expect<u32>(h.classId).toBe(60);
    expect<u64>(h.bodySize).toBe(11);
    expect<u32>(h.flags).toBe(flags);
    expect<bool>(h.next()).toBe(true);
    expect<u32>(h.flag).toBe(PROP_CONTENT_TYPE);
    expect<string>(h.text()).toBe("text/plain");
    expect<bool>(h.next()).toBe(true);
    expect<u32>(h.flag).toBe(PROP_HEADERS);
    const t = h.headers();
    expect<bool>(t.next()).toBe(true);
    expect<bool>(t.keyIs("trace")).toBe(true);
    expect<string>(t.text()).toBe("t-1");
    expect<bool>(h.next()).toBe(true);
    expect<string>(amqpPropertyName(h.flag)).toBe("delivery_mode");
    expect<string>(h.text()).toBe("2");
    expect<bool>(h.next()).toBe(true);
    expect<u32>(h.flag).toBe(PROP_CORRELATION_ID);
    expect<string>(h.text()).toBe("c-9");
    expect<bool>(h.next()).toBe(true);
    expect<u32>(h.flag).toBe(PROP_TIMESTAMP);
    expect<string>(h.text()).toBe("1700000000");
    expect<bool>(h.next()).toBe(true);
    expect<string>(amqpPropertyName(h.flag)).toBe("app_id");
    expect<string>(h.text()).toBe("me");
    expect<bool>(h.next()).toBe(false);
    expect<bool>(h.cut).toBe(false);

    expect<string>(amqpPropertyName(PROP_MESSAGE_ID)).toBe("message_id");
    expect<string>(amqpPropertyName(0)).toBe("");
    expect<string>(amqpPropertyName(PROP_CONTENT_TYPE | PROP_HEADERS)).toBe("");
  });

  it("flags a cut content header and never hands out a value past the end", () => {
    const flags = PROP_CONTENT_TYPE | PROP_MESSAGE_ID;
    const payload = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, <i32>(flags >> 8), <i32>(flags & 255), 4]
      .concat(ascii("json"))
      .concat([5])
      .concat(ascii("id-42"));
    const h = new AmqpContentHeader(bytes([]), 0, 0);
    expect<bool>(h.cut).toBe(true);
    for (let n = 0; n < payload.length; n++) {
      h.read(bytes(payload.slice(0, n)), 0, n);
      let got = 0;
      while (h.next()) {
        expect<i32>(h.valueAt + h.valueLen).toBeLessThanOrEqual(n);
        got++;
      }
      expect<bool>(h.cut).toBe(true);
      expect<i32>(got).toBe(n >= 19 ? 1 : 0);
    }
    h.read(bytes(payload), 0, payload.length);
    expect<bool>(h.next()).toBe(true);
    expect<bool>(h.next()).toBe(true);
    expect<string>(h.text()).toBe("id-42");
    expect<bool>(h.cut).toBe(false);
  });
});

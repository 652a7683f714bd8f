// Attribute and record names, as comma-separated ASCII in a NameList (each made a string
// once, on first use): a string literal is UTF-16 behind a header, three times the bytes
// in the module, which has a size limit (tests/release/module-size.test.ts).
import { NameList } from "../../assembly/index";

export const N_CHANNEL: u16 = 0;
export const N_EXCHANGE: u16 = 1;
export const N_ROUTING_KEY: u16 = 2;
export const N_QUEUE: u16 = 3;
export const N_VHOST: u16 = 4;
export const N_REPLY_CODE: u16 = 5;
export const N_REPLY_TEXT: u16 = 6;
export const N_FAILED_METHOD: u16 = 7;
export const N_BODY_SIZE: u16 = 8;
export const N_VERSION: u16 = 9;
export const N_CHANNEL_MAX: u16 = 10;
export const N_FRAME_MAX: u16 = 11;
export const N_HEARTBEAT: u16 = 12;
export const N_REASON: u16 = 13;
export const N_EXCHANGE_TYPE: u16 = 14;
export const N_DESTINATION: u16 = 15;
export const N_MESSAGE_COUNT: u16 = 16;
export const N_CONSUMER_COUNT: u16 = 17;
export const N_PREFETCH_COUNT: u16 = 18;
export const N_CONSUMER_TAG: u16 = 19;
export const N_DELIVERY_TAG: u16 = 20;
export const N_MULTIPLE: u16 = 21;
export const N_REDELIVERED: u16 = 22;
export const N_HEARTBEAT_FRAME: u16 = 23;
export const N_CONTENT_HEADER: u16 = 24;
export const N_PROTOCOL_HEADER: u16 = 25;

const NAMES = new NameList([
  99, 104, 97, 110, 110, 101, 108, 44, // channel
  101, 120, 99, 104, 97, 110, 103, 101, 44, // exchange
  114, 111, 117, 116, 105, 110, 103, 95, 107, 101, 121, 44, // routing_key
  113, 117, 101, 117, 101, 44, // queue
  118, 104, 111, 115, 116, 44, // vhost
  114, 101, 112, 108, 121, 95, 99, 111, 100, 101, 44, // reply_code
  114, 101, 112, 108, 121, 95, 116, 101, 120, 116, 44, // reply_text
  102, 97, 105, 108, 101, 100, 95, 109, 101, 116, 104, 111, 100, 44, // failed_method
  98, 111, 100, 121, 95, 115, 105, 122, 101, 44, // body_size
  118, 101, 114, 115, 105, 111, 110, 44, // version
  99, 104, 97, 110, 110, 101, 108, 95, 109, 97, 120, 44, // channel_max
  102, 114, 97, 109, 101, 95, 109, 97, 120, 44, // frame_max
  104, 101, 97, 114, 116, 98, 101, 97, 116, 44, // heartbeat
  114, 101, 97, 115, 111, 110, 44, // reason
  101, 120, 99, 104, 97, 110, 103, 101, 95, 116, 121, 112, 101, 44, // exchange_type
  100, 101, 115, 116, 105, 110, 97, 116, 105, 111, 110, 44, // destination
  109, 101, 115, 115, 97, 103, 101, 95, 99, 111, 117, 110, 116, 44, // message_count
  99, 111, 110, 115, 117, 109, 101, 114, 95, 99, 111, 117, 110, 116, 44, // consumer_count
  112, 114, 101, 102, 101, 116, 99, 104, 95, 99, 111, 117, 110, 116, 44, // prefetch_count
  99, 111, 110, 115, 117, 109, 101, 114, 95, 116, 97, 103, 44, // consumer_tag
  100, 101, 108, 105, 118, 101, 114, 121, 95, 116, 97, 103, 44, // delivery_tag
  109, 117, 108, 116, 105, 112, 108, 101, 44, // multiple
  114, 101, 100, 101, 108, 105, 118, 101, 114, 101, 100, 44, // redelivered
  72, 101, 97, 114, 116, 98, 101, 97, 116, 44, // Heartbeat
  67, 111, 110, 116, 101, 110, 116, 45, 72, 101, 97, 100, 101, 114, 44, // Content-Header
  80, 114, 111, 116, 111, 99, 111, 108, 45, 72, 101, 97, 100, 101, 114, // Protocol-Header
], 26);

/** Name N_*. */
export function nameOf(n: i32): string {
  return NAMES.get(n);
}

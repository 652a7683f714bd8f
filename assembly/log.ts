import { wasm_log, LOG_ERROR, LOG_INFO, LOG_WARN } from "./abi";

function write(level: i32, message: string): void {
  const bytes = String.UTF8.encode(message);
  wasm_log(changetype<usize>(bytes), bytes.byteLength, level);
}

/** Messages land in the agent's log as "wasm log: ...". */
export function info(message: string): void {
  write(LOG_INFO, message);
}

export function warn(message: string): void {
  write(LOG_WARN, message);
}

export function error(message: string): void {
  write(LOG_ERROR, message);
}

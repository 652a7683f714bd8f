// A command's main() run in this process, with what it writes to stdout and stderr (both
// streams and console.log/console.error) captured instead of printed.
import { vi } from "vitest";

export interface InProcessRun {
  code: number;
  out: string;
  err: string;
}

export async function inProcess(main: () => Promise<number>): Promise<InProcessRun> {
  let out = "";
  let err = "";
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true)),
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true)),
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (out += `${a.join(" ")}\n`)),
    vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (err += `${a.join(" ")}\n`)),
  ];
  try {
    return { code: await main(), out, err };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

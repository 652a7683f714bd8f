// as-pect: the SDK, its codec library and the plugins' state unit-tested inside Wasm
// (assembly/__tests__/, protocols/__tests__/, plugins/*/tests/*.spec.ts).
// The SDK's host imports are answered here the way a codec test needs them: logs are
// printed, the agent's context and result calls are not available.
export default {
  entries: ["assembly/__tests__/**/*.spec.ts", "protocols/__tests__/**/*.spec.ts", "plugins/*/tests/**/*.spec.ts"],
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const unavailable = (name) => () => {
      throw new Error(`${name} is not available in a codec unit test`);
    };
    const deepflow = { wasm_log: () => {} };
    for (const name of ["vm_read_ctx_base", "vm_read_payload", "vm_read_http_req_info", "vm_read_http_resp_info",
      "vm_read_custom_message_info", "host_read_l7_protocol_info", "host_read_str_result"]) deepflow[name] = unavailable(name);
    return instantiate(binary, createImports({ env: { memory }, deepflow }));
  },
  outputBinary: false,
};
